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
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
ERROR_TYPE: Final = "error.type"

OP_CHAT: Final = "chat"
"""``gen_ai.operation.name`` of one model call (a hop's span)."""
OP_INVOKE_AGENT: Final = "invoke_agent"
"""Operation of a specialist's run (its hops and tool calls nest under it)."""
OP_EXECUTE_TOOL: Final = "execute_tool"
"""Operation of one tool call inside a specialist's loop."""
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"
"""Operation of the root span of one workflow run (carries the totals)."""

METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
"""Histogram of tokens per call (``{token}``), split by `GEN_AI_TOKEN_TYPE`."""
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
"""Histogram of model-call duration, seconds."""

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
"""USD as a float (span attributes cannot hold `Decimal`); the ledger stays exact.
On a workflow span: the run's total."""
PRIVACY_DETECTED: Final = "dispatch.privacy.detected"
"""Kinds of personal data or secrets found in a call's input (never the values)."""
BASELINE_COST_USD: Final = "dispatch.baseline_cost_usd"
"""What the same tokens would have cost on the baseline model, USD: the saving
a dashboard shows is ``baseline - cost``."""
ROUTER: Final = "dispatch.router"
"""The `RouterLayer` value that decided."""
CONFIDENCE: Final = "dispatch.confidence"
REASON: Final = "dispatch.reason"
PINNED: Final = "dispatch.pinned"
"""True when the specialist's existing pin served the call."""
ESCALATED: Final = "dispatch.escalated"
"""True when the pin was re-opened for a higher tier (a filterable boolean)."""
PIN_CHANGE: Final = "dispatch.pin_change"
"""The `PinChange` value: what the call did to the pin."""
FALLBACK_FROM: Final = "dispatch.fallback_from"
"""Set only when another model failed before this one served the hop."""
BUDGET_REMAINING_USD: Final = "dispatch.budget.remaining_usd"
"""The workflow's budget left, USD; absent when the workflow has no limit."""
SIMULATED: Final = "dispatch.simulated"
ESTIMATED: Final = "dispatch.estimated"
"""True when token counts are estimates (the provider reported no usage)."""
STEP: Final = "dispatch.step"
"""The sub-task id, to group a step's retries, rounds and verifications."""
WORKFLOW_ID: Final = "dispatch.workflow.id"
"""The run whose budget paid: one per request; a conversation holds many."""
HOPS: Final = "dispatch.hops"
"""On a workflow span: model calls that succeeded."""
REFUSED_HOPS: Final = "dispatch.refused_hops"
"""On a workflow span: hops the budget refused before any call."""

EVENT_REPIN: Final = "dispatch.repin"
"""Span event: the pin moved (``from``, ``to``, ``reason``)."""
EVENT_FALLBACK: Final = "dispatch.fallback"
"""Span event: a failed model was replaced (``from``, ``to``)."""
EVENT_CIRCUIT: Final = "dispatch.circuit"
"""Span event: a model's circuit breaker changed state (``from``, ``to``)."""
EVENT_REFUSED: Final = "dispatch.budget.refused"
"""Span event: the budget refused a hop (step, model, reason)."""

METRIC_COST: Final = "dispatch.cost"
"""Counter of USD spent, by tier and model."""
