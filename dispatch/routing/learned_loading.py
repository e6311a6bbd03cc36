"""Loading a trained artefact as the live router: checked against the registry
and the encoder once, at start-up, so a mismatch fails there and not in a hop.

`load_learned_router` is the entry point (``Dispatcher(registry,
router=load_learned_router(path, registry))``); a config's
``routing: {artefact: ...}`` goes through `configured_learned_router`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from dispatch.config import DEFAULT_CONFIG, load_config
from dispatch.config_schema import Config
from dispatch.errors import ConfigError
from dispatch.registry import Registry
from dispatch.routing.artefact import LearnedArtefact, _listed
from dispatch.routing.encoder import Encoder
from dispatch.routing.learned import LearnedRouter
from dispatch.types import Hop

__all__ = (
    "UnpredictedModelsWarning",
    "configured_learned_router",
    "learned_router_from_config",
    "load_learned_router",
)


class UnpredictedModelsWarning(UserWarning):
    """A loaded artefact has no predictions for some registered models.

    The policy then chooses among the models it predicts; the others serve a
    hop only when none of those is eligible (see `dispatch.policy.select`).
    """


def load_learned_router(
    path: Path,
    registry: Registry,
    *,
    encoder: Encoder | None = None,
    bar: float | None = None,
) -> LearnedRouter:
    """The learned router of artefact `path` over `registry`'s models.

    Give it to the dispatcher at start-up: ``Dispatcher(registry,
    router=load_learned_router(path, registry))``, or name the artefact in the
    config (``routing: {artefact: router.npz}``) and use `learned_router_from_config`.

    Args:
        path: the ``.npz`` written by `dispatch train`.
        registry: the models the policy chooses from.
        encoder: default: the installed MiniLM encoder the artefact was
            trained with (float32 or int8), cached in memory only. A live
            service sees mostly new prompts: a disk cache would cost a write
            on every new prompt's hop and grow without bound (~4.6 KB a
            prompt with the appended layers); repeats are served by the
            in-memory caches. Pass ``default_encoder(encoder_id=...)`` to
            keep vectors across restarts.
        bar: overrides the calibrated bar.

    Warns:
        UnpredictedModelsWarning: `registry` holds models the artefact has no
            predictions for (once, naming them and the file); the policy
            chooses them only when none of the predicted models is eligible.

    Raises:
        ConfigError: the file is not a readable artefact, its encoder id
            names an encoder this installation cannot build (another
            precision's dependencies missing, layers the model lacks) or
            differs from `encoder`'s, its heads do not fit the encoder's
            vectors, none of its models is in `registry`, or its bar is out of
            range; the error names the file.
    """
    artefact = LearnedArtefact.load(path)
    try:  # before the encoder is built: this needs nothing but the two lists
        artefact.check_registered(m.id for m in registry)
    except ConfigError as exc:
        raise ConfigError(str(exc), file=str(path)) from None
    if encoder is None:
        from dispatch.routing.features import default_encoder  # noqa: PLC0415

        try:
            encoder = default_encoder(encoder_id=artefact.encoder, disk_cache=False)
        except (ConfigError, OSError) as exc:  # OSError: e.g. the cache directory
            raise ConfigError(
                f"cannot build the encoder {artefact.encoder!r} the artefact was "
                f"trained with ({exc})",
                file=str(path),
            ) from None
    try:
        router = LearnedRouter(
            artefact,
            encoder,
            specs=registry,
            tiers=registry.tiers,
            bar=bar,
            expected_input_tokens=registry.expected_input_tokens,
        )
    except ConfigError as exc:
        raise ConfigError(str(exc), file=str(path)) from None
    # One prediction and one decision now, so heads of another width or a
    # decision that cannot be made over this registry fail here, not in a hop.
    probe = Hop(specialist="load-check", prompt="graph-dispatch checks the artefact")
    try:
        quality, caps = router.predict(probe.prompt)
    except ValueError as exc:
        raise ConfigError(
            f"the artefact's heads do not fit the encoder's vectors ({exc})",
            file=str(path),
        ) from None
    try:  # a NaN or a division by zero in the decision is an error here
        with np.errstate(divide="raise", invalid="raise"):
            router.decision(probe, quality, caps)
    except (ArithmeticError, ValueError) as exc:
        raise ConfigError(
            f"the artefact cannot route over this registry ({exc})", file=str(path)
        ) from None
    _warn_unpredicted(path, artefact, registry)
    return router


def _warn_unpredicted(
    path: Path, artefact: LearnedArtefact, registry: Registry
) -> None:
    """One `UnpredictedModelsWarning` when `registry` holds models `artefact`
    has no predictions for (the policy keeps them as a last resort)."""
    known = set(artefact.models)
    unpredicted = [m.id for m in registry if m.id not in known]
    if not unpredicted:
        return
    registered = {m.id for m in registry}
    predicted = [m for m in artefact.models if m in registered]
    models = "model" if len(unpredicted) == 1 else "models"
    warnings.warn(
        f"{path}: the learned artefact has no predictions for {len(unpredicted)} "
        f"registered {models} ({_listed(unpredicted)}); they serve a hop only "
        f"when none of the models it predicts ({_listed(predicted)}) is eligible",
        UnpredictedModelsWarning,
        stacklevel=3,
    )


def learned_router_from_config(
    source: str | Path, registry: Registry, *, encoder: Encoder | None = None
) -> LearnedRouter | None:
    """The router named by the config's ``routing.artefact`` (None when unset)."""
    config, _ = load_config(source)
    return configured_learned_router(config, source, registry, encoder=encoder)


def configured_learned_router(
    config: Config,
    source: str | Path,
    registry: Registry,
    *,
    encoder: Encoder | None = None,
) -> LearnedRouter | None:
    """As `learned_router_from_config`, for a config already loaded from `source`
    (which relative artefact paths are resolved against)."""
    if config.routing.artefact is None:
        return None
    path = Path(config.routing.artefact)
    if not path.is_absolute() and str(source) != DEFAULT_CONFIG:
        path = Path(source).parent / path
    return load_learned_router(path, registry, encoder=encoder, bar=config.routing.bar)
