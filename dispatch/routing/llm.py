"""The LLM-classifier layer: a small model asked for a structured route decision.

It sits last in a `HybridRouter`, for the prompts the cheaper layers leave
ambiguous. It is the only routing layer that does I/O, and its call costs
money, so every call reports its token usage to an ``on_usage`` callback: the
dispatcher charges it to the workflow's ledger as a hop of its own.

Two ways to give it a model, both injected (nothing is imported here):

- ``classify``: any callable ``(prompt) -> verdict`` or ``(prompt) -> (verdict,
  Usage)``, sync; ``aclassify`` the same, async;
- ``model``: a LangChain chat model; the layer calls
  ``model.with_structured_output(SCHEMA, include_raw=True)`` and reads the
  usage from the raw message's ``usage_metadata``.

A verdict is a mapping ``{"capability": str, "tier": str, "confidence": float,
"reason": str}``. A failed call or an invalid verdict yields a decision with
confidence 0 (and the reason), never an exception: routing must not fail a hop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from dispatch.cost import estimate_tokens
from dispatch.faults import error_facts
from dispatch.types import Hop, RouteDecision, RouterLayer, Usage

__all__ = (
    "SCHEMA",
    "VERDICT_OUTPUT_TOKENS",
    "AdmitCallback",
    "LLMRouter",
    "UsageCallback",
)

UsageCallback = Callable[[Hop, str, Usage], None]
"""``(hop, classifier model id, usage)``: charge the classification call."""

AdmitCallback = Callable[[Hop, str, int], bool]
"""``(hop, classifier model id, estimated input tokens) -> may the call be made``:
the dispatcher's hook holds the call's worst case on the workflow's ledger and
answers False when the budget cannot pay for it (the layer is then skipped)."""

VERDICT_OUTPUT_TOKENS = 256
"""Output tokens reserved for a verdict: the structured verdict is four short
fields (~60 tokens). A call that reports more costs more than its
reservation: an overrun on the ledger, which closes a ``hard`` one, as for any
hop (`dispatch.budget`)."""

SCHEMA: dict[str, Any] = {
    "title": "RouteVerdict",
    "description": "What a sub-task needs: its capability and its difficulty tier.",
    "type": "object",
    "properties": {
        "capability": {"type": "string", "description": "One of the capabilities."},
        "tier": {"type": "string", "description": "One of the tiers, cheapest first."},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string", "description": "One short sentence."},
    },
    "required": ["capability", "tier", "confidence", "reason"],
}
"""JSON schema passed to ``with_structured_output``."""

_SYSTEM = (  # the verdict's allowed values are spelled out in the prompt
    "You route sub-tasks of an agent workflow. Capabilities: {caps}. Tiers, "
    "cheapest first: {tiers}. Pick the capability the task needs and the cheapest "
    "tier that can do it well. Answer with the structured verdict only."
)


class LLMRouter:
    """Asks a small model for the capability and tier.

    Args:
        classify: sync classifier (see the module docstring).
        aclassify: async classifier.
        model: a chat model with ``with_structured_output`` (used when no
            classify callable is given).
        model_id: the classifier's registry id, reported to `on_usage`.
        capabilities: allowed capabilities.
        tiers: allowed tiers, cheapest first.
        on_usage: called after every classification call with its usage.
        admit: asked before every classification call (see `AdmitCallback`);
            a refusal skips the call and yields a confidence-0 decision.
        max_prompt_chars: characters of the prompt sent (head and tail kept).
    """

    def __init__(
        self,
        *,
        classify: Callable[[str], Any] | None = None,
        aclassify: Callable[[str], Awaitable[Any]] | None = None,
        model: Any = None,
        model_id: str = "llm-classifier",
        capabilities: Sequence[str] = ("coding", "search", "analysis", "general"),
        tiers: Sequence[str] = ("small", "medium", "large"),
        on_usage: UsageCallback | None = None,
        admit: AdmitCallback | None = None,
        max_prompt_chars: int = 4000,
    ) -> None:
        """Keep the classifier; `model` is wrapped for structured output here.

        Raises:
            ValueError: none of `classify`, `aclassify` or `model` is given.
        """
        if classify is None and aclassify is None and model is None:
            raise ValueError("LLMRouter needs classify, aclassify or a model")
        self.capabilities = tuple(capabilities)
        self.tiers = tuple(tiers)
        self.model_id = model_id
        self.on_usage = on_usage
        self.admit = admit
        self.max_prompt_chars = max_prompt_chars
        self._classify = classify
        self._aclassify = aclassify
        self._structured = (
            model.with_structured_output(SCHEMA, include_raw=True)
            if model is not None
            else None
        )

    def describe(self) -> str:
        """One line for logs."""
        return f"llm: structured verdict from {self.model_id}"

    def _messages(self, prompt: str) -> list[tuple[str, str]]:
        """System prompt plus the hop's text, cut in the middle if too long.

        Head and tail are kept: the task usually opens a prompt and the
        question closes it, and the classification call stays small and cheap.
        """
        half = self.max_prompt_chars // 2
        text = (
            prompt
            if len(prompt) <= self.max_prompt_chars
            else prompt[:half] + "\n[...]\n" + prompt[-half:]
        )
        system = _SYSTEM.format(
            caps=", ".join(self.capabilities), tiers=", ".join(self.tiers)
        )
        return [("system", system), ("human", text)]

    def decide(self, hop: Hop) -> RouteDecision:
        """Classify `hop` with the sync classifier (or the model's ``invoke``).

        Never raises: a failed call or an invalid verdict comes back as a
        confidence-0 decision whose reason says what went wrong, so a
        `HybridRouter` (or the policy) carries on without this layer.
        """
        if not self._admitted(hop):
            return self._fallback(_SKIPPED)
        try:
            if self._classify is not None:
                result = self._classify(hop.prompt)
            elif self._structured is not None:
                messages = self._messages(hop.prompt)
                result = _from_structured(self._structured.invoke(messages), messages)
            else:
                raise RuntimeError("only an async classifier was given; use adecide")
        except Exception as exc:  # a routing call must not fail the hop
            return self._failed(exc)
        return self._verdict(hop, result)

    async def adecide(self, hop: Hop) -> RouteDecision:
        """Classify `hop` with the async classifier (or the model's ``ainvoke``).

        With only a sync `classify`, runs it inline. Never raises (see `decide`).
        """
        if self._aclassify is None and self._structured is None:
            return self.decide(hop)
        if not self._admitted(hop):
            return self._fallback(_SKIPPED)
        try:
            if self._aclassify is not None:
                result = await self._aclassify(hop.prompt)
            else:
                assert self._structured is not None  # checked above
                messages = self._messages(hop.prompt)
                raw = await self._structured.ainvoke(messages)
                result = _from_structured(raw, messages)
        except Exception as exc:  # a routing call must not fail the hop
            return self._failed(exc)
        return self._verdict(hop, result)

    def _admitted(self, hop: Hop) -> bool:
        """Whether `admit` (if any) lets the classification call be made."""
        if self.admit is None:
            return True
        sent = sum(estimate_tokens(text) for _, text in self._messages(hop.prompt))
        return self.admit(hop, self.model_id, sent)

    def _failed(self, exc: Exception) -> RouteDecision:
        """A failed call's decision. Only the error's secret-free facts (type,
        status) are kept: a provider's message can echo a key or a URL with
        credentials, and this reason reaches the state and the trace."""
        return self._fallback(f"classifier failed: {error_facts(exc).summary()}")

    def _verdict(self, hop: Hop, result: Any) -> RouteDecision:
        """Charge the call's usage, then check the verdict against the allowed sets.

        Usage is reported before validation: an invalid answer cost as much
        as a valid one. A missing or unparseable confidence becomes 0.5.
        """
        verdict, usage = result if isinstance(result, tuple) else (result, None)
        if usage is not None and self.on_usage is not None:
            self.on_usage(hop, self.model_id, usage)
        if not isinstance(verdict, Mapping):
            return self._fallback(f"no verdict: {verdict!r}"[:200])
        capability, tier = verdict.get("capability"), verdict.get("tier")
        if capability not in self.capabilities or tier not in self.tiers:
            return self._fallback(
                f"invalid verdict {capability!r}/{tier!r}; allowed "
                f"{'/'.join(self.capabilities)} and {'/'.join(self.tiers)}"
            )
        try:
            confidence = min(1.0, max(0.0, float(verdict.get("confidence", 0.5))))
        except (TypeError, ValueError):
            confidence = 0.5
        return RouteDecision(
            capability=str(capability),
            tier=str(tier),
            confidence=round(confidence, 3),
            router=RouterLayer.LLM,
            reason=f"{self.model_id}: {str(verdict.get('reason', ''))[:200]}",
        )

    def _fallback(self, why: str) -> RouteDecision:
        """``general`` (else the first capability) at the middle tier, confidence 0.

        The middle tier is the least wrong guess when nothing is known; the
        zero confidence tells every consumer not to trust it.
        """
        general = "general" if "general" in self.capabilities else self.capabilities[0]
        return RouteDecision(
            capability=general,
            tier=self.tiers[len(self.tiers) // 2],
            confidence=0.0,
            router=RouterLayer.LLM,
            reason=why,
        )


_SKIPPED = "classifier skipped: the workflow's budget cannot pay for its call"


def _from_structured(
    raw: Any, messages: Sequence[tuple[str, str]]
) -> tuple[Any, Usage]:
    """``with_structured_output(..., include_raw=True)`` output -> (verdict, usage).

    Without ``usage_metadata`` the tokens are estimated and marked so.
    """
    message = raw.get("raw") if isinstance(raw, Mapping) else None
    meta = getattr(message, "usage_metadata", None) or {}
    if meta:
        usage = Usage(
            input_tokens=int(meta.get("input_tokens", 0)),
            output_tokens=int(meta.get("output_tokens", 0)),
        )
    else:
        usage = Usage(
            input_tokens=sum(estimate_tokens(text) for _, text in messages),
            output_tokens=estimate_tokens(
                str(getattr(message, "content", "")) or "x" * 120
            ),
            estimated=True,
        )
    if not isinstance(raw, Mapping):
        return raw, usage
    parsed: Any = raw.get("parsed")
    dump = getattr(parsed, "model_dump", None)
    return (dump() if callable(dump) else parsed), usage
