"""The learned layer's artefact: what `dispatch train` writes and `LearnedRouter` loads.

One ``.npz`` file (arrays plus a JSON header, loaded with
``allow_pickle=False``), versioned by `FORMAT` and by the encoder id it was
trained with: loading it next to another encoder is an error, because its
weights would be meaningless there.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.errors import ConfigError
from dispatch.routing.encoder import base_width
from dispatch.routing.features import TEXT_WINDOW
from dispatch.routing.heads import (
    CapabilityHead,
    Heads,
    KnnHeads,
    LinearHeads,
    heads_from_arrays,
)

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

    def check_registered(
        self, registered: Iterable[str], *, among: str = "the registry"
    ) -> None:
        """Raise unless at least one of `models` is among the `registered` ids.

        The router proposes only registered models it predicts for: with none,
        it has no model to propose and no price to weigh.

        Raises:
            ConfigError: naming both lists (`among`: where the ids come from).
        """
        ids = list(registered)
        if not set(self.models).intersection(ids):
            raise ConfigError(
                f"none of the artefact's models ({_listed(self.models)}) is in "
                f"{among} ({_listed(ids) or 'none'})"
            )

    def save(self, path: Path) -> None:
        """Write one ``.npz`` file (no pickle).

        The archive is written next to `path` and renamed onto it when
        complete, so a failed write leaves no partial file (and an older
        artefact at `path` untouched).

        Raises:
            ConfigError: `path` cannot be written (a directory, a missing or
                read-only folder, a full disk); the error names the file.
        """
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
        target = path.resolve()  # through a symlink, as writing in place did
        if target.is_dir():
            raise ConfigError("cannot write artefact: a directory", file=str(path))
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.partial")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with temp.open("xb") as handle:
                np.savez_compressed(handle, header=raw, **arrays)  # no object arrays
            os.replace(temp, target)
        except OSError as exc:
            raise ConfigError(
                f"cannot write artefact: {exc.strerror or exc}", file=str(path)
            ) from None
        finally:
            with contextlib.suppress(OSError):  # gone already after the rename
                temp.unlink()

    @classmethod
    def load(cls, path: Path) -> LearnedArtefact:
        """Read an artefact written by `save`.

        Raises:
            ConfigError: missing or truncated file, not an artefact, another
                format version, a header key missing or of the wrong type, or
                arrays whose shapes disagree with each other or the header, or
                that hold NaN or infinity.
        """
        try:
            # our own handle: numpy leaks the file it opened when the zip is bad
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except ValueError:  # numpy's text would suggest unpickling the file
            raise ConfigError(
                "cannot read artefact: not an .npz archive of arrays", file=str(path)
            ) from None
        except OSError as exc:  # strerror: the path is named once, by `file`
            raise ConfigError(
                f"cannot read artefact: {exc.strerror or exc}", file=str(path)
            ) from None
        except (EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise ConfigError(
                f"cannot read artefact: {exc or type(exc).__name__}", file=str(path)
            ) from None
        try:
            header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
        except (KeyError, ValueError):
            raise ConfigError("not a graph-dispatch artefact", file=str(path)) from None
        if not isinstance(header, dict):
            raise ConfigError("not a graph-dispatch artefact", file=str(path))
        if header.get("format") not in _READABLE:
            raise ConfigError(
                "unsupported artefact format",
                file=str(path),
                found=header.get("format"),
                expected=FORMAT,
            )
        if header.get("bar_mode") not in BAR_MODES:
            raise ConfigError(
                "unsupported bar mode",
                file=str(path),
                path="bar_mode",
                found=header.get("bar_mode"),
                expected=" | ".join(BAR_MODES),
            )
        _check_header(header, path)
        try:
            quality = heads_from_arrays(arrays, "quality")
            capability = (
                CapabilityHead.from_arrays(arrays, "capability", header["capabilities"])
                if header["capabilities"]
                else None
            )
        except KeyError as exc:
            raise ConfigError(f"incomplete artefact: {exc}", file=str(path)) from None
        except (ValueError, IndexError, TypeError) as exc:
            raise ConfigError(f"corrupt artefact: {exc}", file=str(path)) from None
        _check_arrays(arrays, quality, capability, header["models"], path)
        return cls(
            encoder=header["encoder"],
            models=tuple(header["models"]),
            quality=quality,
            capabilities=tuple(header["capabilities"]),
            capability=capability,
            bar=header["bar"],
            bar_mode=str(header["bar_mode"]),
            alt_bar=header.get("alt_bar"),
            share=float(header.get("share", 1.0)),
            window=header["window"],
            meta=header["meta"],
        )


def _listed(ids: Sequence[str], limit: int = 8) -> str:
    """`ids` comma-separated; of a longer list, the first `limit` and a count."""
    shown = ", ".join(ids[:limit])
    return shown if len(ids) <= limit else f"{shown} and {len(ids) - limit} more"


def _is_number(value: object) -> bool:
    """A finite JSON number (not a bool)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _is_names(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


_HEADER: Mapping[str, tuple[Any, str, bool]] = {
    "encoder": (lambda v: isinstance(v, str) and v, "an encoder id", True),
    "models": (lambda v: _is_names(v) and v, "a non-empty list of model ids", True),
    "capabilities": (_is_names, "a list of capability names", True),
    "bar": (lambda v: v is None or _is_number(v), "a number or null", True),
    "alt_bar": (lambda v: v is None or _is_number(v), "a number or null", False),
    "share": (_is_number, "a number", False),
    "window": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
        "a whole number of characters > 0",
        True,
    ),
    "meta": (lambda v: isinstance(v, dict), "an object", True),
}
"""Header key -> (check, what is expected, required)."""


