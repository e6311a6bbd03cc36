"""The learned layer: per-prompt, per-model probability of a good answer.

A trained `LearnedArtefact` holds two heads over the prompt's embedding: the
probability that each registered model answers the prompt well (trained on
recorded outcomes), and the prompt's capability (trained on labelled prompts).
`LearnedRouter` puts both into the `RouteDecision`: ``quality`` replaces the
registry's static priors in the policy, and ``bar`` is the calibrated
willingness to pay, so the policy picks the cheapest model whose *predicted*
quality for *this* prompt clears the bar. Without an artefact the registry's
priors and tier bars stay in force.

The artefact is one ``.npz`` file (arrays plus a JSON header, loaded with
``allow_pickle=False``), versioned by `FORMAT` and by the encoder id it was
trained with: loading it next to another encoder is an error, because its
weights would be meaningless there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.errors import ConfigError
from dispatch.routing.encoder import Encoder
from dispatch.routing.features import TEXT_WINDOW, router_text
from dispatch.routing.heads import Heads, heads_from_arrays
from dispatch.types import Hop, RouteDecision, RouterLayer

__all__ = ("FORMAT", "LearnedArtefact", "LearnedRouter")

FORMAT = "graph-dispatch.learned/1"
"""Artefact format name; bumped when the layout changes."""


@dataclass(frozen=True, slots=True, eq=False)
class LearnedArtefact:
    """What `dispatch train` produces and the learned layer loads."""

    encoder: str
    """Id of the encoder the heads were trained on (`Encoder.id`)."""
    models: tuple[str, ...]
    """Registered model ids, one per column of `quality`."""
    quality: Heads
    """Per-model probability of a good answer."""
    capabilities: tuple[str, ...] = ()
    """Capability names, one per column of `capability` (empty: no classifier)."""
    capability: Heads | None = None
    """Capability classifier (softmax)."""
    bar: float | None = None
    """Calibrated predicted-quality threshold (willingness to pay)."""
    window: int = TEXT_WINDOW
    """Characters of the prompt's end the heads were trained on."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Training report: data files, cross-validated scores, calibration."""

    def save(self, path: Path) -> None:
        """Write one ``.npz`` file (no pickle)."""
        header = {
            "format": FORMAT,
            "encoder": self.encoder,
            "models": list(self.models),
            "capabilities": list(self.capabilities),
            "bar": self.bar,
            "window": self.window,
            "meta": dict(self.meta),
        }
        arrays: dict[str, Any] = dict(self.quality.arrays("quality"))
        if self.capability is not None:
            arrays.update(self.capability.arrays("capability"))
        raw = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez_compressed(handle, header=raw, **arrays)  # no object arrays

    @classmethod
    def load(cls, path: Path) -> LearnedArtefact:
        """Read an artefact written by `save`.

        Raises:
            ConfigError: missing file, not an artefact, or another format version.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read artefact: {exc}", file=str(path)) from None
        try:
            header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
        except (KeyError, ValueError):
            raise ConfigError("not a graph-dispatch artefact", file=str(path)) from None
        if header.get("format") != FORMAT:
            raise ConfigError(
                "unsupported artefact format",
                file=str(path),
                found=header.get("format"),
                expected=FORMAT,
            )
        try:
            quality = heads_from_arrays(arrays, "quality")
            capability = (
                heads_from_arrays(arrays, "capability")
                if header["capabilities"]
                else None
            )
        except KeyError as exc:
            raise ConfigError(f"incomplete artefact: {exc}", file=str(path)) from None
        return cls(
            encoder=str(header["encoder"]),
            models=tuple(header["models"]),
            quality=quality,
            capabilities=tuple(header["capabilities"]),
            capability=capability,
            bar=header["bar"],
            window=int(header["window"]),
            meta=header["meta"],
        )


class LearnedRouter:
    """Routes by the artefact's predictions; the policy then picks the model.

    Args:
        artefact: a trained artefact.
        encoder: the same encoder (by id) the artefact was trained with.
        model_tiers: registered model id -> tier, to name the decision's tier
            (the lowest tier holding a model predicted to clear the bar).
        tiers: tier names, cheapest first.
        bar: overrides the artefact's calibrated bar (e.g. to sweep it).
        default_capability: used when the artefact has no capability head.

    Raises:
        ConfigError: the encoder differs from the artefact's, or no bar is known.
    """

    def __init__(
        self,
        artefact: LearnedArtefact,
        encoder: Encoder,
        *,
        model_tiers: Mapping[str, str],
        tiers: Sequence[str] = ("small", "medium", "large"),
        bar: float | None = None,
        default_capability: str = "general",
    ) -> None:
        if encoder.id != artefact.encoder:
            raise ConfigError(
                "the artefact was trained with another encoder",
                found=encoder.id,
                expected=artefact.encoder,
            )
        chosen = bar if bar is not None else artefact.bar
        if chosen is None or not 0.0 <= chosen <= 1.0:
            raise ConfigError(
                "the learned router needs a bar in [0, 1]",
                found=chosen,
                expected="a calibrated artefact or an explicit bar",
            )
        self.artefact = artefact
        self.encoder = encoder
        self.bar = chosen
        self.tiers = tuple(tiers)
        self._rank = {t: i for i, t in enumerate(self.tiers)}
        self._model_rank = [
            self._rank.get(model_tiers.get(m, self.tiers[-1]), len(self.tiers) - 1)
            for m in artefact.models
        ]
        self.default_capability = default_capability

    def describe(self) -> str:
        """One line for logs."""
        kind = type(self.artefact.quality).__name__
        return (
            f"learned: {kind} over {len(self.artefact.models)} models, "
            f"bar {self.bar:.3f} ({self.encoder.id})"
        )

    def predict(self, prompt: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Predicted quality per model and capability probabilities for `prompt`."""
        x = self.encoder.encode([router_text(prompt, self.artefact.window)])
        quality = self.artefact.quality.predict(x)[0]
        head = self.artefact.capability
        return quality, (head.predict(x)[0] if head is not None else None)

    def decide(self, hop: Hop) -> RouteDecision:
        """Capability, tier, per-model quality and the bar for `hop`."""
        quality, caps = self.predict(hop.prompt)
        return self.decision(hop, quality, caps)

    def decision(
        self,
        hop: Hop,
        quality: np.ndarray,
        caps: np.ndarray | None,
        *,
        bar: float | None = None,
    ) -> RouteDecision:
        """The decision for already computed predictions (see `predict`).

        `bar` overrides the router's bar (evaluation sweeps it this way).
        """
        if hop.capability_hint is not None:
            capability, confidence = hop.capability_hint, 1.0
        elif caps is not None:
            best = int(np.argmax(caps))
            capability = self.artefact.capabilities[best]
            confidence = float(caps[best])
        else:
            capability, confidence = self.default_capability, 0.5
        bar = self.bar if bar is None else bar
        wanted = bar
        top = float(quality.max())
        clears = [r for r, q in zip(self._model_rank, quality, strict=True) if q >= bar]
        if clears:
            tier = self.tiers[min(clears)]
            why = f"{len(clears)} models predicted >= {bar:.3f}"
        else:
            # Nobody is predicted to clear the bar: the best prediction sets it, so
            # the policy still has the most promising model to choose.
            bar, tier = top, self.tiers[-1]
            why = f"none predicted >= {wanted:.3f}; best {top:.3f}"
        return RouteDecision(
            capability=capability,
            tier=tier,
            confidence=round(confidence, 3),
            router=RouterLayer.LEARNED,
            reason=f"{capability} p={confidence:.2f}; {why}",
            quality={
                m: float(q) for m, q in zip(self.artefact.models, quality, strict=True)
            },
            bar=bar,
        )
