"""Privacy routing: personal data and secrets in a hop's input keep it on local models.

A prompt that carries a customer's card number or a pasted API key should not
leave the machine. `PrivacyScanner` looks at everything a model call would send
(system prompt, turns, tool results) and names the *kinds* it found; the hop
then only considers models with ``location: local`` in the registry, and fails
with a clear `NoEligibleModel` when none serves it. Records and spans carry the
kinds (``email``, ``payment_card``, ``secret:github_token`` ...), never the
values.

Detectors, each chosen to keep false positives low on ordinary prompts:

* ``email``: an address with a dotted domain;
* ``phone``: numbers Google's libphonenumber (``phonenumbers``) finds *valid*
  for `region` (numbers written with ``+`` and a country code in any region);
* ``payment_card``: 13-19 digits (spaces or dashes allowed) passing the Luhn
  check (``python-stdnum``);
* ``iban``: an IBAN passing its country format and mod-97 check
  (``python-stdnum``);
* ``secret:*``: the token-shape detectors of Yelp's ``detect-secrets`` (AWS,
  GitHub, GitLab, Slack, Stripe, OpenAI, PyPI, npm, JWT, private keys ...)
  plus today's OpenAI/Anthropic/Google/Hugging Face key prefixes. The keyword
  and entropy detectors are left out: they flag hashes and ids in code.

Every pattern is linear in the text, and the whole input is scanned: a secret
at the end of a 200 KB tool result is found too. The libraries are imported
when a scanner is built (``pip install 'graph-dispatch[privacy]'``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from dispatch.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

__all__ = ("KINDS", "PrivacyScanner")

KINDS = ("email", "phone", "payment_card", "iban", "secret")
"""Detector families; `PrivacyScanner(kinds=...)` picks a subset."""

_SECRET_DETECTORS = (
    "AWSKeyDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "JwtTokenDetector",
    "MailchimpDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
"""The ``detect-secrets`` plugins used: token shapes, no keyword or entropy guesses
(its npm detector is left out too: its pattern is quadratic on long lines; the
npm token shape is in `_KEY_PREFIXES`)."""

_KEY_PREFIXES = {
    "openai_api_key": re.compile(
        r"\bsk-(?!ant-)(?:proj-|svcacct-)?[A-Za-z0-9_-]{32,200}"
    ),
    "anthropic_api_key": re.compile(r"\bsk-ant-[A-Za-z0-9_-]{32,200}"),
    "google_api_key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
    "huggingface_token": re.compile(r"\bhf_[A-Za-z0-9]{34}"),
    "npm_token": re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"),
}
"""Key shapes of the providers graph-dispatch itself talks to."""

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}(?![\w-])"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_PHONE_CANDIDATE = re.compile(r"(?<![\w+])\+?\(?\d[\d \t().-]{5,22}\d(?!\w)")
"""Digit runs that may be a phone number; only these reach libphonenumber, whose
own matcher takes seconds on a 200 KB text."""
_MAX_PHONE_CANDIDATES = 200
"""Past this many phone-like digit runs (a dump of numbers) the input counts as
holding phone numbers without checking each: conservative, and bounded in time."""
_SLUG = re.compile(r"[^a-z0-9]+")


class PrivacyScanner:
    """Finds the kinds of personal data and secrets in a model call's input.

    Args:
        kinds: detector families to run (default: all of `KINDS`).
        phone_region: the region (ISO 3166 alpha-2) whose national number
            formats count; numbers with ``+`` and a country code count anywhere.

    Raises:
        ConfigError: an unknown kind or region, or the ``privacy`` extra missing.
    """

    def __init__(
        self, *, kinds: Iterable[str] = KINDS, phone_region: str = "US"
    ) -> None:
        self.kinds = tuple(kinds)
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ConfigError(
                "unknown privacy detector",
                path="privacy.kinds",
                found=unknown,
                expected=f"some of {', '.join(KINDS)}",
            )
        try:
            import phonenumbers  # noqa: PLC0415 - the privacy extra
            from detect_secrets.core.plugins.util import (  # noqa: PLC0415
                get_mapping_from_secret_type_to_class,
            )
            from stdnum import iban, luhn  # noqa: PLC0415
        except ImportError as exc:
            raise ConfigError(
                f"privacy routing needs its detectors ({exc.name}): "
                "pip install 'graph-dispatch[privacy]'",
                path="privacy",
            ) from exc
        if phone_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(
                "unknown phone region",
                path="privacy.phone_region",
                found=phone_region,
                expected="an ISO 3166 alpha-2 region libphonenumber knows, e.g. US, GB",
            )
        self.phone_region = phone_region
        self._phonenumbers: Any = phonenumbers
        self._luhn: Any = luhn
        self._iban: Any = iban
        plugins: list[Any] = list(get_mapping_from_secret_type_to_class().values())
        self._secrets: list[Any] = [
            p() for p in plugins if p.__name__ in _SECRET_DETECTORS
        ]

    def scan(self, text: str) -> frozenset[str]:
        """The kinds found in `text` (empty when it is clean)."""
        found: set[str] = set()
        if not text:
            return frozenset()
        if "email" in self.kinds and _EMAIL.search(text):
            found.add("email")
        if "payment_card" in self.kinds and any(
            self._luhn.is_valid(re.sub(r"[ -]", "", m.group(0)))
            for m in _CARD.finditer(text)
        ):
            found.add("payment_card")
        if "iban" in self.kinds and any(
            self._iban.is_valid(m.group(0)) for m in _IBAN.finditer(text)
        ):
            found.add("iban")
        if "phone" in self.kinds and self._has_phone(text):
            found.add("phone")
        if "secret" in self.kinds:
            found.update(f"secret:{name}" for name in self._secret_types(text))
        return frozenset(found)

    def scan_messages(self, messages: Sequence[BaseMessage]) -> frozenset[str]:
        """The kinds found anywhere in a chat request (tool calls' arguments too)."""
        parts: list[str] = []
        for m in messages:
            parts.append(m.text)
            for call in m.__dict__.get("tool_calls") or ():
                parts.append(str(call.get("args", "")))
        return self.scan("\n".join(parts))

    def _has_phone(self, text: str) -> bool:
        pn = self._phonenumbers
        for n, m in enumerate(_PHONE_CANDIDATE.finditer(text)):
            if n == _MAX_PHONE_CANDIDATES:
                return True
            if sum(c.isdigit() for c in m.group(0)) < 7:
                continue
            found = pn.PhoneNumberMatcher(
                m.group(0), self.phone_region, pn.Leniency.VALID
            )
            if found.has_next():
                return True
        return False

    def _secret_types(self, text: str) -> set[str]:
        names: set[str] = set()
        for name, pattern in _KEY_PREFIXES.items():
            if pattern.search(text):
                names.add(name)
        for line in text.splitlines():
            for plugin in self._secrets:
                if any(True for _ in plugin.analyze_string(line)):
                    names.add(_SLUG.sub("_", plugin.secret_type.lower()).strip("_"))
        return names
