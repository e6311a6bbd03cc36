from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as g
from opentelemetry.semconv._incubating.attributes import session_attributes
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as m

from dispatch import _semconv as sc


def test_gen_ai_names_match_the_semantic_conventions_package() -> None:
    assert sc.GEN_AI_OPERATION_NAME == g.GEN_AI_OPERATION_NAME
    assert sc.GEN_AI_PROVIDER_NAME == g.GEN_AI_PROVIDER_NAME
    assert sc.GEN_AI_REQUEST_MODEL == g.GEN_AI_REQUEST_MODEL
    assert sc.GEN_AI_REQUEST_MAX_TOKENS == g.GEN_AI_REQUEST_MAX_TOKENS
    assert sc.GEN_AI_RESPONSE_MODEL == g.GEN_AI_RESPONSE_MODEL
    assert sc.GEN_AI_USAGE_INPUT_TOKENS == g.GEN_AI_USAGE_INPUT_TOKENS
    assert sc.GEN_AI_USAGE_OUTPUT_TOKENS == g.GEN_AI_USAGE_OUTPUT_TOKENS
    assert (
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
        == g.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
    )
    assert (
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
        == g.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
    )
    assert sc.SESSION_ID == session_attributes.SESSION_ID
    assert sc.GEN_AI_AGENT_NAME == g.GEN_AI_AGENT_NAME
    assert sc.GEN_AI_CONVERSATION_ID == g.GEN_AI_CONVERSATION_ID
    assert sc.GEN_AI_TOOL_NAME == g.GEN_AI_TOOL_NAME
    assert sc.GEN_AI_TOOL_CALL_ID == g.GEN_AI_TOOL_CALL_ID
    assert sc.GEN_AI_INPUT_MESSAGES == g.GEN_AI_INPUT_MESSAGES
    assert sc.GEN_AI_OUTPUT_MESSAGES == g.GEN_AI_OUTPUT_MESSAGES
    assert sc.GEN_AI_TOKEN_TYPE == g.GEN_AI_TOKEN_TYPE
    assert sc.METRIC_TOKEN_USAGE == m.GEN_AI_CLIENT_TOKEN_USAGE
    assert sc.METRIC_OPERATION_DURATION == m.GEN_AI_CLIENT_OPERATION_DURATION


def test_operation_and_provider_values_are_well_known_ones() -> None:
    ops = {v.value for v in g.GenAiOperationNameValues}
    assert {
        sc.OP_CHAT,
        sc.OP_INVOKE_AGENT,
        sc.OP_EXECUTE_TOOL,
        sc.OP_INVOKE_WORKFLOW,
    } <= ops
    providers = {v.value for v in g.GenAiProviderNameValues}
    assert set(sc.PROVIDER_NAMES.values()) <= providers


def test_project_facts_are_never_under_gen_ai() -> None:
    own = [v for k, v in vars(sc).items() if k.isupper() and isinstance(v, str)]
    project = [v for v in own if v.startswith("dispatch.")]
    assert len(project) >= 15
    assert not any(v.startswith("gen_ai.") and "dispatch" in v for v in own)


def test_cost_is_the_one_gen_ai_name_the_conventions_do_not_define() -> None:
    # Langfuse reads `gen_ai.usage.cost`; when the conventions define a cost
    # attribute, this fails so its name and unit can be checked against ours.
    names = {
        v
        for mod in (g, m)
        for k, v in vars(mod).items()
        if k.isupper() and isinstance(v, str)
    }
    assert sc.GEN_AI_USAGE_COST not in names
    ours = {
        v
        for k, v in vars(sc).items()
        if k.isupper() and isinstance(v, str) and v.startswith("gen_ai.")
    }
    assert ours - names == {sc.GEN_AI_USAGE_COST}
