"""``dispatch train`` and ``dispatch eval outcomes|capability``.

Both read the shared replay format, embed with the fastest installed encoder
(ONNX, else torch) through the on-disk embedding cache, draw a progress bar on
stderr, and print either tables (`dispatch.cli.learn_render`) or one JSON
object (``--json``) on stdout.
Registered from `dispatch.cli.app` with ``app.command()(train)`` and
``app.add_typer(eval_app, name="eval")``.

The training and evaluation stack (scikit-learn, numpy, the encoder) is
imported inside each command, so ``dispatch --help`` and the other commands
never load it. Bad input (a missing file, an unknown model or head) exits 2
with one ``error:`` line, like every other command.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape

from dispatch.cli.learn_checks import (
    check_folds,
    check_output,
    check_prompt_sizes,
    check_target,
)
from dispatch.cli.learn_render import print_capability, print_outcomes, print_train
from dispatch.cli.outcome import ExitCode, Outcome
from dispatch.cli.render import err, fail
from dispatch.errors import ConfigError, DispatchError

__all__ = ("eval_app", "train")

eval_app = typer.Typer(
    help="Measure routing on recorded benchmark data (replay format).",
    no_args_is_help=True,
)
"""The ``dispatch eval`` group; bare ``dispatch eval`` prints its help."""

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object instead of tables.")
]
"""``--json``; it also turns the progress bar off, so stdout is the JSON alone."""
TrainOpt = Annotated[
    Path, typer.Option("--train", help="Training replay file (JSONL).", exists=False)
]
"""``--train``: existence is left to `read_replay`, whose `ConfigError` names the
file, so a missing file is the same one-line error (exit 2) as a bad line."""


def _interrupted(reason: str, *, json_: bool) -> NoReturn:
    """Ctrl-C: one ``interrupted:`` line, the ``--json`` object, exit 130.

    Typer would exit 130 silently, and ``--json`` would leave stdout empty.
    """
    outcome = Outcome("interrupted", ExitCode.INTERRUPTED, reason)
    err.print(f"[bold red]interrupted:[/] {escape(reason)}")
    if json_:
        print(json.dumps(outcome.as_json()))
    raise typer.Exit(code=int(outcome.exit_code))


@contextmanager
def _progress(enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr; yields the ``(stage, done, total)`` callback.

    BLAS is held to one thread meanwhile: the work is many small matrix products
    next to onnxruntime's own threads, and on two cores a threaded OpenBLAS was
    measured ~100 ms slower per kNN batch (issue 8).
    """
    from rich.progress import (  # noqa: PLC0415 - not for the other commands' start-up
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
    )
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not enabled,
    )
    tasks: dict[str, Any] = {}

    def tick(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done)

    with bar, threadpool_limits(limits=1, user_api="blas"):
        yield tick


def _encoder(layers: Sequence[int] | None = None) -> Any:
    """The fastest installed MiniLM encoder with its disk cache (lazy import).

    It appends `layers`' hidden states (default `CAPABILITY_LAYERS`, as
    trained artefacts do; the quality heads read only the sentence vector).
    The disk cache lets a rerun (another head, another router, the same data)
    skip embedding prompts it has embedded before.
    """
    from dispatch.routing.features import (  # noqa: PLC0415
        CAPABILITY_LAYERS,
        default_encoder,
    )

    try:
        return default_encoder(layers=CAPABILITY_LAYERS if layers is None else layers)
    except OSError as exc:  # e.g. $DISPATCH_CACHE_DIR names a file
        raise ConfigError(
            f"cannot use the encoder's cache directory ($DISPATCH_CACHE_DIR): "
            f"{exc.strerror or exc}",
            file=None if exc.filename is None else str(exc.filename),
        ) from None


def train(
    outcomes: Annotated[
        Path, typer.Argument(metavar="OUTCOMES", help="Outcome replay file (JSONL).")
    ],
    models: Annotated[Path, typer.Option("--models", help="benchmark_models.json")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Artefact (.npz).")],
    labelled: Annotated[
        Path | None,
        typer.Option(help="Capability-labelled prompts (default: OUTCOMES' labels)."),
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="Reference model (default: best mean quality).")
    ] = None,
    target_quality: Annotated[
        float, typer.Option(help="Quality ratio to calibrate the bar for.")
    ] = 0.95,
    head: Annotated[
        str,
        typer.Option(
            help="Quality head: logreg, mf, knn or a logreg variant "
            "(logreg-conservative, logreg-relative, logreg-absolute)."
        ),
    ] = "logreg",
    json_: JsonOpt = False,
) -> None:
    """Train the learned layer and the capability classifier; write an artefact.

    The artefact is one .npz file (arrays and a JSON header, no pickle); point
    the registry's routing.artefact at it to route live hops with it. The bar
    is calibrated on out-of-fold predictions, so the routed quality as a ratio
    of the reference model's should reach --target-quality on new prompts.
    """
    from dispatch.eval.models import (  # noqa: PLC0415 - heavy imports, on demand
        benchmark_registry,
        model_id,
        outcome_models,
    )
    from dispatch.eval.outcomes import ROUTERS  # noqa: PLC0415
    from dispatch.eval.training import train_router  # noqa: PLC0415
    from dispatch.routing.replay import read_models, read_replay  # noqa: PLC0415

    try:
        if head not in ROUTERS:
            raise ConfigError(
                "unknown quality head",
                path="--head",
                found=head,
                expected=", ".join(ROUTERS),
            )
        check_target(target_quality)
        check_output(output, "artefact")
        records = read_replay(outcomes, need_outcomes=True)
        check_prompt_sizes(records, outcomes)
        table = read_models(models)
        labels = read_replay(labelled, need_capability=True) if labelled else records
        if labelled and len({r.capability for r in labels}) < 2:
            raise ConfigError(
                "the capability classifier needs labelled prompts of at least "
                "two capabilities",
                file=str(labelled),
                found=sorted({str(r.capability) for r in labels}),
                expected="two or more capability labels",
            )
        names_list = outcome_models(records)
        if len(names_list) < 2:
            raise ConfigError(
                "fewer than two models with outcomes on every line",
                file=str(outcomes),
                found=names_list,
                expected="at least two models",
            )
        ref = reference or max(
            names_list,
            key=lambda n: sum(r.outcomes[n].quality for r in records),
        )
        if ref not in names_list:
            raise ConfigError(
                "not a model with outcomes",
                path="--reference",
                found=ref,
                expected=", ".join(names_list),
            )
        registry = benchmark_registry(
            table, names_list, records, baseline=ref, file=str(models)
        )
        check_folds(
            records, outcomes, labels, labelled or outcomes, ROUTERS[head].folds
        )
        names = {n: model_id(n, table[n]) for n in names_list}
        with _progress(not json_) as tick:
            trained = train_router(
                records,
                _encoder(),
                registry=registry,
                names=names,
                reference=ref,
                target=target_quality,
                labelled=labels,
                config=ROUTERS[head],
                progress=tick,
            )
        trained.artefact.save(output)
    except (DispatchError, ValueError) as exc:
        fail(exc, json_=json_)
    except KeyboardInterrupt:
        kept = f"; {output} is as it was" if output.exists() else ""
        _interrupted(
            f"training stopped by Ctrl-C; no artefact written{kept}", json_=json_
        )
    summary = {"artefact": str(output), **trained.artefact.meta}
    if json_:
        print(json.dumps(summary))
        return
    print_train(summary)


