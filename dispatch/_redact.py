"""Redaction of key-shaped text (re-exported as `dispatch.faults.redact`).

Pure: standard library only. Every pattern is a linear scan over bounded input.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

__all__ = ("MAX_REDACT_CHARS", "REDACTED", "redact")

REDACTED = "[REDACTED]"
"""What `redact` puts in place of a secret."""
MAX_REDACT_CHARS = 20_000
"""`redact` keeps at most this many characters: stored error text is short, and
bounding the input bounds the time every pattern can take."""


_SECRET_NAME = (  # a secret-looking field name, with an optional vendor prefix
    r"(?:[A-Za-z0-9]{1,20}[_\-])?"
    r"(?:api[_\-]?key|access[_\-]?key|secret(?:[_\-]?key)?|token|password|passwd"
    r"|passphrase|pass|pwd|key|auth|credentials?|signature|sig)"
    # a password glued to its prefix, as in PGPASSWORD or DBPASSWD
    r"|[A-Za-z0-9]{1,20}pass(?:word|wd)"
)
_SECRET_VALUE = (  # a quoted value up to its closing quote, else a bare word
    r"(?<=\")[^\"\r\n]{1,256}(?=\")|(?<=')[^'\r\n]{1,256}(?=')"
    r"|[^\s\"'&,;{}<>\[\]]+"
)
_PEM_PRIVATE_KEY = re.compile(
    r"(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)"
    # the body: anything but the next five dashes, so an unclosed block stops
    # at the next marker (or the end) and every BEGIN scans its own body once
    r"(?:[^-]|-(?!----))*"
    r"(-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"
)
"""A PEM (or PGP) private key block, closed or cut short."""
_AUTHORIZATION = re.compile(
    r"(?i)(?<![A-Za-z0-9])((?:proxy-)?authorization)([\"']?\s{0,3}[:=]\s{0,3})"
    r"(\"[^\"\r\n]{1,4096}|'[^'\r\n]{1,4096}|[^\r\n]{1,4096})"
)
"""An ``Authorization`` header (or field) and its value: a quoted value up to its
closing quote, a bare one to the end of the line."""
_AUTH_SCHEME = re.compile(r"[\"']?[A-Za-z][A-Za-z0-9_\-]{0,30}[ \t]+(?=\S)|[\"']")
"""What opens an Authorization value and stays: the quote, the scheme word
(``Token``, ``Api-Key``)."""
_URL_USERINFO = re.compile(r"(?<=:/)(/?)[^\s:/?#@\"'<>`]{0,256}:[^\s/?#\"'<>`]{1,512}@")
"""``user:password@`` after a URL's scheme; the password may hold a raw ``@``
(the last one before the host ends it). One slash is enough: ``Path()``
folds ``https://`` to ``https:/``, and a path printed in an error keeps it."""


def _pem(match: re.Match[str]) -> str:
    """A private key block with its body replaced; the markers stay."""
    return f"{match.group(1)}{REDACTED}{match.group(2) or ''}"


def _authorization(match: re.Match[str]) -> str:
    """An Authorization value with its credentials replaced: the scheme word
    (``Token``, ``Api-Key``, ``Digest``) stays, everything after it goes."""
    name, separator, value = match.groups()
    opening = _AUTH_SCHEME.match(value)
    keep = opening.group(0) if opening else ""
    if value[len(keep) :].startswith(REDACTED):  # already done (Bearer, a rerun)
        return match.group(0)
    return f"{name}{separator}{keep}{REDACTED}"


