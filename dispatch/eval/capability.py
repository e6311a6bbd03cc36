"""`dispatch eval capability`: train on TRAIN's labels, route DATA, score the labels.

Each DATA prompt goes through the router's `decide`, as a live hop does. The
latency is measured separately on a fresh in-memory cache (no disk cache), so
each timed decision embeds a prompt the encoder has never seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from dispatch.errors import ConfigError
from dispatch.eval.metrics import accuracy_by_group, per_class_scores, percentile_ms
from dispatch.eval.training import Progress
from dispatch.routing.classifier import CapabilityRouter
from dispatch.routing.encoder import CachedEncoder, Encoder
from dispatch.routing.features import CAPABILITY_LAYERS, embed
from dispatch.routing.hybrid import HybridRouter
from dispatch.routing.protocol import Router
from dispatch.routing.replay import ReplayRecord
from dispatch.routing.rules import RulesRouter
from dispatch.routing.semantic import SemanticRouter
from dispatch.routing.train import fit_capability
from dispatch.types import Hop

__all__ = (
    "CAPABILITY_ROUTERS",
    "build_capability_router",
    "encoder_layers",
    "evaluate_capability",
)

CAPABILITY_ROUTERS = ("learned", "semantic", "rules", "hybrid")
"""``learned``: trained classifier; ``semantic``: nearest centroid of TRAIN's
prompts; ``rules``: heuristics (no training); ``hybrid``: rules when sure
(calibrated threshold), else the classifier."""


def encoder_layers(name: str) -> tuple[int, ...]:
    """The hidden states the encoder given to router `name` should append.

    The classifier (``learned``, and ``hybrid`` behind the rules) reads the
    layered rows a trained artefact's head reads (`CAPABILITY_LAYERS`); the
    nearest-centroid and rules baselines read the plain sentence vector, as
    semantic-router would.

    Raises:
        ConfigError: `name` is not one of `CAPABILITY_ROUTERS`.
    """
    _check_router(name)
    return CAPABILITY_LAYERS if name in ("learned", "hybrid") else ()


def _check_router(name: str) -> None:
    if name not in CAPABILITY_ROUTERS:
        raise ConfigError(
            "unknown router",
            path="--router",
            found=name,
            expected=", ".join(CAPABILITY_ROUTERS),
        )


def build_capability_router(
    name: str,
    train: Sequence[ReplayRecord],
    encoder: Encoder,
    *,
    progress: Progress | None = None,
    c: float = 10.0,
) -> Router:
    """A capability router of kind `name` trained on `train`'s labelled prompts.

    Every kind falls back on the rules router for the tier, so the routers
    compared differ only in how they pick the capability. Unlabelled lines
    of `train` are ignored.

    Args:
        name: one of `CAPABILITY_ROUTERS`.
        train: prompts; those with a capability label are the training set.
        encoder: the sentence encoder (its cache is warmed with `train`),
            appending `encoder_layers(name)`.
        progress: ``(stage, done, total)`` callback while embedding.
        c: inverse L2 strength of the ``learned``/``hybrid`` classifier.

    Raises:
        ConfigError: unknown name, or fewer than two labelled capabilities.
    """
    _check_router(name)
    labelled = [r for r in train if r.capability]
    classes = sorted({str(r.capability) for r in labelled})
    if len(classes) < 2:
        raise ConfigError(
            "TRAIN needs labelled prompts of at least two capabilities",
            found=classes,
            expected="lines with 'capability' set",
        )
    rules = RulesRouter(capabilities=classes)
    if name == "rules":
        return rules
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress("embed TRAIN", done, len(labelled))

    if name == "semantic":
        examples: dict[str, list[str]] = {}
        for r in labelled:
            examples.setdefault(str(r.capability), []).append(r.prompt)
        embed(encoder, [r.prompt for r in labelled], progress=tick)  # warm the cache
        return SemanticRouter(_Windowed(encoder), examples, tier_router=rules)
    x = embed(encoder, [r.prompt for r in labelled], progress=tick)
    head = fit_capability(
        x,
        [str(r.capability) for r in labelled],
        prompts=[r.prompt for r in labelled],
        groups=[r.source for r in labelled],
        c=c,
    )
    learned = CapabilityRouter(encoder, head, tier_router=rules)
    if name == "learned":
        return learned
    threshold = _calibrate_rules_threshold(rules, learned, labelled)
    return HybridRouter([rules, learned], [threshold])


class _Windowed:
    """Embeds the same prompt window as the learned layers (for a fair comparison)."""

    def __init__(self, encoder: Encoder) -> None:
        """Wrap `encoder`; its id is kept so cache keys stay the encoder's."""
        self.inner = encoder

    @property
    def id(self) -> str:
        return self.inner.id

    def encode(self, texts: Sequence[str]) -> Any:
        return embed(self.inner, list(texts))


