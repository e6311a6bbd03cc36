"""Every span/metric name and attribute key graph-dispatch writes, in one place.

``gen_ai.*`` values follow the OpenTelemetry GenAI semantic conventions (a test
checks them against `opentelemetry-semantic-conventions`); facts the conventions
have no name for live under ``dispatch.*``. The library needs only the
OpenTelemetry API, so these are plain strings rather than imports.
"""

from __future__ import annotations

from typing import Final

# -- gen_ai.* (semantic conventions) --------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = (
    "gen_ai.usage.cache_creation.input_tokens"
)
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
ERROR_TYPE: Final = "error.type"
SESSION_ID: Final = "session.id"
"""The conventions' session id: the thread id again, for backends (Langfuse,
Phoenix) that group a conversation's traces by it rather than by
``gen_ai.conversation.id``."""

GEN_AI_USAGE_COST: Final = "gen_ai.usage.cost"
"""USD cost of a call, under the name Langfuse reads. Not (yet) in the
conventions, which name no cost attribute: the one ``gen_ai.*`` key that is not
theirs, written next to `COST_USD` (a test fails when the conventions define it,
so its meaning can be checked then)."""

OP_CHAT: Final = "chat"
OP_INVOKE_AGENT: Final = "invoke_agent"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"

METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"

CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The conventions' own opt-in switch for recording prompt and completion text."""

PROVIDER_NAMES: Final = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google_genai": "gcp.gemini",
    "google_vertexai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "mistralai": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
}
"""LangChain provider -> ``gen_ai.provider.name`` well-known value (else the provider)."""

# -- dispatch.* (this project's own facts) --------------------------------------------
TIER: Final = "dispatch.tier"
CAPABILITY: Final = "dispatch.capability"
COST_USD: Final = "dispatch.cost_usd"
BASELINE_COST_USD: Final = "dispatch.baseline_cost_usd"
ROUTER: Final = "dispatch.router"
CONFIDENCE: Final = "dispatch.confidence"
REASON: Final = "dispatch.reason"
PINNED: Final = "dispatch.pinned"
ESCALATED: Final = "dispatch.escalated"
PIN_CHANGE: Final = "dispatch.pin_change"
FALLBACK_FROM: Final = "dispatch.fallback_from"
BUDGET_REMAINING_USD: Final = "dispatch.budget.remaining_usd"
SIMULATED: Final = "dispatch.simulated"
ESTIMATED: Final = "dispatch.estimated"
STEP: Final = "dispatch.step"
ATTEMPT: Final = "dispatch.attempt"
"""1 for a hop's first model call; each retry or failover adds one (one chat
span each)."""
WORKFLOW_ID: Final = "dispatch.workflow.id"
HOPS: Final = "dispatch.hops"
REFUSED_HOPS: Final = "dispatch.refused_hops"

EVENT_REPIN: Final = "dispatch.repin"
EVENT_FALLBACK: Final = "dispatch.fallback"
EVENT_CIRCUIT: Final = "dispatch.circuit"
EVENT_REFUSED: Final = "dispatch.budget.refused"

METRIC_COST: Final = "dispatch.cost"
"""Counter of USD spent, by tier and model."""