_PATTERNS: tuple[
    tuple[tuple[str, ...], re.Pattern[str], str | Callable[[re.Match[str]], str]], ...
] = (
    # (cheap substring prefilter on the lower-cased text, pattern, replacement)
    # private key blocks first: their body would otherwise go piecemeal
    (("private key",), _PEM_PRIVATE_KEY, _pem),
    # Authorization headers of any scheme: keep the scheme word
    (("authorization",), _AUTHORIZATION, _authorization),
    # user:password@ in URLs (DSNs, basic-auth URLs): keep scheme and host
    ((":/",), _URL_USERINFO, rf"\1{REDACTED}@"),
    # Bearer / Basic tokens in headers or messages: keep the scheme word
    (
        ("bearer", "basic"),
        re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/\-]{8,}=*"),
        rf"\1\2{REDACTED}",
    ),
    # JWTs (header.payload.signature)
    (
        ("eyj",),
        re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"),
        REDACTED,
    ),
    # OpenAI / Anthropic style: sk-..., sk-proj-..., sk-ant-api03-...
    (("sk-",), re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), REDACTED),
    # Google API keys
    (("aiza",), re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"), REDACTED),
    # AWS access key ids
    (("akia", "asia"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    # GitHub tokens
    (
        ("gh", "github_pat_"),
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"),
        REDACTED,
    ),
    # name=value / "name": "value" / name: value for secret-looking names
    (
        ("key", "token", "secret", "pass", "pwd", "auth", "credential", "sig"),
        re.compile(
            # (the lookahead fails fast where no name can start: ~7x on "-" runs)
            rf"(?i)(?<![A-Za-z0-9])(?=[A-Za-z0-9])({_SECRET_NAME})"
            r"(\"?'?\s{0,3}[:=]\s{0,3}[\"']?)"
            rf"(?!\[REDACTED\]|-----BEGIN )({_SECRET_VALUE})"
        ),
        rf"\1\2{REDACTED}",
    ),
    # long hex strings (keys, HMACs)
    ((), re.compile(r"\b[0-9a-fA-F]{32,}\b"), REDACTED),
)
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+_\-]{32,}={0,2}")
"""A long base64-ish run: a candidate for `_looks_random`."""
_SECRET_ENV = re.compile(r"(?i)(_API_KEY|_TOKEN|_SECRET|PASSWORD)")
"""Names of environment variables whose values are treated as secrets."""
_MIN_ENV_SECRET = 8
"""Shorter env values are not redacted: ``PASSWORD=x`` would blank every "x"."""


def _looks_random(match: re.Match[str]) -> str:
    """A long base64-ish run is a secret when it mixes digits and both cases,
    which identifiers and words almost never do."""
    token = match.group(0)
    digits = sum(c.isdigit() for c in token)
    upper = sum(c.isupper() for c in token)
    lower = sum(c.islower() for c in token)
    return REDACTED if digits >= 2 and upper >= 2 and lower >= 2 else token


def _secret_values(items: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The values of secret-named variables that are long enough to match."""
    return frozenset(
        value
        for name, value in items
        if len(value) >= _MIN_ENV_SECRET and _SECRET_ENV.search(name)
    )


def _pattern_of(values: frozenset[str]) -> re.Pattern[str] | None:
    """One alternation of the literal `values`, longest first (so a value that
    contains another is replaced whole); None when there are none."""
    if not values:
        return None
    ordered = sorted(values, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in ordered))


@lru_cache(maxsize=8)
def _pattern_for_raw(raw: tuple[tuple[Any, Any], ...]) -> re.Pattern[str] | None:
    """`_pattern_of` the secrets in `raw` (environ's bytes or str items), cached."""
    return _pattern_of(_secret_values((os.fsdecode(k), os.fsdecode(v)) for k, v in raw))


def _env_pattern() -> re.Pattern[str] | None:
    """The pattern of the secret env values set *now*.

    Decoding and scanning ``os.environ`` costs more than redacting a typical
    message, so the result is cached on the environment's raw contents (CPython
    keeps them in ``os.environ._data``; hashing that tuple is ~30x cheaper than
    the scan, and any change to the environment changes the key).
    """
    raw = getattr(os.environ, "_data", None)
    if isinstance(raw, dict):
        return _pattern_for_raw(tuple(raw.items()))
    return _pattern_of(_secret_values(os.environ.items()))  # pragma: no cover


def redact(text: str) -> str:
    """`text` with anything key-shaped replaced by ``[REDACTED]``.

    Catches provider key formats (``sk-``, ``sk-ant-``, ``AIza``, AWS ``AKIA``,
    GitHub ``ghp_``), Bearer tokens, the credentials of an ``Authorization``
    header of any scheme (``Token``, ``Api-Key``, ``Digest``; the scheme word
    stays), the ``user:password@`` of a URL (scheme and host stay), the body
    of a PEM private key (the markers stay), JWTs,
    ``api_key=``/``token=``/``password=``/``pass=``/``pwd=`` style query,
    header and JSON values (a quoted value up to its closing quote), long hex
    or mixed-case base64 runs (>= 32 characters) and the literal values of
    secret-looking environment variables (``*_API_KEY``, ``*_TOKEN``,
    ``*_SECRET``, ``*PASSWORD*``, at least 8 characters) set when it is
    called. Input beyond `MAX_REDACT_CHARS` is cut at a word boundary first,
    so a secret is never half kept. Every pattern is a linear scan (no nested
    quantifiers).
    """
    if len(text) > MAX_REDACT_CHARS:
        head = text[:MAX_REDACT_CHARS]
        cut = max(head.rfind(" "), head.rfind("\n"))
        dropped = len(text) - (cut if cut > 0 else MAX_REDACT_CHARS)
        text = f"{head[:cut] if cut > 0 else ''} …[{dropped} characters cut]"
    env = _env_pattern()
    if env is not None:
        text = env.sub(REDACTED, text)
    lowered = text.lower()
    for needles, pattern, replacement in _PATTERNS:
        if not needles or any(n in lowered for n in needles):
            text = pattern.sub(replacement, text)
    return _LONG_TOKEN.sub(_looks_random, text)
