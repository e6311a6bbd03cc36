"""Privacy routing: what the scanner finds, and how a sensitive hop is routed (pure parts)."""

from __future__ import annotations

import pytest
from conftest import LOCAL_MODEL, SMALL_REGISTRY, registry_from_text

from dispatch import Hop, NoEligibleModel, Registry, RouteDecision
from dispatch.errors import ConfigError
from dispatch.policy import select
from dispatch.privacy import PrivacyScanner
from dispatch.types import Pin, PinChange, RouterLayer

SCANNER = PrivacyScanner()

FOUND = {
    "Please email jane.doe@example.com the summary": {"email"},
    "Call me at (415) 555-2671 tomorrow": {"phone"},
    "Reach the London office on +44 20 7946 0958": {"phone"},
    "Charge card 4111 1111 1111 1111, expiry 12/29": {"payment_card"},
    "Wire it to GB82 WEST 1234 5698 7654 32": {"iban"},
    "My key is AKIAIOSFODNN7EXAMPLE": {"secret:aws_access_key"},
    "token ghp_1234567890abcdefghijklmnopqrstuvwxyzAB": {"secret:github_token"},
    "OPENAI_API_KEY=sk-proj-" + "a1B2" * 10: {"secret:openai_api_key"},
    "x-api-key: sk-ant-api03-" + "Zz9_" * 10: {"secret:anthropic_api_key"},
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA": {"secret:private_key"},
}

CLEAN = [
    "What does the runbook say about the checkout latency SLO?",
    "Compute 12 * 7, then 4155 + 2671 and 3.14159265 / 2",
    "order 4111 1111 1111 1112 shipped on 2024-05-01",  # fails the Luhn check
    "GB00 WEST 1234 5698 7654 32 is not a valid IBAN",
    "def h(x):\n    return sha256(x).hexdigest()  # 9f86d081884c7d659a2feaa0c55ad015",
    "request id 123e4567-e89b-12d3-a456-426614174000",
    "see https://example.com/docs/api for the rate limits",
]


@pytest.mark.parametrize(("text", "kinds"), FOUND.items())
def test_each_detector_names_its_kind(text: str, kinds: set[str]) -> None:
    assert SCANNER.scan(text) == kinds


@pytest.mark.parametrize("text", CLEAN)
def test_ordinary_prompts_are_clean(text: str) -> None:
    assert SCANNER.scan(text) == frozenset()


def test_a_secret_deep_in_a_long_tool_result_is_found() -> None:
    text = "log line without anything personal\n" * 6000 + "reach me at a@corp.io"
    assert len(text) > 200_000
    assert SCANNER.scan(text) == {"email"}


def test_kinds_can_be_narrowed_and_unknown_kinds_are_refused() -> None:
    only_email = PrivacyScanner(kinds=["email"])
    assert only_email.scan("a@b.io, card 4111 1111 1111 1111") == {"email"}
    with pytest.raises(ConfigError, match="unknown privacy detector"):
        PrivacyScanner(kinds=["email", "dna"])
    with pytest.raises(ConfigError, match="phone region"):
        PrivacyScanner(phone_region="XX")


REGISTRY: Registry = registry_from_text(SMALL_REGISTRY + LOCAL_MODEL)


def decision(capability: str, tier: str = "small") -> RouteDecision:
    return RouteDecision(
        capability=capability,
        tier=tier,
        confidence=1.0,
        router=RouterLayer.FIXED,
        reason="t",
    )


def test_a_sensitive_hop_goes_to_a_local_model_even_when_a_remote_one_is_cheaper() -> (
    None
):
    hop = Hop(
        specialist="coder", prompt="p", sensitive=frozenset({"secret:aws_access_key"})
    )
    plain = select(decision("coding"), Hop(specialist="coder", prompt="p"), REGISTRY)
    private = select(decision("coding"), hop, REGISTRY)
    assert not plain.model.local
    assert private.model.local


def test_no_local_model_refuses_naming_the_kinds_not_the_values() -> None:
    hop = Hop(
        specialist="w", prompt="mail jane@example.com", sensitive=frozenset({"email"})
    )
    with pytest.raises(NoEligibleModel) as raised:
        select(decision("general"), hop, REGISTRY)
    text = str(raised.value)
    assert "email" in text and "only local models" in text
    assert "jane@example.com" not in text


def test_a_remote_pin_is_replaced_by_a_local_model_with_the_reason() -> None:
    remote = select(decision("coding"), Hop(specialist="c", prompt="p"), REGISTRY).model
    pin = Pin(model=remote.id, tier="small", reason="first")
    hop = Hop(specialist="c", prompt="p", sensitive=frozenset({"iban"}))
    choice = select(decision("coding"), hop, REGISTRY, pin=pin)
    assert choice.model.local
    assert choice.pin_change is PinChange.REPLACED
    assert "privacy" in choice.reason and "iban" in choice.reason
