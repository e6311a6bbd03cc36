"""The learned layer: per-prompt, per-model probability of a good answer.

A trained `LearnedArtefact` holds two heads over the prompt's embedding: the
probability that each registered model answers the prompt well (trained on
recorded outcomes), and the prompt's capability (trained on labelled prompts).
`LearnedRouter` puts both into the `RouteDecision`: ``quality`` replaces the
registry's static priors in the policy, and ``bar`` is the calibrated
willingness to pay, so the policy picks the cheapest model whose *predicted*
quality for *this* prompt clears the bar. Without an artefact the registry's
priors and tier bars stay in force.

An artefact may predict only some of the registered models (a model added
after training). A prediction and a typed-in prior are not on one scale, so the
policy chooses among the predicted models; the others serve a hop only when
none of those is eligible (context window, circuit, privacy, budget), judged by
their priors at the tier's bar, and the decision's reason says so. Loading such
an artefact warns once (`dispatch.routing.learned_loading`), naming them and
the file.

The artefact is one ``.npz`` file (arrays plus a JSON header, loaded with
``allow_pickle=False``), versioned by `FORMAT` and by the encoder id it was
trained with: loading it next to another encoder is an error, because its
weights would be meaningless there.

A calibrated operating point may be a *mix* of two bars: `bar` for a share of
prompts and `alt_bar` for the rest, the prompt deciding which by a stable hash
of its text (`prompt_unit`). Per-model predictions within one task are close
together, so sweeping a single bar moves whole tasks from one model to another
and the quality curve jumps by several points between neighbouring bars; a
target between two jumps is reachable only by mixing the two operating points
around it (the quality/cost hull). The same prompt always gets the same bar, so
routing stays deterministic and cacheable.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

from dispatch.errors import ConfigError
from dispatch.registry import Registry
from dispatch.routing.artefact import BAR_MODES, FORMAT, LearnedArtefact
from dispatch.routing.encoder import Encoder
from dispatch.routing.features import router_text
from dispatch.routing.text import well_formed
from dispatch.types import Hop, ModelSpec, RouteDecision, RouterLayer

__all__ = (
    "BAR_MODES",
    "FORMAT",
    "LearnedArtefact",
    "LearnedRouter",
    "prompt_unit",
)


class LearnedRouter:
    """Routes by the artefact's predictions; the policy then picks the model.

    Args:
        artefact: a trained artefact.
        encoder: the same encoder (by id) the artefact was trained with.
        specs: the registered models (e.g. a `Registry`): their tiers name the
            decision's tier, their prices weigh the ``utility`` bar. Artefact
            models that are not registered are never proposed; at least one
            must be registered. Registered models it has no predictions for
            are left out of the decision's ``quality`` (see the module notes).
        tiers: tier names, cheapest first.
        bar: overrides the artefact's calibrated bar, mix included (e.g. to
            sweep it): every prompt then gets `bar`.
        default_capability: used when the artefact has no capability head.
        expected_input_tokens: input size assumed for a hop that states none
            (the registry's, so the router prices hops as the policy does).

    Raises:
        ConfigError: the encoder differs from the artefact's, none of the
            artefact's models is in `specs`, no bar is known, or a bar or the
            mix share is out of range.
    """

    def __init__(
        self,
        artefact: LearnedArtefact,
        encoder: Encoder,
        *,
        specs: Iterable[ModelSpec],
        tiers: Sequence[str] = ("small", "medium", "large"),
        bar: float | None = None,
        default_capability: str = "general",
        expected_input_tokens: int = 800,
    ) -> None:
        if encoder.id != artefact.encoder:
            raise ConfigError(
                "the artefact was trained with another encoder",
                found=artefact.encoder,
                expected=encoder.id,
            )
        chosen = bar if bar is not None else artefact.bar
        alt = None if bar is not None else artefact.alt_bar
        if alt is not None and not 0.0 <= artefact.share <= 1.0:
            raise ConfigError(
                "the share of a bar mix must be in [0, 1]",
                found=artefact.share,
                expected="0 <= share <= 1",
            )
        if artefact.share >= 1.0:
            alt = None  # every prompt at `bar`: no mix
        limit = float("inf") if artefact.bar_mode == "utility" else 1.0
        for value in (chosen, alt) if alt is not None else (chosen,):
            if value is None or not (math.isfinite(value) and 0.0 <= value <= limit):
                raise ConfigError(
                    "the learned router needs finite bars >= 0 "
                    "(<= 1 unless bar_mode is utility)",
                    found=value,
                    expected="a calibrated artefact or an explicit bar",
                )
        self.artefact = artefact
        self.encoder = encoder
        self._bar_override = bar
        self.bar = float(chosen or 0.0)  # not None: checked above
        """The bar for the `share` of prompts (every prompt without a mix)."""
        self.alt_bar = alt
        """The bar for the other prompts of a mix; None without a mix."""
        self.share = artefact.share if alt is not None else 1.0
        """Share of prompts routed at `bar`."""
        self.tiers = tuple(tiers)
        self._rank = {t: i for i, t in enumerate(self.tiers)}
        by_id = {m.id: m for m in specs}
        artefact.check_registered(by_id)
        top_rank = len(self.tiers) - 1
        self._model_rank = [
            self._rank.get(by_id[m].tier, top_rank) if m in by_id else top_rank
            for m in artefact.models
        ]
        # An unregistered model's price is never read: `_known` masks it out.
        self._prices = np.array(
            [
                (float(by_id[m].input_per_mtok), float(by_id[m].output_per_mtok))
                if m in by_id
                else (0.0, 0.0)
                for m in artefact.models
            ]
        )
        self._known = np.array([m in by_id for m in artefact.models])
        # Of a registry that declares its capabilities, the head picks among
        # those (an undeclared one would find no model); else among all.
        declared = getattr(specs, "capabilities", None)
        names = artefact.capabilities or ()
        mask = np.array([c in (declared or ()) for c in names], dtype=bool)
        self._declared = mask if mask.any() and not mask.all() else None
        self.default_capability = default_capability
        self.expected_input_tokens = expected_input_tokens
        self.cache_size = 10_000
        """Prompts whose predictions are kept."""
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray | None]] = (
            OrderedDict()
        )
        self._decisions: OrderedDict[
            tuple[str, str | None, int, int], RouteDecision
        ] = OrderedDict()

    def over(self, registry: Registry) -> LearnedRouter:
        """This router (artefact, encoder, bars) over `registry`'s models, e.g.
        those whose credentials are present: the per-hop bar then comes from
        models the hop can use. Nothing is loaded again.

        Raises:
            ConfigError: none of the artefact's models is in `registry`.
        """
        self.artefact.check_registered(
            (m.id for m in registry), among="the narrowed registry"
        )
        return LearnedRouter(
            self.artefact,
            self.encoder,
            specs=registry,
            tiers=registry.tiers,
            bar=self._bar_override,
            default_capability=self.default_capability,
            expected_input_tokens=registry.expected_input_tokens,
        )

    def describe(self) -> str:
        """One line for logs."""
        kind = type(self.artefact.quality).__name__
        bar = f"{self.bar:.3f}"
        if self.alt_bar is not None:
            bar += f" for {self.share:.0%} of prompts, else {self.alt_bar:.3f}"
        return (
            f"learned: {kind} over {len(self.artefact.models)} models, "
            f"{self.artefact.bar_mode} bar {bar} ({self.encoder.id})"
        )

    def bar_for(self, prompt: str) -> float:
        """The bar `prompt` is routed at: `bar`, or `alt_bar` for the prompts a
        mix sends there (decided by `prompt_unit`, so always the same one)."""
        if self.alt_bar is None:
            return self.bar
        unit = prompt_unit(router_text(prompt, self.artefact.window))
        return self.bar if unit < self.share else self.alt_bar

    def predict(self, prompt: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Predicted quality per model and capability probabilities for `prompt`.

        Predictions are kept in an LRU keyed by the prompt: a repeated prompt (a
        retry, the same sub-task in another branch) costs a dictionary look-up.
        """
        hit = self._cache.get(prompt)
        if hit is not None:
            self._cache.move_to_end(prompt)
            return hit
        text = router_text(prompt, self.artefact.window)
        head = self.artefact.capability
        caps = None
        if head is None:
            x = self.encoder.encode([text])
        else:  # the head's text features are computed while the encoder runs
            x, caps = head.predict_encoding(prompt, lambda: self.encoder.encode([text]))
        result = (self.artefact.predict_quality(x)[0], caps)
        self._cache[prompt] = result
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def decide(self, hop: Hop) -> RouteDecision:
        """Capability, tier, per-model quality and the bar for `hop`.

        A decision depends only on the prompt, the hints and the hop's token
        sizes, so repeated hops are answered from an LRU of decisions.
        """
        key = (
            hop.prompt,
            hop.capability_hint,
            hop.input_tokens,
            hop.max_output_tokens,
        )
        cached = self._decisions.get(key)
        if cached is not None:
            self._decisions.move_to_end(key)
            return cached
        quality, caps = self.predict(hop.prompt)
        decision = self.decision(hop, quality, caps)
        self._decisions[key] = decision
        if len(self._decisions) > self.cache_size:
            self._decisions.popitem(last=False)
        return decision

    def decision(
        self,
        hop: Hop,
        quality: np.ndarray,
        caps: np.ndarray | None,
        *,
        bar: float | None = None,
    ) -> RouteDecision:
        """The decision for already computed predictions (see `predict`).

        `bar` overrides the router's bar and mix (evaluation sweeps it this way).
        """
        if hop.capability_hint is not None:
            capability, confidence = hop.capability_hint, 1.0
        elif caps is not None:
            if self._declared is None:
                best = int(np.argmax(caps))
                confidence = float(caps[best])
            else:
                best = int(np.argmax(np.where(self._declared, caps, -np.inf)))
                confidence = float(caps[best] / max(caps[self._declared].sum(), 1e-12))
            capability = self.artefact.capabilities[best]
        else:
            capability, confidence = self.default_capability, 0.5
        wanted = self.bar_for(hop.prompt) if bar is None else bar
        known = np.where(self._known, quality, -np.inf)
        top = float(known.max())
        mode = self.artefact.bar_mode
        if mode == "utility":
            cost = self._hop_costs(hop)
            dearest = float(cost[self._known].max())  # >= 1 known: checked at init
            # When every registered model is free for this hop (local models, a
            # zero price) money is no object: scaled costs are all 0 and the best
            # prediction wins, whatever the bar.
            scaled = np.where(self._known, cost / (dearest or 1.0), 0.0)
            utility = np.where(self._known, known - wanted * scaled, -np.inf)
            hop_bar = float(known[int(np.argmax(utility))])
        elif mode == "relative":
            hop_bar = wanted * top
        else:
            hop_bar = wanted
        clears = [
            r for r, q in zip(self._model_rank, known, strict=True) if q >= hop_bar
        ]
        if clears:
            tier = self.tiers[min(clears)]
            noun = "model" if len(clears) == 1 else "models"
            why = f"{len(clears)} {noun} predicted >= {hop_bar:.3f}"
            why += f" ({mode} bar {wanted:.3f})"
        else:
            # Nobody is predicted to clear the bar: the best prediction sets it, so
            # the policy still has the most promising model to choose.
            hop_bar, tier = top, self.tiers[-1]
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
            bar=hop_bar,
        )

    def _hop_costs(self, hop: Hop) -> np.ndarray:
        """USD of `hop` per artefact model: its input estimate plus its output cap
        (the amount `dispatch.policy.planned_cost` ranks models by)."""
        tokens = np.array(
            [hop.input_tokens or self.expected_input_tokens, hop.max_output_tokens],
            dtype=np.float64,
        )
        return np.asarray(self._prices @ tokens / 1e6)


def prompt_unit(text: str) -> float:
    """A number in [0, 1) fixed by `text` alone (BLAKE2b of its UTF-8 bytes).

    Stable across processes and machines (unlike `hash`), so a bar mix sends
    the same prompt the same way in training, evaluation and production, and
    close to uniform over prompts, so a mix's share holds on any large set.
    A lone surrogate counts as U+FFFD (`well_formed`), as the encoder reads it.
    """
    digest = hashlib.blake2b(well_formed(text).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64
