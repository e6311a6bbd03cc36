"""Verifiers for cascade escalation: is the cheap model's answer good enough?

A cascaded hop (FrugalGPT / AutoMix style) lets the cheapest eligible model
answer first and asks a `Verifier`; on a failed `Verdict` the hop escalates one
tier. Every verdict carries what checking cost (`cost_usd`, `calls`) so the hop
path charges it to the workflow's budget like any other call. Verdict reasons
are stored in hop records and spans, so they are built from structured facts
and passed through `redact`; raw model or exception text never goes in whole.

Shipped verifiers:

- `JsonVerifier`: the answer is JSON (bare or in a fenced block) and, when a
  schema is given, valid against a pydantic model or a JSON Schema.
- `ToolArgsVerifier`: every tool call names a known tool and its arguments
  validate against that tool's ``args_schema``.
- `CodeRunsVerifier`: the answer's fenced Python (its asserts or tests
  included) runs through an injected runner (production: the sandboxed
  ``dispatch.agents.coding.execute_python``) and exits with status 0.
- `SelfConsistency`: k further cheap samples agree with the answer in at least
  `agreement` of cases.
- `LLMJudge`: a (usually stronger) model scores the answer 0-1 through
  ``with_structured_output``; its tokens are priced with `call_cost`.

A verifier that raises must fail *closed* (escalate): call them through
`safe_verify` / `asafe_verify`.

Threshold calibration (`choose_threshold`, ``python -m bench.verifier_calibration``):
given, per prompt, the verifier's score for the cheap answer and whether that
answer was wrong, escalate when ``score < threshold`` and pick the largest
threshold whose escalation rate stays within a budget (default 30 %): catching
wrong answers can only grow with the threshold, so that is the best catch rate
the escalation budget allows. What the shared data allows: RouterBench gives 0/1
correctness per model, not answers, so agreement is exactly reconstructable only
on Winogrande (two options: two models agree iff both are right or both wrong).
There the "k samples" are the four next-cheapest RouterBench models rather than
k temperature samples of one model (cross-model consistency; same-model samples
agree more often, so the real threshold would sit higher). With the cheapest
model (Mistral-7B, 56.3 % right, about chance on two options) answering, k = 4
samplers (WizardLM-13B, Mixtral-8x7B, Code-Llama-34B, Yi-34B) and GPT-4 (86.0 %)
as the escalation target, on all 887 prompts: agreement < 0.5 escalates 22.3 %
and catches 39.2 % of the wrong answers (cascade accuracy 0.706 at 0.49x the
cost of always-GPT-4, samplers included); < 0.75 escalates 47.8 %, catches
71.4 % (0.806 at 0.74x). With an escalation budget of 30 % the choice is 0.5,
the default ``agreement``. Agreement is a weak signal on a near-chance cheap
model: it beats escalating at random (22 % caught at 22 % escalated) by less
than 2x. The data holds no judge scores, so `LLMJudge`'s default
threshold (0.7) is *not* calibrated; run `choose_threshold` on your own graded
judge scores.
"""

from dispatch.verify._base import Verdict, Verifier, asafe_verify, safe_verify
from dispatch.verify.calibrate import ThresholdChoice, choose_threshold
from dispatch.verify.sampled import JudgeScore, LLMJudge, SelfConsistency, final_line
from dispatch.verify.structural import CodeRunsVerifier, JsonVerifier, ToolArgsVerifier

__all__ = (
    "CodeRunsVerifier",
    "JsonVerifier",
    "JudgeScore",
    "LLMJudge",
    "SelfConsistency",
    "ThresholdChoice",
    "ToolArgsVerifier",
    "Verdict",
    "Verifier",
    "asafe_verify",
    "choose_threshold",
    "final_line",
    "safe_verify",
)
