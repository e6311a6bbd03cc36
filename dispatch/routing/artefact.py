"""The learned layer's artefact: what `dispatch train` writes and `LearnedRouter` loads.

One ``.npz`` file (arrays plus a JSON header, loaded with
``allow_pickle=False``), versioned by `FORMAT` and by the encoder id it was
trained with: loading it next to another encoder is an error, because its
weights would be meaningless there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.errors import ConfigError
from dispatch.routing.encoder import base_width
from dispatch.routing.features import TEXT_WINDOW
from dispatch.routing.heads import CapabilityHead, Heads, heads_from_arrays

__all__ = ("BAR_MODES", "FORMAT", "LearnedArtefact")

FORMAT = "graph-dispatch.learned/2"
"""Artefact format name; bumped when the layout changes (2: bar mixes)."""

_READABLE = (FORMAT, "graph-dispatch.learned/1")
"""Formats `LearnedArtefact.load` reads; a /1 artefact has a single bar."""

BAR_MODES = ("utility", "relative", "absolute")
"""How the learned router sets the per-hop bar from its calibrated `bar`:

- ``utility``: `bar` is the willingness to pay, in quality points per the
  price of the dearest model for this hop. The router takes the model with the
  best ``p - bar * cost / max cost`` and sets the hop's bar to that model's
  predicted quality, so the policy's "cheapest model that clears the bar" is
  exactly that model (a cheaper model with at least that quality would have a
  higher utility). Won cross-validation (README, "Routing quality").
- ``relative``: good enough = predicted quality >= `bar` x the best prediction.
- ``absolute``: good enough = predicted quality >= `bar`; sends every prompt of
  a hard task (where no model clears the bar) to the dearest model.
"""


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
    capability: CapabilityHead | None = None
    """Capability classifier (softmax)."""
    bar: float | None = None
    """Calibrated threshold (willingness to pay); see `bar_mode`."""
    bar_mode: str = "utility"
    """How `bar` turns into the per-hop bar the policy applies (see `BAR_MODES`)."""
    alt_bar: float | None = None
    """The second bar of a mixed operating point (None: `bar` for every prompt)."""
    share: float = 1.0
    """Share of prompts routed at `bar`; the others (by `prompt_unit`) use `alt_bar`."""
    window: int = TEXT_WINDOW
    """Characters of the prompt's end the heads were trained on."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Training report: data files, cross-validated scores, calibration."""

    def predict_quality(self, x: np.ndarray) -> np.ndarray:
        """(n, models) predicted quality for rows of this artefact's encoder.

        The quality heads were fitted on the sentence vector alone: when the
        encoder appends hidden states for the capability head (an id ending
        ``:layers-..``, see `dispatch.routing.features.CAPABILITY_LAYERS`),
        they read the leading `base_width` columns of each row.
        """
        return self.quality.predict(x[:, : base_width(self.encoder, x.shape[1])])

    def save(self, path: Path) -> None:
        """Write one ``.npz`` file (no pickle)."""
        header = {
            "format": FORMAT,
            "encoder": self.encoder,
            "models": list(self.models),
            "capabilities": list(self.capabilities),
            "bar": self.bar,
            "bar_mode": self.bar_mode,
            "alt_bar": self.alt_bar,
            "share": self.share,
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
        if (
            header.get("format") not in _READABLE
            or header.get("bar_mode") not in BAR_MODES
        ):
            raise ConfigError(
                "unsupported artefact format",
                file=str(path),
                found=header.get("format"),
                expected=FORMAT,
            )
        try:
            quality = heads_from_arrays(arrays, "quality")
            capability = (
                CapabilityHead.from_arrays(arrays, "capability", header["capabilities"])
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
            bar_mode=str(header["bar_mode"]),
            alt_bar=header.get("alt_bar"),
            share=float(header.get("share", 1.0)),
            window=int(header["window"]),
            meta=header["meta"],
        )