def _check_header(header: Mapping[str, Any], path: Path) -> None:
    """Each header key `load` reads is present (unless optional) and well typed."""
    for key, (check, expected, required) in _HEADER.items():
        if key not in header and not required:
            continue
        value = header.get(key)
        if key not in header or not check(value):
            raise ConfigError(
                "missing or malformed artefact header key",
                file=str(path),
                path=key,
                found=value,
                expected=expected,
            )


def _check_arrays(
    arrays: Mapping[str, np.ndarray],
    quality: Heads,
    capability: CapabilityHead | None,
    models: list[str],
    path: Path,
) -> None:
    """The heads' shapes agree with each other and the header; values are finite."""

    def bad(what: str) -> ConfigError:
        return ConfigError(f"corrupt artefact: {what}", file=str(path))

    for key, value in arrays.items():
        if value.dtype.kind in "fiu" and not np.isfinite(value).all():
            raise bad(f"{key} holds NaN or infinity")
    if isinstance(quality, LinearHeads):
        w, b = quality.weights, quality.bias
        if w.ndim != 2 or b.shape != (w.shape[1],):
            raise bad(f"quality weights {w.shape} and bias {b.shape} do not match")
        outputs = w.shape[1]
    elif isinstance(quality, KnnHeads):
        pts, tgt = quality.points, quality.targets
        if pts.ndim != 2 or tgt.ndim != 2 or pts.shape[0] != tgt.shape[0]:
            raise bad(f"knn points {pts.shape} and targets {tgt.shape} do not match")
        if quality.k < 1:
            raise bad(f"knn k is {quality.k}, expected at least 1")
        outputs = tgt.shape[1]
    if outputs != len(models):
        raise bad(
            f"the quality heads predict {outputs} models, the header names "
            f"{len(models)} ({', '.join(models)})"
        )
    if capability is not None:
        w, columns = capability.embedding_weights, capability.bias.shape[0]
        extra = capability.lexical_weights
        if (
            w.ndim != 2
            or w.shape[1] != columns
            or (extra is not None and (extra.ndim != 2 or extra.shape[1] != columns))
        ):
            raise bad(
                f"capability weights {w.shape} do not match its {columns} columns"
            )
