from __future__ import annotations

from decimal import Decimal

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from dispatch import Registry
from dispatch.cost import call_cost, estimate_tokens, usage_of


def test_baseline_is_configured_model_or_dearest_of_top_tier(
    registry: Registry,
) -> None:
    assert registry.baseline.id == "big:model"
    unconfigured = registry.restrict(["tiny:model", "mid:model"])
    assert unconfigured.baseline.id == "mid:model"


def test_get_unknown_model_lists_known_ids(registry: Registry) -> None:
    with pytest.raises(KeyError, match="tiny:model"):
        registry.get("nope:model")


def test_cost_is_exact_decimal(registry: Registry) -> None:
    spec = registry.get("tiny:model")
    assert call_cost(spec, 1000, 500) == Decimal("0.0003")
    assert call_cost(spec, 3, 7) == Decimal("0.0000031")


def test_usage_comes_from_usage_metadata() -> None:
    reply = AIMessage(
        content="hi",
        usage_metadata={
            "input_tokens": 120,
            "output_tokens": 30,
            "total_tokens": 150,
            "input_token_details": {"cache_read": 100},
        },
    )
    usage = usage_of(reply, [HumanMessage("x")])
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (
        120,
        30,
        False,
    )


def test_usage_is_estimated_and_marked_when_provider_reports_none() -> None:
    request = [HumanMessage("a" * 400)]
    usage = usage_of(AIMessage(content="b" * 80), request)
    assert usage.estimated
    assert usage.input_tokens == 100 + 4  # 400 chars / 4, plus per-message framing
    assert usage.output_tokens == 20


def test_estimate_tokens_rounds_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcde") == 2


# Real token counts of each text with OpenAI's cl100k_base and o200k_base
# tokenizers, measured offline (the `bpe-openai` package bundles both).
MEASURED = {
    "chinese": (
        "结账服务本周变慢了。请查找运行手册中关于延迟服务等级目标的说明，以及谁负责"
        "处理事故，分析本周的第九十五百分位延迟，并编写一个检查超出阈值日期的脚本。",
        81,
        56,
    ),
    "japanese": (
        "今週、チェックアウトが遅くなりました。ランブックに書かれている遅延のSLOと、"
        "インシデントの担当者を調べてください。",
        55,
        41,
    ),
    "korean": (
        "이번 주에 결제 서비스가 느려졌습니다. 지연 시간 목표와 장애 담당자를 런북에서 "
        "찾아 주세요.",
        51,
        27,
    ),
    "cyrillic": (
        "На этой неделе оформление заказа стало медленнее. Найдите в регламенте "
        "целевой уровень задержки и дежурных инженеров.",
        51,
        30,
    ),
    "emoji": (
        "Deploy status: ✅🚀🔥 team 👨‍👩‍👧‍👦 says 👍🏽👍🏽 and 🇺🇸🇯🇵 🎉🎉🎉",
        63,
        41,
    ),
    "code": (
        "def breaches(p95: dict[str, int], slo: int = 250) -> list[str]:\n"
        '    """Days above the SLO."""\n'
        "    return [day for day, ms in sorted(p95.items()) if ms > slo]\n\n"
        'print(breaches({"Mon": 182, "Fri": 310, "Sat": 275}))\n',
        70,
        70,
    ),
    "english": (
        "Checkout got slower this week. Find what our runbooks say about the latency "
        "SLO and who handles incidents.",
        22,
        22,
    ),
}


@pytest.mark.parametrize("script", sorted(MEASURED))
def test_estimate_bounds_real_tokenizers_for_every_script(script: str) -> None:
    text, cl100k, o200k = MEASURED[script]
    assert estimate_tokens(text) >= max(cl100k, o200k)


def test_estimate_no_longer_under_reserves_cjk_by_four_times() -> None:
    text, cl100k, _ = MEASURED["chinese"]
    assert len(text) / 4 < cl100k / 3  # four characters per token: 3-4x under
    assert cl100k <= estimate_tokens(text) <= 1.5 * cl100k  # bounded, not wildly over


def test_estimate_keeps_four_letters_per_token_for_english_prose() -> None:
    assert estimate_tokens("word " * 100) == 125
    assert estimate_tokens("你好") == 3  # 1.5 per CJK character
    assert estimate_tokens("мир") == 3  # 1 per 2-byte character
    assert estimate_tokens("🎉") == 3
    assert estimate_tokens("{}()") == 4  # punctuation: 1 each