def _calibrate_rules_threshold(
    rules: RulesRouter, learned: CapabilityRouter, labelled: Sequence[ReplayRecord]
) -> float:
    """The rules-confidence threshold maximising accuracy of rules -> learned.

    Measured on the training prompts: the learned layer's training accuracy is
    optimistic, which biases the threshold up (towards the learned layer), the
    safe direction when the learned layer is the better one.
    """
    hops = [Hop(specialist="eval", prompt=r.prompt) for r in labelled]
    rule = [rules.decide(h) for h in hops]
    learn = [learned.decide(h).capability for h in hops]
    truth = [r.capability for r in labelled]
    best_t, best_acc = 1.01, -1.0
    for t in sorted({d.confidence for d in rule} | {1.01}):
        acc = sum(
            (d.capability if d.confidence >= t else lc) == y
            for d, lc, y in zip(rule, learn, truth, strict=True)
        )
        if acc > best_acc:
            best_t, best_acc = t, acc
    return min(best_t, 1.0) if best_t <= 1.0 else 1.0


def evaluate_capability(
    data: Sequence[ReplayRecord],
    train: Sequence[ReplayRecord],
    encoder: Encoder,
    *,
    router: str = "learned",
    fresh_encoder: Callable[[], Encoder] | None = None,
    latency_samples: int = 200,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train a capability router on `train`, classify `data`, score the labels.

    Latency is timed before accuracy, through a fresh memory-only cache, so
    the reported p50/p99 include embedding a never-seen prompt (the cost a
    live hop pays) and not a disk-cache hit; accuracy then runs on the
    caller's (cached) `encoder`.

    Args:
        data: prompts to classify; only lines with a capability are scored.
        train: training prompts (see `build_capability_router`).
        encoder: the encoder for training and scoring, usually cached.
        router: one of `CAPABILITY_ROUTERS`.
        fresh_encoder: builds the uncached encoder to time with; default the
            encoder inside `encoder` when it is a `CachedEncoder`.
        latency_samples: how many `data` prompts are timed.
        progress: ``(stage, done, total)`` callback for the CLI's bar.

    Returns:
        A JSON-ready dict: ``n``, ``router``, ``accuracy``, ``macro_f1``,
        ``per_class`` (precision, recall, F1, n), ``accuracy_by_source``
        (per benchmark the prompt came from) and ``latency_ms`` (p50, p99).

    Raises:
        ConfigError: `data` has no labelled prompt or labels a capability
            `train` does not, `router` is unknown, or `train` labels fewer
            than two capabilities.
    """
    labelled = [r for r in data if r.capability]
    if not labelled:
        raise ConfigError("DATA has no labelled prompts", expected="'capability' set")
    known = {str(r.capability) for r in train if r.capability}
    unknown = sorted({str(r.capability) for r in labelled} - known)
    if unknown and known:
        first = next(r for r in labelled if r.capability in unknown)
        raise ConfigError(
            "DATA labels capabilities that TRAIN never labels, so no router "
            f"trained on TRAIN can predict them (first: id {first.id!r})",
            found=unknown,
            expected=f"labels among TRAIN's: {', '.join(sorted(known))}",
        )
    switch = _Switch(encoder)
    routed = build_capability_router(router, train, switch, progress=progress)
    # Time decisions first, on a fresh memory-only cache: every prompt is new.
    inner = fresh_encoder() if fresh_encoder is not None else _inner(encoder)
    switch.target = CachedEncoder(inner)
    latency = _latency(routed, labelled[:latency_samples])
    switch.target = encoder
    done = 0
    predicted = []
    for r in labelled:
        predicted.append(
            routed.decide(Hop(specialist="eval", prompt=r.prompt)).capability
        )
        done += 1
        if progress is not None and done % 50 == 0:
            progress("route DATA", done, len(labelled))
    truth = [str(r.capability) for r in labelled]
    accuracy, macro, per = per_class_scores(truth, predicted)
    report: dict[str, Any] = {
        "n": len(labelled),
        "router": router,
        "accuracy": accuracy,
        "macro_f1": macro,
        "per_class": per,
        "accuracy_by_source": accuracy_by_group(
            [r.source for r in labelled], truth, predicted
        ),
    }
    report["latency_ms"] = latency
    return report


def _latency(router: Router, sample: Sequence[ReplayRecord]) -> dict[str, float]:
    """p50/p99 of one decision on a never-seen prompt (encoder included)."""
    router.decide(Hop(specialist="eval", prompt="warm up the encoder session"))
    durations = []
    for r in sample:
        hop = Hop(specialist="eval", prompt=r.prompt)
        start = time.perf_counter()
        router.decide(hop)
        durations.append(time.perf_counter() - start)
    return dict(percentile_ms(durations))


class _Switch:
    """An encoder whose target can be swapped (cached for training, fresh for timing)."""

    def __init__(self, target: Encoder) -> None:
        """Start by delegating to `target`; assign `target` to switch."""
        self.target = target

    @property
    def id(self) -> str:
        return self.target.id

    def encode(self, texts: Sequence[str]) -> Any:
        return self.target.encode(texts)


def _inner(encoder: Encoder) -> Encoder:
    """The uncached encoder behind `encoder`, so timing misses every cache."""
    return encoder.encoder if isinstance(encoder, CachedEncoder) else encoder
