"""Each provider path against a real local HTTP server that records the request.

The server answers in each provider's wire shape (OpenAI chat completions,
Anthropic messages, Google Generative Language ``generateContent``, Ollama
``/api/chat``); the tests check what graph-dispatch sends (model, the output cap
in the parameter the provider honours, the key or its absence) and that tokens
and cost are read back from the reply.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import PROVIDER_KEYS
from langchain_core.messages import HumanMessage

import dispatch._chat_models
from dispatch import ModelUnavailable
from dispatch._chat_models import build_chat_model, with_output_cap
from dispatch.cost import call_cost, usage_of
from dispatch.types import ModelSpec


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ProviderServer:
    url: str
    requests: list[Recorded] = field(default_factory=list)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]


def _reply(path: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    if path.endswith("/chat/completions"):
        return "application/json", {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
        }
    if path.endswith("/v1/messages"):
        return "application/json", {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 4},
        }
    if path.endswith(":generateContent"):
        return "application/json", {
            "candidates": [
                {
                    "content": {"parts": [{"text": "hi"}], "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 13,
                "candidatesTokenCount": 5,
                "totalTokenCount": 18,
            },
            "modelVersion": "gemini-2.5-flash",
        }
    if path == "/api/chat":
        return "application/x-ndjson", {
            "model": body["model"],
            "created_at": "2026-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": "hi"},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 14,
            "eval_count": 6,
        }
    return None


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    recorded = ProviderServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            body = json.loads(raw or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            recorded.requests.append(Recorded(self.path, headers, body))
            reply = _reply(self.path, body)
            if reply is None:
                self.send_response(404)
                self.end_headers()
                return
            ctype, payload = reply
            data = (json.dumps(payload) + "\n").encode()
            self.send_response(200)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    recorded.url = f"http://127.0.0.1:{httpd.server_port}"
    try:
        yield recorded
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def live(monkeypatch: pytest.MonkeyPatch) -> None:
    """Provider models allowed; no key or endpoint but the ones a test sets."""
    monkeypatch.setattr(dispatch._chat_models, "ALLOW_PROVIDER_MODELS", True)
    for key in (*PROVIDER_KEYS, "OPENAI_API_BASE", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def spec(model_id: str, base_url: str | None = None) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        tier="small",
        quality={"general": 0.8},
        input_per_mtok=Decimal("1.50"),
        output_per_mtok=Decimal("6.00"),
        context_window=32000,
        max_output_tokens=8000,
        base_url=base_url,
    )


REQUEST = [HumanMessage("Say hi")]


def call(model_spec: ModelSpec, cap: int) -> Any:
    model = build_chat_model(model_spec, simulate=False)
    return with_output_cap(model, model_spec, cap).invoke(REQUEST)


def assert_usage_and_cost(
    reply: Any, model_spec: ModelSpec, tokens: tuple[int, int]
) -> None:
    usage = usage_of(reply, REQUEST)
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (
        *tokens,
        False,
    )
    expected = (Decimal("1.50") * tokens[0] + Decimal("6.00") * tokens[1]) / 1_000_000
    assert call_cost(model_spec, usage.input_tokens, usage.output_tokens) == expected


def test_openai_compatible_server_needs_no_key_and_gets_max_tokens(
    server: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    qwen = spec("openai:qwen2.5-7b-instruct")
    reply = call(qwen, 123)
    sent = server.last
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "qwen2.5-7b-instruct"
    assert sent.body["max_tokens"] == 123
    assert "max_completion_tokens" not in sent.body
    assert "authorization" not in sent.headers
    assert_usage_and_cost(reply, qwen, (11, 3))


def test_openai_compatible_server_without_key_async(
    server: ProviderServer,
) -> None:
    local = spec("openai:llama-3.1-8b", base_url=server.url + "/v1")
    model = with_output_cap(build_chat_model(local, simulate=False), local, 64)
    reply = asyncio.run(model.ainvoke(REQUEST))
    assert server.last.body["max_tokens"] == 64
    assert "authorization" not in server.last.headers
    assert_usage_and_cost(reply, local, (11, 3))


def test_openai_compatible_server_with_a_key_gets_it_as_bearer(
    server: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-test")
    call(spec("openai:qwen"), 50)
    assert server.last.headers["authorization"] == "Bearer sk-local-test"
    assert server.last.body["max_tokens"] == 50


def test_openai_itself_gets_max_completion_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # OpenAI's own host cannot be served locally: check the request it would send.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    gpt = spec("openai:gpt-5.4-mini")
    model = with_output_cap(build_chat_model(gpt, simulate=False), gpt, 321)
    payload = model._get_request_payload(REQUEST)  # type: ignore[attr-defined]
    assert payload["max_completion_tokens"] == 321
    assert "max_tokens" not in payload
    assert "extra_body" not in payload or "max_tokens" not in payload["extra_body"]


def test_openai_without_key_or_base_url_is_unavailable_up_front() -> None:
    with pytest.raises(ModelUnavailable, match="OPENAI_API_KEY.*OPENAI_BASE_URL"):
        build_chat_model(spec("openai:gpt-5.4-mini"), simulate=False)


def test_anthropic_messages_get_max_tokens_and_the_key(
    server: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    haiku = spec("anthropic:claude-haiku-4-5", base_url=server.url)
    reply = call(haiku, 77)
    sent = server.last
    assert sent.path == "/v1/messages"
    assert sent.body["model"] == "claude-haiku-4-5"
    assert sent.body["max_tokens"] == 77
    auth = sent.headers.get("x-api-key", "") + sent.headers.get("authorization", "")
    assert "sk-ant-test" in auth
    assert_usage_and_cost(reply, haiku, (12, 4))


def test_google_generate_content_gets_max_output_tokens_and_the_key(
    server: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "g-test")
    flash = spec("google_genai:gemini-2.5-flash", base_url=server.url)
    reply = call(flash, 88)
    sent = server.last
    assert sent.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert sent.body["generationConfig"]["maxOutputTokens"] == 88
    assert sent.headers["x-goog-api-key"] == "g-test"
    assert_usage_and_cost(reply, flash, (13, 5))


def test_ollama_gets_num_predict_in_options_beside_its_own_options(
    server: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", server.url)  # wins over the registry's default
    qwen = spec("ollama:qwen2.5-coder:7b", base_url="http://127.0.0.1:9")
    model = build_chat_model(qwen, simulate=False).model_copy(
        update={"temperature": 0.2}
    )
    reply = with_output_cap(model, qwen, 99).invoke(REQUEST)
    sent = server.last
    assert sent.path == "/api/chat"
    assert sent.body["model"] == "qwen2.5-coder:7b"
    assert sent.body["options"]["num_predict"] == 99
    assert sent.body["options"]["temperature"] == 0.2
    assert "num_predict" not in sent.body
    assert model.num_predict is None  # type: ignore[attr-defined]  # the cached model is untouched
    assert_usage_and_cost(reply, qwen, (14, 6))
