"""Provider failures become secret-free facts; key-shaped text is redacted.

Every provider shape is built from the provider SDK's real exception class
(installed by the ``test`` extra), so a change in an SDK's attributes shows up
here rather than as a mis-classified error in production.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from decimal import Decimal

import pytest

from dispatch.errors import BudgetExceeded
from dispatch.faults import (
    MAX_REDACT_CHARS,
    MAX_RETRY_AFTER_S,
    REDACTED,
    ErrorFacts,
    ErrorKind,
    error_facts,
    redact,
)

anthropic = pytest.importorskip("anthropic")
openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
genai_errors = pytest.importorskip("google.genai.errors")
gax = pytest.importorskip("google.api_core.exceptions")
ollama = pytest.importorskip("ollama")
try:  # what openai/anthropic build responses with: httpx2 in recent SDKs, else httpx
    import httpx2
except ImportError:  # pragma: no cover - older SDKs
    httpx2 = httpx

FAKE_KEY = "fake-openai-key-0123456789abcdef"
"""The test's OPENAI_API_KEY: not shaped like any provider key, so only the
environment rule can catch it."""
URL = "https://api.example.test/v1/chat/completions"


def sdk_response(status: int, headers: dict[str, str] | None = None) -> object:
    return httpx2.Response(
        status, headers=headers or {}, request=httpx2.Request("POST", URL)
    )


def openai_status(
    cls: type, status: int, headers: dict[str, str] | None = None
) -> object:
    return cls(
        f"Error code: {status}", response=sdk_response(status, headers), body=None
    )


# --- classification of every provider shape ----------------------------------


@pytest.mark.parametrize(
    ("exc", "kind", "status", "retry_after"),
    [
        (
            openai_status(openai.RateLimitError, 429, {"retry-after": "2"}),
            ErrorKind.RATE_LIMIT,
            429,
            2.0,
        ),
        (
            openai_status(openai.InternalServerError, 500, {"retry-after-ms": "1500"}),
            ErrorKind.SERVER,
            500,
            1.5,
        ),
        (openai_status(openai.BadRequestError, 400), ErrorKind.REQUEST, 400, None),
        (openai_status(openai.AuthenticationError, 401), ErrorKind.AUTH, 401, None),
        (openai_status(openai.PermissionDeniedError, 403), ErrorKind.AUTH, 403, None),
        (openai_status(openai.NotFoundError, 404), ErrorKind.REQUEST, 404, None),
        (
            openai_status(openai.UnprocessableEntityError, 422),
            ErrorKind.REQUEST,
            422,
            None,
        ),
        (
            openai.APITimeoutError(request=httpx2.Request("POST", URL)),
            ErrorKind.TIMEOUT,
            None,
            None,
        ),
        (
            openai.APIConnectionError(request=httpx2.Request("POST", URL)),
            ErrorKind.CONNECTION,
            None,
            None,
        ),
        (openai_status(anthropic.OverloadedError, 529), ErrorKind.SERVER, 529, None),
        (
            openai_status(anthropic.RateLimitError, 429, {"retry-after": "30"}),
            ErrorKind.RATE_LIMIT,
            429,
            30.0,
        ),
        (
            openai_status(anthropic.PaymentRequiredError, 402),
            ErrorKind.BUDGET,
            402,
            None,
        ),
        (
            openai_status(anthropic.RequestTimeoutError, 408),
            ErrorKind.TIMEOUT,
            408,
            None,
        ),
        (
            anthropic.APITimeoutError(request=httpx2.Request("POST", URL)),
            ErrorKind.TIMEOUT,
            None,
            None,
        ),
        (
            httpx.HTTPStatusError(
                "503",
                request=httpx.Request("POST", URL),
                response=httpx.Response(503, request=httpx.Request("POST", URL)),
            ),
            ErrorKind.SERVER,
            503,
            None,
        ),
        (httpx.ReadTimeout("read timed out"), ErrorKind.TIMEOUT, None, None),
        (httpx.ConnectTimeout("connect timed out"), ErrorKind.TIMEOUT, None, None),
        (httpx.ConnectError("refused"), ErrorKind.CONNECTION, None, None),
        (httpx.RemoteProtocolError("peer closed"), ErrorKind.CONNECTION, None, None),
        (
            genai_errors.ClientError(
                429,
                {
                    "error": {
                        "code": 429,
                        "message": "Resource has been exhausted",
                        "status": "RESOURCE_EXHAUSTED",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                                "retryDelay": "22s",
                            }
                        ],
                    }
                },
            ),
            ErrorKind.RATE_LIMIT,
            429,
            22.0,
        ),
        (
            genai_errors.ServerError(
                503, {"error": {"code": 503, "message": "x", "status": "UNAVAILABLE"}}
            ),
            ErrorKind.SERVER,
            503,
            None,
        ),
        (
            genai_errors.ClientError(
                400,
                {"error": {"code": 400, "message": "x", "status": "INVALID_ARGUMENT"}},
            ),
            ErrorKind.REQUEST,
            400,
            None,
        ),
        (gax.InvalidArgument("bad"), ErrorKind.REQUEST, 400, None),
        (gax.Unauthenticated("no"), ErrorKind.AUTH, 401, None),
        (gax.ServiceUnavailable("down"), ErrorKind.SERVER, 503, None),
        (gax.DeadlineExceeded("slow"), ErrorKind.SERVER, 504, None),
        (
            ollama.ResponseError("model 'x' not found", 404),
            ErrorKind.REQUEST,
            404,
            None,
        ),
        (
            ollama.ResponseError("llama runner crashed", 500),
            ErrorKind.SERVER,
            500,
            None,
        ),
        (ollama.ResponseError("unknown"), ErrorKind.OTHER, None, None),
        (TimeoutError(), ErrorKind.TIMEOUT, None, None),
        # asyncio.TimeoutError is the builtin TimeoutError since Python 3.11
        (ConnectionResetError("reset"), ErrorKind.CONNECTION, None, None),
        (
            ConnectionError("Failed to connect to Ollama"),
            ErrorKind.CONNECTION,
            None,
            None,
        ),
        (asyncio.CancelledError(), ErrorKind.CANCELLED, None, None),
        (ValueError("nope"), ErrorKind.OTHER, None, None),
        (
            BudgetExceeded(
                requested_usd=Decimal(1), remaining_usd=Decimal(0), limit_usd=Decimal(1)
            ),
            ErrorKind.BUDGET,
            None,
            None,
        ),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_each_provider_shape_is_classified(
    exc: BaseException, kind: ErrorKind, status: int | None, retry_after: float | None
) -> None:
    facts = error_facts(exc)
    assert facts.type == type(exc).__name__
    assert facts.kind is kind
    assert facts.status == status
    assert facts.retry_after_s == retry_after


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_4xx_request_and_auth_errors_are_never_retryable(status: int) -> None:
    assert not error_facts(openai_status(openai.APIStatusError, status)).retryable


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 529])
def test_429_and_5xx_are_retryable(status: int) -> None:
    assert error_facts(openai_status(openai.APIStatusError, status)).retryable


def test_connection_and_timeout_retryable_but_budget_and_cancel_are_not() -> None:
    assert error_facts(httpx.ConnectError("x")).retryable
    assert error_facts(TimeoutError()).retryable
    assert not error_facts(asyncio.CancelledError()).retryable
    assert not error_facts(openai_status(anthropic.PaymentRequiredError, 402)).retryable


def test_api_core_retry_info_detail_gives_retry_after() -> None:
    error_details = pytest.importorskip("google.rpc.error_details_pb2")
    duration = pytest.importorskip("google.protobuf.duration_pb2")
    info = error_details.RetryInfo(
        retry_delay=duration.Duration(seconds=7, nanos=500_000_000)
    )
    facts = error_facts(gax.ResourceExhausted("quota", details=[info]))
    assert (facts.kind, facts.status, facts.retry_after_s) == (
        ErrorKind.RATE_LIMIT,
        429,
        7.5,
    )


def test_http_date_retry_after_is_seconds_from_now() -> None:
    now = time.time()
    when = email.utils.formatdate(now + 40, usegmt=True)
    exc = openai_status(openai.RateLimitError, 429, {"Retry-After": when})
    facts = error_facts(exc, now=now)
    assert facts.retry_after_s is not None
    assert 38 <= facts.retry_after_s <= 40


@pytest.mark.parametrize("value", ["99999999", "-5", "nan", "soon"])
def test_absurd_retry_after_is_capped_or_ignored(value: str) -> None:
    facts = error_facts(
        openai_status(openai.RateLimitError, 429, {"retry-after": value})
    )
    assert facts.retry_after_s in (None, MAX_RETRY_AFTER_S)
    if value == "99999999":
        assert facts.retry_after_s == MAX_RETRY_AFTER_S


def test_a_wrapper_is_looked_through_to_the_provider_error() -> None:
    inner = openai_status(openai.RateLimitError, 429, {"retry-after": "3"})
    try:
        try:
            raise inner  # type: ignore[misc]
        except Exception as exc:
            raise RuntimeError("model call failed") from exc
    except RuntimeError as outer:
        facts = error_facts(outer)
    assert (facts.type, facts.kind, facts.retry_after_s) == (
        "RateLimitError",
        "rate_limit",
        3,
    )


def test_summary_is_short_and_names_status_and_wait() -> None:
    facts = error_facts(openai_status(openai.RateLimitError, 429, {"retry-after": "2"}))
    assert facts.summary() == "RateLimitError (429, retry after 2s)"
    assert error_facts(httpx.ReadTimeout("x")).summary() == "ReadTimeout (timeout)"
    assert facts.as_dict() == {
        "type": "RateLimitError",
        "kind": "rate_limit",
        "status": 429,
        "retry_after_s": 2.0,
        "retryable": True,
    }
    built = ErrorFacts(type="X", kind=ErrorKind.OTHER)
    assert (built.status, built.retryable, built.summary()) == (
        None,
        False,
        "X (other)",
    )


def test_facts_of_an_error_carrying_the_key_hold_no_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    exc = openai.AuthenticationError(
        f"Incorrect API key provided: {FAKE_KEY}",
        response=sdk_response(401),
        body={"error": {"message": f"Incorrect API key provided: {FAKE_KEY}"}},
    )
    facts = error_facts(exc)
    assert FAKE_KEY not in repr(facts)
    assert FAKE_KEY not in facts.summary()
    assert FAKE_KEY in str(exc)  # the raw message does carry it ...
    assert FAKE_KEY not in redact(str(exc))  # ... and redaction removes it


# --- redaction ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (
            "Incorrect API key provided: sk-proj-AbCdEf0123456789xyzXYZ",
            "AbCdEf0123456789",
        ),
        (
            "key sk-ant-api03-abcdefghijklmnop_QRSTUV-0123 was rejected",
            "abcdefghijklmnop",
        ),
        (
            "https://x.googleapis.com/v1?key=AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
            "AIzaSy",
        ),
        ("Authorization: Bearer abc.def-ghi_jkl~mno", "abc.def-ghi_jkl"),
        ("GET /v1/models?api_key=hunter2hunter2&limit=5", "hunter2hunter2"),
        ('{"api_key": "s3cr3t-value", "model": "m"}', "s3cr3t-value"),
        ("token=opaque123 and more", "opaque123"),
        ("password: correcthorse", "correcthorse"),
        ("aws AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
        ("gh token ghp_0123456789abcdefghijABCDEFGHIJ012345", "ghp_0123456789"),
        (
            "sig 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "9f86d0818",
        ),
        ("blob Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MEFCQ0RFRkdISUpL end", "Zm9vYmFy"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
            "eyJzdWIiOiIx",
        ),
    ],
)
def test_key_shaped_text_is_redacted(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert REDACTED in out


@pytest.mark.parametrize(
    "text",
    [
        "RateLimitError (429, retry after 2s)",
        "max_tokens=4096 exceeded for model gpt-4o-mini",
        "input_tokens: 1200, output_tokens: 30",
        "langchain_core.messages.ai.AIMessageChunk failed validation",
        "File /work/wt-resilience/dispatch/faults.py, line 12",
        "the monkey ate a banana",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_secret_env_values_are_redacted_at_call_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-abcdefgh")
    monkeypatch.setenv("DB_PASSWORD_FILE_VALUE", "p4ssw0rd!!")
    monkeypatch.setenv("SHORT_API_KEY", "abc")  # too short to redact safely
    text = f"client error using {FAKE_KEY}, tok-abcdefgh, p4ssw0rd!! and abc"
    out = redact(text)
    for secret in (FAKE_KEY, "tok-abcdefgh", "p4ssw0rd!!"):
        assert secret not in out
    assert out.endswith("and abc")
    monkeypatch.delenv("MY_SERVICE_TOKEN")
    assert "tok-abcdefgh" in redact("tok-abcdefgh")


def test_redaction_is_idempotent() -> None:
    once = redact("api_key=sk-abcdefghijklmnop0123 Bearer zzzzzzzzzzzz")
    assert redact(once) == once


def test_input_is_bounded_and_never_keeps_half_a_secret() -> None:
    filler = "word " * (MAX_REDACT_CHARS // 5)
    out = redact(filler + "sk-" + "a1B2" * 50)
    assert len(out) <= MAX_REDACT_CHARS + 40
    assert "a1B2" not in out
    assert "characters cut" in out


@pytest.mark.parametrize(
    "text",
    [
        "a" * MAX_REDACT_CHARS,
        "key=" * (MAX_REDACT_CHARS // 4),
        "api_key" * (MAX_REDACT_CHARS // 7),
        "eyJ" * (MAX_REDACT_CHARS // 3),
        "Bearer " * (MAX_REDACT_CHARS // 7),
        ("A1b2" * 40 + " ") * (MAX_REDACT_CHARS // 161),
    ],
)
def test_adversarial_input_stays_fast(text: str) -> None:
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 0.5