@eval_app.command("outcomes")
def eval_outcomes(
    data: Annotated[
        Path, typer.Argument(metavar="DATA", help="Replay file to route and score.")
    ],
    train_file: TrainOpt,
    models: Annotated[Path, typer.Option("--models", help="benchmark_models.json")],
    router: Annotated[
        str,
        typer.Option(
            help="learned (the shipped head), logreg, mf, knn or a logreg "
            "variant (logreg-conservative, logreg-relative, logreg-absolute)."
        ),
    ] = "learned",
    reference: Annotated[str | None, typer.Option(help="Reference model.")] = None,
    target_quality: Annotated[float, typer.Option(help="Target quality ratio.")] = 0.95,
    plot: Annotated[Path | None, typer.Option(help="Write the curve as a PNG.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Train and calibrate on TRAIN, route DATA, score the recorded outcomes.

    Ratios are against the reference model (default: best mean quality on
    TRAIN). DATA is never used to train or calibrate, so its quality and cost
    ratios estimate what the router would do on new prompts.
    """
    from dispatch.eval.outcomes import (  # noqa: PLC0415
        ROUTERS,
        check_router,
        evaluate_outcomes,
    )
    from dispatch.routing.replay import read_models, read_replay  # noqa: PLC0415

    try:
        check_router(router)  # before the encoder is built (an ONNX export)
        check_target(target_quality)
        if plot is not None:
            from dispatch.eval.plot import check_plot_format  # noqa: PLC0415

            check_plot_format(plot)
            check_output(plot, "the --plot")
        train_records = read_replay(train_file, need_outcomes=True)
        data_records = read_replay(data, need_outcomes=True)
        check_prompt_sizes(train_records, train_file)
        check_prompt_sizes(data_records, data)
        table = read_models(models)
        folds = ROUTERS[router].folds
        check_folds(train_records, train_file, train_records, train_file, folds)
        with _progress(not json_) as tick:
            report = evaluate_outcomes(
                data_records,
                train_records,
                table,
                _encoder(),
                router=router,
                reference=reference,
                target=target_quality,
                progress=tick,
                models_file=str(models),
            )
        if plot is not None:
            from dispatch.eval.plot import plot_curve  # noqa: PLC0415

            plot_curve(report, plot)
    except (DispatchError, ValueError) as exc:
        fail(exc, json_=json_)
    except KeyboardInterrupt:
        _interrupted("evaluation stopped by Ctrl-C; nothing written", json_=json_)
    if json_:
        print(json.dumps(report))
        return
    print_outcomes(report)


@eval_app.command("capability")
def eval_capability(
    data: Annotated[
        Path, typer.Argument(metavar="DATA", help="Labelled prompts to classify.")
    ],
    train_file: TrainOpt,
    router: Annotated[
        str, typer.Option(help="learned, semantic, rules or hybrid.")
    ] = "learned",
    json_: JsonOpt = False,
) -> None:
    """Train on TRAIN's capability labels, classify DATA, score accuracy and F1.

    The decision latency (p50/p99) is measured on prompts the encoder has not
    cached, so it is what a live hop pays.
    """
    from dispatch.eval.capability import (  # noqa: PLC0415
        encoder_layers,
        evaluate_capability,
    )
    from dispatch.routing.replay import read_replay  # noqa: PLC0415

    try:
        train_records = read_replay(train_file)
        data_records = read_replay(data, need_capability=True)
        with _progress(not json_) as tick:
            report = evaluate_capability(
                data_records,
                train_records,
                _encoder(encoder_layers(router)),
                router=router,
                progress=tick,
            )
    except (DispatchError, ValueError) as exc:
        fail(exc, json_=json_)
    except KeyboardInterrupt:
        _interrupted("evaluation stopped by Ctrl-C", json_=json_)
    if json_:
        print(json.dumps(report))
        return
    print_capability(report, router)
