"""A strong/weak router whose operating point is a *share* of strong-model calls.

RouteLLM's setting: two models, a strong (dear) one and a weak (cheap) one, and a
score per prompt, the probability that the strong model answers it well where the
weak one does not ("strong wins"). The learned layer (`LearnedRouter`) turns
predicted probabilities into a choice with a threshold in *probability* space.
That threshold does not survive a change of task: trained on MMLU, its
probabilities shift on ARC, MBPP or Winogrande, and the bar calibrated on MMLU
sent 90-93 % of RouterBench prompts to GPT-4 (README, "RouteLLM transfer").

`ShareRouter` keeps the score but moves the operating point into *rank* space,
as RouteLLM calibrates its thresholds by the share of strong calls on a
reference prompt set. Training (`dispatch.eval.transfer`) finds the share of
strong calls that reaches the target quality on the training task; live, the
router keeps a `RunningQuantile` of the scores of the prompts it has seen
(unlabelled: no outcome of the new task is used) and sends a prompt to the
strong model when its score is in the top `share` of that window. The window is
seeded with the training scores, so the first hop routes as the training
calibration says and the threshold drifts to the live traffic's own quantile.

What this does and does not buy (measured, README): the share of strong calls
lands where it was calibrated on any traffic; the quality at that share depends
only on how well the score *ranks* prompts on the new task.

The artefact is one ``.npz`` (arrays plus a JSON header, ``allow_pickle=False``).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from dispatch.errors import ConfigError
from dispatch.routing.encoder import Encoder
from dispatch.routing.features import TEXT_WINDOW, router_text
from dispatch.routing.heads import LinearHeads, heads_from_arrays
from dispatch.routing.quantile import RunningQuantile
from dispatch.types import Hop, ModelSpec, RouteDecision, RouterLayer

__all__ = (
    "FORMAT",
    "RunningQuantile",
    "ShareArtefact",
    "ShareRouter",
    "TextView",
    "question_text",
    "scores_of",
    "view_text",
)

FORMAT = "graph-dispatch.share/1"
"""Artefact format name; bumped when the layout changes."""

TextView = Literal["question", "tail"]
"""What of a prompt the head reads: ``question`` drops answered few-shot
demonstrations (`question_text`), ``tail`` keeps the end (`router_text`)."""

_DEMO_END = re.compile(r"Answer:[ \t]*\n[^\n]{1,40}\n[ \t]*\n")
"""The end of an answered demonstration: an ``Answer:`` line, a short answer on
the next line, then a blank line (the few-shot layout of RouterBench, HELM and
lm-eval-harness prompts)."""

_EPS = 1e-6
"""Scores are clipped to [eps, 1 - eps] so ``1 - score`` never equals 1 or 0."""


def question_text(prompt: str) -> str:
    """`prompt` without the answered demonstrations that precede its question.

    A few-shot prompt repeats solved examples before the one question being
    asked. A head trained on zero-shot questions (MMLU) has never seen the
    examples; reading them would score the examples' difficulty, not the
    question's. MiniLM also reads only the first 256 word pieces of its
    input: a window that starts inside the demonstrations (the last 1,500
    characters of a RouterBench Winogrande prompt are ~350 word pieces) embeds
    the fixed examples and never the question. A prompt with no
    demonstration is returned unchanged.

    Example:
        >>> question_text("2+2?\\nAnswer:\\n4\\n\\n3+5?\\nAnswer:")
        '3+5?\\nAnswer:'
    """
    ends = [m.end() for m in _DEMO_END.finditer(prompt)]
    if not ends:
        return prompt
    rest = prompt[ends[-1] :]
    return rest if rest.strip() else prompt


def view_text(prompt: str, view: TextView, window: int = TEXT_WINDOW) -> str:
    """The text the share head encodes for `prompt` under `view`."""
    if view == "question":
        prompt = question_text(prompt)
    return router_text(prompt, window)


@dataclass(frozen=True, slots=True, eq=False)
class ShareArtefact:
    """What `dispatch.eval.transfer.train_share_router` produces."""

    encoder: str
    """Id of the encoder the head was trained on (`Encoder.id`)."""
    strong: str
    """Registry id of the strong (dear) model."""
    weak: str
    """Registry id of the weak (cheap) model."""
    head: LinearHeads
    """One sigmoid output: P(strong answers well and weak does not)."""
    share: float
    """Calibrated share of prompts to send to the strong model (0-1)."""
    reference: npt.NDArray[np.float32]
    """Sorted scores of the training prompts (quantiles), to seed the window and
    for the fixed-threshold mode."""
    view: TextView = "question"
    """What of a prompt the head reads (see `TextView`)."""
    window: int = TEXT_WINDOW
    """Characters of the prompt's end the head reads."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Training report: data, target, cross-validated scores, calibration."""

    def score(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(n,) strong-wins scores for (n, dim) embeddings, clipped off 0 and 1."""
        out: npt.NDArray[np.float32] = np.clip(
            self.head.predict(x)[:, 0], _EPS, 1 - _EPS
        )
        return out

    def threshold(self, share: float | None = None) -> float:
        """The training-score quantile above which `share` of prompts lie."""
        wanted = self.share if share is None else share
        ref = self.reference
        return float(ref[int((1.0 - wanted) * (len(ref) - 1))])

    def save(self, path: Path) -> None:
        """Write one ``.npz`` file (no pickle)."""
        header = {
            "format": FORMAT,
            "encoder": self.encoder,
            "strong": self.strong,
            "weak": self.weak,
            "share": self.share,
            "view": self.view,
            "window": self.window,
            "meta": dict(self.meta),
        }
        arrays: dict[str, Any] = dict(self.head.arrays("share"))
        arrays["reference"] = self.reference
        arrays["header"] = np.frombuffer(
            json.dumps(header).encode("utf-8"), dtype=np.uint8
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez_compressed(handle, **arrays)  # no object arrays

    @classmethod
    def load(cls, path: Path) -> ShareArtefact:
        """Read an artefact written by `save`.

        Raises:
            ConfigError: missing file, not a share artefact, or another version.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"cannot read share artefact: {exc}", file=str(path)
            ) from None
        if header.get("format") != FORMAT:
            raise ConfigError(
                "unsupported share artefact format",
                file=str(path),
                found=header.get("format"),
                expected=FORMAT,
            )
        head = heads_from_arrays(arrays, "share")
        if not isinstance(head, LinearHeads) or "reference" not in arrays:
            raise ConfigError("incomplete share artefact", file=str(path))
        return cls(
            encoder=str(header["encoder"]),
            strong=str(header["strong"]),
            weak=str(header["weak"]),
            head=head,
            share=float(header["share"]),
            reference=arrays["reference"].astype(np.float32),
            view="tail" if header["view"] == "tail" else "question",
            window=int(header["window"]),
            meta=header["meta"],
        )


