"""The routers ``dispatch route`` offers: rules, semantic (MiniLM), hybrid, or
the learned artefact the config names (by default, or with ``--router learned``).

The semantic stack (sentence-transformers, torch) is imported only when asked
for, so a rules-only ``dispatch route`` stays fast.
"""

from __future__ import annotations

from dispatch.cli.options import RouterChoice
from dispatch.registry import Registry
from dispatch.routing import Router

__all__ = ("HYBRID_THRESHOLD", "cli_router", "route_setup")

HYBRID_THRESHOLD = 0.77
"""Rules confidence from which the hybrid takes the rules' decision over the
semantic layer's, measured by ``python -m bench.hybrid_threshold`` on the 4,482
dev prompts: macro-F1 is flat at 0.694 from 0.765 to 0.80 and falls to the
semantic layer's 0.575 above 0.80 (few rules decisions are surer), so the
threshold sits inside the plateau, not on its edge. Chosen on one half and
scored on the other: accuracy 0.716 and 0.724."""


def cli_router(name: RouterChoice, registry: Registry) -> Router:
    """The router ``dispatch route --router NAME`` decides with (rules,
    semantic or hybrid: the learned one needs the config, see `route_setup`).

    Raises:
        ConfigError: a semantic router without sentence-transformers installed.
        ValueError: `name` is ``learned``.
    """
    import importlib.util  # noqa: PLC0415

    from dispatch.errors import ConfigError  # noqa: PLC0415
    from dispatch.routing.rules import RulesRouter  # noqa: PLC0415

    if name is RouterChoice.LEARNED:
        raise ValueError("the learned router is built from a config: route_setup")
    rules = RulesRouter(tiers=registry.tiers, capabilities=registry.capabilities)
    if name is RouterChoice.RULES:
        return rules
    if importlib.util.find_spec("sentence_transformers") is None:
        raise ConfigError(
            f"{name.value} needs sentence-transformers: "
            "pip install 'graph-dispatch[semantic]'",
            path="--router",
        )
    from dispatch.routing import HybridRouter, SemanticRouter  # noqa: PLC0415
    from dispatch.routing.features import default_encoder  # noqa: PLC0415
    from dispatch.routing.semantic import default_utterances  # noqa: PLC0415

    # onnxruntime when installed (same vectors, ~5x faster), else torch; the
    # embeddings of prompts already seen come from the disk cache
    semantic = SemanticRouter(
        default_encoder(), default_utterances(), tier_router=rules
    )
    if name is RouterChoice.SEMANTIC:
        return semantic
    return HybridRouter([rules, semantic], [HYBRID_THRESHOLD])


def route_setup(name: RouterChoice | None, config: str) -> tuple[Registry, Router]:
    """The registry of `config` and the router ``dispatch route`` decides with.

    `name` (an explicit ``--router``) wins; without it, the learned artefact
    the config names in ``routing.artefact`` (loaded as every other command
    loads it, with ``routing.bar``), else the rules layer. ``learned`` asks
    for that artefact explicitly: an error when the config names none.

    Raises:
        ConfigError: the config, or the artefact it names, is invalid; the
            router asked for cannot be built (see `cli_router`); or
            ``learned`` is asked for and the config names no artefact.
    """
    from dispatch.config import DEFAULT_CONFIG, load_config  # noqa: PLC0415
    from dispatch.errors import ConfigError  # noqa: PLC0415

    settings, specs = load_config(config)
    registry = Registry.from_specs(settings, specs)
    wants_learned = name is None or name is RouterChoice.LEARNED
    if wants_learned and settings.routing.artefact is not None:
        from dispatch.routing.learned_loading import configured_learned_router  # noqa: PLC0415

        learned = configured_learned_router(settings, config, registry)
        if learned is not None:  # always: the config names an artefact
            return registry, learned
    if name is RouterChoice.LEARNED:
        source = "the shipped registry" if config == DEFAULT_CONFIG else config
        raise ConfigError(
            f"learned needs a trained artefact, and {source} names none in "
            "routing.artefact (dispatch train writes one)",
            path="--router",
        )
    return registry, cli_router(name or RouterChoice.RULES, registry)
