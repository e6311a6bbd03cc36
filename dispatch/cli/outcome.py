"""How a run ended, as a status and an exit code that scripts and CI can trust.

=========  ====  ==========================================================
status     exit  meaning
=========  ====  ==========================================================
ok         0     every task and the synthesis succeeded
failed     1     no task succeeded (e.g. every model call failed)
(error)    2     bad input: a flag, config, plan or thread id (one
                 ``error:`` line, nothing ran)
refused    3     the budget refused the run: a hard one before it started,
                 or any before a task succeeded (and no model call failed)
partial    4     some tasks (or the synthesis) failed or were refused
busy       5     another process is running the same thread (nothing ran;
                 the message names the thread and the process holding it)
interrupt  130   stopped by Ctrl-C (SIGINT); completed steps are saved and
                 ``dispatch resume THREAD`` finishes the run
=========  ====  ==========================================================

``dispatch resume`` on a thread whose last run finished has nothing to do:
it says so and exits 0 (status ``ok``, ``"resumed": false`` in JSON).

`--json` output carries ``status``, ``exit_code`` and ``reason``, and exits
with the same code as the text output. Pure: computed from the run's hop
records and task results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Any, Protocol

__all__ = (
    "EXIT_CODES_HELP",
    "ExitCode",
    "HopFacts",
    "Outcome",
    "busy",
    "interrupted",
    "refused_start",
    "run_outcome",
    "start_refusal",
)


class ExitCode(IntEnum):
    """The process exit status of ``dispatch``."""

    OK = 0
    FAILED = 1
    USAGE = 2
    REFUSED = 3
    PARTIAL = 4
    BUSY = 5
    INTERRUPTED = 130


EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 failed (no task succeeded); 2 bad input (flag, config, "
    "plan, thread) or a checkpoint store that failed mid-run; 3 refused by the "
    "budget; 4 partial (some tasks failed or were refused); 5 busy (another "
    "process is running the thread); 130 interrupted (Ctrl-C: finish it with "
    "dispatch resume THREAD). --json prints the same as status/exit_code/reason."
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The status of one run and why."""

    status: str
    """``ok``, ``failed``, ``refused``, ``partial``, ``busy`` or ``interrupted``."""
    exit_code: ExitCode
    """The process exit status that goes with `status` (module table)."""
    reason: str
    """One sentence for people: what failed or was refused, and what to do."""

    def as_json(self) -> dict[str, Any]:
        """The ``status``/``exit_code``/``reason`` keys of ``--json`` output."""
        return {
            "status": self.status,
            "exit_code": int(self.exit_code),
            "reason": self.reason,
        }


class HopFacts(Protocol):
    """What the outcome needs of a hop record (`dispatch.records.HopRecord` has it)."""

    @property
    def step(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def refused(self) -> bool: ...


def refused_start(message: str) -> Outcome:
    """The outcome of a run the pre-flight check refused to start."""
    return Outcome("refused", ExitCode.REFUSED, message)


def busy(message: str) -> Outcome:
    """The outcome of a run refused because its thread is running elsewhere."""
    return Outcome("busy", ExitCode.BUSY, message)


def interrupted(thread: str, *, started: bool = True) -> Outcome:
    """The outcome of a run stopped by Ctrl-C, with how to finish it; a run
    stopped before its graph started (loading a config or an artefact, the
    pre-flight) saved nothing, so there is nothing to resume."""
    if not started:
        return Outcome(
            "interrupted",
            ExitCode.INTERRUPTED,
            f"the run on thread {thread!r} was stopped before it started: "
            "nothing ran or was saved, so there is nothing to resume; run it again",
        )
    return Outcome(
        "interrupted",
        ExitCode.INTERRUPTED,
        f"the run on thread {thread!r} was stopped; its completed steps are "
        f"saved: finish it with `dispatch resume {thread}`",
    )


def start_refusal(
    limit: Decimal,
    *,
    expected: Decimal,
    worst: Decimal,
    mode: str,
    strict: bool,
    allow_partial: bool,
) -> str | None:
    """Why a hard budget refuses to start a run, or None to start it.

    The worst case prices every hop at its dearest reachable model with every
    retry and tool round: a budget a few times the real cost is far below it.
    So by default a run starts when the *expected* cost fits (hops are refused
    as money runs out); `strict` refuses unless the *worst case* fits;
    `allow_partial` starts regardless. Soft and warn budgets never refuse.
    """
    if mode != "hard" or allow_partial:
        return None
    if strict and worst > limit:
        return (
            f"refused to start (--strict): the worst case ${worst:.6f} exceeds the "
            f"hard budget ${limit:.6f} (expected ${expected:.6f}); without --strict "
            "the run starts when the expected cost fits and refuses hops as money runs out"
        )
    if expected > limit:
        return (
            f"refused to start: the expected cost ${expected:.6f} exceeds the hard "
            f"budget ${limit:.6f} (worst case ${worst:.6f}); --allow-partial starts "
            "anyway and refuses hops as money runs out"
        )
    return None


def run_outcome(
    tasks: Sequence[Mapping[str, Any]],
    results: Mapping[str, Mapping[str, Any]],
    records: Sequence[HopFacts],
) -> Outcome:
    """Classify a finished run from its planned tasks, their results and its hops."""
    ok = [t["id"] for t in tasks if results.get(t["id"], {}).get("ok")]
    not_run = [t["id"] for t in tasks if t["id"] not in results]
    failed = [t["id"] for t in tasks if t["id"] in results and t["id"] not in ok]
    refused_hops = sum(r.refused for r in records)
    failed_hops = sum(r.error is not None and not r.refused for r in records)
    synthesis = [r for r in records if r.step == "synthesize"]
    synthesized = any(r.error is None for r in synthesis)
    parts = [f"{len(ok)} of {len(tasks)} task(s) succeeded"]
    if failed:
        parts.append(f"failed: {', '.join(failed)}")
    if not_run:
        parts.append(f"not run: {', '.join(not_run)}")
    if refused_hops:
        parts.append(f"{refused_hops} hop(s) refused by the budget")
    if failed_hops:
        parts.append(f"{failed_hops} model call(s) failed")
    if synthesis and not synthesized:
        parts.append("synthesis did not complete")
    reason = "; ".join(parts)
    if not ok and tasks:
        # A refused task is in `results` too (failed, its error the refusal):
        # when no model call failed, the budget is why nothing succeeded.
        if refused_hops and not failed_hops:
            return Outcome("refused", ExitCode.REFUSED, reason)
        return Outcome("failed", ExitCode.FAILED, reason)
    if failed or not_run or refused_hops or (synthesis and not synthesized):
        return Outcome("partial", ExitCode.PARTIAL, reason)
    return Outcome("ok", ExitCode.OK, reason)