class ShareRouter:
    """Sends the top `share` of prompts, by strong-wins score, to the strong model.

    The decision carries, per registered model, the predicted probability that
    its answer is as good as the strong model's (the strong model: 1; the weak
    one: ``1 - score``; any other model: 0, never proposed) and a bar that only
    the chosen model clears, so `dispatch.policy.select` picks it the way it
    picks any learned decision.

    Thresholds (`adaptive`):

    - True: the ``1 - share`` quantile of a `RunningQuantile` over the scores of
      the last `window` distinct prompts routed, seeded with the training
      scores. The share of strong calls follows the live traffic, whatever its
      score distribution.
    - False: the training scores' quantile, fixed (RouteLLM's calibration on a
      reference set). Kept to measure what the running quantile changes.

    A prompt seen before is answered from an LRU of decisions and not counted
    again, so a retry routes as the first attempt did and repeated prompts do
    not skew the window. Safe to share between threads (one lock).

    Args:
        artefact: a trained `ShareArtefact`.
        encoder: the encoder (by id) the artefact was trained with.
        specs: the registered models; both `artefact.strong` and
            `artefact.weak` must be among them (their tiers name the decision's).
        share: overrides the calibrated share of strong calls.
        adaptive: running (True) or fixed (False) threshold.
        window: prompts the running quantile remembers.
        default_capability: the decision's capability when the hop has no hint.

    Raises:
        ConfigError: another encoder, a model of the pair not registered, or a
            share outside [0, 1].
    """

    def __init__(
        self,
        artefact: ShareArtefact,
        encoder: Encoder,
        *,
        specs: Iterable[ModelSpec],
        share: float | None = None,
        adaptive: bool = True,
        window: int = 1000,
        default_capability: str = "general",
    ) -> None:
        if encoder.id != artefact.encoder:
            raise ConfigError(
                "the share artefact was trained with another encoder",
                found=artefact.encoder,
                expected=encoder.id,
            )
        by_id = {m.id: m for m in specs}
        missing = [m for m in (artefact.strong, artefact.weak) if m not in by_id]
        if missing:
            raise ConfigError(
                "the share router's models are not registered",
                found=missing,
                expected=", ".join(sorted(by_id)),
            )
        self.share = artefact.share if share is None else share
        if not 0.0 <= self.share <= 1.0:
            raise ConfigError("share must be in [0, 1]", found=self.share)
        self.artefact = artefact
        self.encoder = encoder
        self.adaptive = adaptive
        self.default_capability = default_capability
        self._tiers = (by_id[artefact.weak].tier, by_id[artefact.strong].tier)
        self._others = tuple(
            m for m in by_id if m not in (artefact.strong, artefact.weak)
        )
        ref = artefact.reference
        seed = ref[np.linspace(0, len(ref) - 1, min(window, len(ref))).astype(int)]
        # Seeded in a shuffled order: the window drops its oldest values first,
        # and sorted seeds would drop the low scores first and bias the quantile.
        order = np.random.default_rng(0).permutation(len(seed))
        self._quantile = RunningQuantile(
            1.0 - self.share, window=window, seed=(float(v) for v in seed[order])
        )
        self._fixed = artefact.threshold(self.share)
        self._lock = threading.Lock()
        self.cache_size = 10_000
        """Prompts whose decisions are kept."""
        self._decisions: OrderedDict[tuple[str, str | None], RouteDecision] = (
            OrderedDict()
        )

    def describe(self) -> str:
        """One line for logs."""
        how = "running" if self.adaptive else "fixed"
        return (
            f"share: top {self.share:.1%} by strong-wins score -> "
            f"{self.artefact.strong}, else {self.artefact.weak} "
            f"({how} quantile, {self.encoder.id})"
        )

    def score(self, prompt: str) -> float:
        """The strong-wins score of `prompt` (encoder plus one dot product)."""
        text = view_text(prompt, self.artefact.view, self.artefact.window)
        return float(self.artefact.score(self.encoder.encode([text]))[0])

    def decide(self, hop: Hop) -> RouteDecision:
        """Strong or weak for `hop`, by its score against the current threshold."""
        key = (hop.prompt, hop.capability_hint)
        with self._lock:
            cached = self._decisions.get(key)
            if cached is not None:
                self._decisions.move_to_end(key)
                return cached
        score = self.score(hop.prompt)
        with self._lock:
            cached = self._decisions.get(key)
            if cached is not None:  # another thread routed it meanwhile
                return cached
            threshold = self.observe(score)
            decision = self.decision(hop, score, threshold)
            self._decisions[key] = decision
            if len(self._decisions) > self.cache_size:
                self._decisions.popitem(last=False)
        return decision

    def observe(self, score: float) -> float:
        """Count `score` in the window and return the threshold to compare it to.

        Not locked: `decide` holds the router's lock around it. With a fixed
        threshold nothing is counted.
        """
        if not self.adaptive:
            return self._fixed
        self._quantile.add(score)
        return self._quantile.value()

    def decision(self, hop: Hop, score: float, threshold: float) -> RouteDecision:
        """The decision for a computed `score` at `threshold` (evaluation sweeps
        the threshold this way). Strong when ``score > threshold``."""
        strong = score > threshold
        weak_quality = 1.0 - score
        quality = {self.artefact.strong: 1.0, self.artefact.weak: weak_quality}
        quality.update(dict.fromkeys(self._others, 0.0))
        if strong:
            why = f"strong-wins {score:.3f} > {threshold:.3f}"
        else:
            why = f"strong-wins {score:.3f} <= {threshold:.3f}"
        return RouteDecision(
            capability=hop.capability_hint or self.default_capability,
            tier=self._tiers[strong],
            confidence=round(score if strong else weak_quality, 3),
            router=RouterLayer.LEARNED,
            reason=f"{why} (top {self.share:.1%} to {self.artefact.strong})",
            quality=quality,
            # Only the chosen model clears: the strong one's 1.0, or the weak
            # one's own prediction (the strong model clears it too, but costs more).
            bar=1.0 if strong else weak_quality,
        )


def scores_of(
    artefact: ShareArtefact, encoder: Encoder, prompts: Sequence[str]
) -> npt.NDArray[np.float32]:
    """Strong-wins scores of many `prompts` (batched; evaluation and training)."""
    texts = [view_text(p, artefact.view, artefact.window) for p in prompts]
    parts = [encoder.encode(texts[i : i + 64]) for i in range(0, len(texts), 64)]
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return artefact.score(np.concatenate(parts).astype(np.float32, copy=False))
