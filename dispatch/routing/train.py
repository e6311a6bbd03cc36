"""Fit the learned layer's heads (scikit-learn at training time, numpy at run time).

Kept apart from `learned.py` so that a process that only *routes* never imports
scikit-learn's estimators. Every fit has an out-of-fold twin (`oof_*`): the
calibration and the cross-validated scores `dispatch train` prints are computed
on predictions for prompts the head did not see, which is what a held-out
prompt will get.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.sparse import csr_matrix, hstack
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold

from dispatch.routing.heads import CapabilityHead, Heads, KnnHeads, LinearHeads
from dispatch.routing.lexical import BUCKETS, LexicalFeatures
from dispatch.routing.part_weights import balanced_part_weights
from dispatch.routing.replay import ReplayRecord
from dispatch.routing.structure import structure_matrix

__all__ = (
    "fit_capability",
    "fit_factorised",
    "fit_quality",
    "oof_capability",
    "oof_quality",
    "outcome_matrix",
)

F32 = npt.NDArray[np.float32]
"""Embeddings and predictions: float32, what the run-time heads compute in."""
F64 = npt.NDArray[np.float64]
"""Recorded outcomes: float64, with NaN where a model was not run."""


def outcome_matrix(
    records: Sequence[ReplayRecord], models: Sequence[str]
) -> tuple[F64, F64]:
    """(quality, cost) arrays of shape (n, len(models)); NaN where not recorded."""
    quality = np.full((len(records), len(models)), np.nan)
    cost = np.full((len(records), len(models)), np.nan)
    for i, record in enumerate(records):
        for j, model in enumerate(models):
            outcome = record.outcomes.get(model)
            if outcome is not None:
                quality[i, j] = outcome.quality
                cost[i, j] = outcome.cost_usd
    return quality, cost


def fit_quality(
    x: F32,
    quality: F64,
    *,
    kind: str = "logreg",
    c: float = 1.0,
    k: int = 25,
    rank: int = 8,
) -> Heads:
    """One head per model column of `quality` (rows with NaN are skipped).

    Args:
        x: (n, dim) embeddings.
        quality: (n, models) graded quality; values above 0.5 count as "good".
        kind: ``logreg`` (one L2 logistic regression per model), ``knn``, or
            ``mf`` (matrix factorisation, see `fit_factorised`).
        c: inverse regularisation strength of the logistic regressions.
        k: neighbours for ``knn``.
        rank: shared dimensions of ``mf``.

    Returns:
        `LinearHeads` (``logreg``, ``mf``) or `KnnHeads` (``knn``; missing outcomes
        filled with the model's mean, since a neighbour needs every column).
        A model that is always (or never) good gets a constant head at its
        base rate, clipped away from 0 and 1, instead of a degenerate fit.

    Raises:
        ValueError: `kind` is not ``logreg``, ``knn`` or ``mf``.
    """
    if kind == "knn":
        filled = np.where(np.isnan(quality), np.nanmean(quality, axis=0), quality)
        return KnnHeads(
            points=x.astype(np.float32), targets=filled.astype(np.float32), k=k
        )
    if kind == "mf":
        return fit_factorised(x, quality, c=c, rank=rank)
    if kind != "logreg":
        raise ValueError(f"unknown head kind {kind!r}; expected logreg, knn or mf")
    dim, outputs = x.shape[1], quality.shape[1]
    weights = np.zeros((dim, outputs), dtype=np.float32)
    bias = np.zeros(outputs, dtype=np.float32)
    for j in range(outputs):
        seen = ~np.isnan(quality[:, j])
        y = quality[seen, j] > 0.5
        if y.all() or not y.any():
            # A model that is always (never) right: a constant head, no fit needed.
            mean = float(np.clip(y.mean() if y.size else 0.5, 1e-3, 1 - 1e-3))
            bias[j] = np.log(mean / (1 - mean))
            continue
        model = LogisticRegression(C=c, max_iter=2000)
        model.fit(x[seen], y)
        weights[:, j] = model.coef_[0]
        bias[j] = model.intercept_[0]
    return LinearHeads(weights=weights, bias=bias)


def fit_factorised(
    x: F32, quality: F64, *, c: float = 1.0, rank: int = 8, seed: int = 0
) -> LinearHeads:
    """RouteLLM-style matrix factorisation: every model's logit is
    ``(x @ P) . v_model + b_model``, fitted jointly by L-BFGS.

    The prompt projection `P` (dim x rank) is shared by all models, so each
    model's head borrows strength from the others' outcomes (they largely agree
    on which prompts are hard); only a `rank`-vector per model is its own. The
    L2 penalty on `P` and the model vectors is ``1 / (c * n)`` per row, the
    scale of scikit-learn's ``C``. Being bilinear, the fit folds into one
    (dim x models) matrix ``P @ V.T``, so it is served as `LinearHeads`: the
    run-time cost is that of the per-model regressions. Missing outcomes (NaN)
    are left out of the loss.
    """
    n, dim = x.shape
    models = quality.shape[1]
    seen = ~np.isnan(quality)
    y = np.where(seen, quality > 0.5, False).astype(np.float64)
    mask = seen.astype(np.float64)
    xd = x.astype(np.float64)
    lam = 1.0 / (c * n)
    rate = np.clip((y * mask).sum(0) / np.maximum(mask.sum(0), 1.0), 1e-3, 1 - 1e-3)
    sizes = (dim * rank, models * rank)

    def loss(theta: F64) -> tuple[float, F64]:
        p = theta[: sizes[0]].reshape(dim, rank)
        v = theta[sizes[0] : sizes[0] + sizes[1]].reshape(models, rank)
        b = theta[sizes[0] + sizes[1] :]
        xp = xd @ p
        z = xp @ v.T + b
        nll = float((mask * (np.logaddexp(0.0, z) - y * z)).sum()) / n
        nll += lam * float((p**2).sum() + (v**2).sum()) / 2
        g = mask * (1.0 / (1.0 + np.exp(-z)) - y) / n
        grad = np.concatenate(
            [
                (xd.T @ (g @ v) + lam * p).ravel(),
                (g.T @ xp + lam * v).ravel(),
                g.sum(0),
            ]
        )
        return nll, grad

    rng = np.random.default_rng(seed)
    start = np.concatenate(
        [rng.normal(0.0, 0.1, sizes[0] + sizes[1]), np.log(rate / (1 - rate))]
    )
    fit = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    p = fit.x[: sizes[0]].reshape(dim, rank)
    v = fit.x[sizes[0] : sizes[0] + sizes[1]].reshape(models, rank)
    return LinearHeads(
        weights=(p @ v.T).astype(np.float32),
        bias=fit.x[sizes[0] + sizes[1] :].astype(np.float32),
    )


def oof_quality(
    x: F32,
    quality: F64,
    *,
    kind: str = "logreg",
    c: float = 1.0,
    k: int = 25,
    rank: int = 8,
    folds: int = 5,
    seed: int = 0,
) -> F32:
    """Out-of-fold predictions of `fit_quality` for every row.

    Each row is predicted by a head fitted on the other folds, so the result
    is what a held-out prompt would get: the input the bar is calibrated on.
    The shuffle uses a fixed `seed`, so reruns give the same calibration.

    Returns:
        Predicted quality, shape ``quality.shape``, float32.
    """
    out = np.zeros(quality.shape, dtype=np.float32)
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(x):
        head = fit_quality(x[train], quality[train], kind=kind, c=c, k=k, rank=rank)
        out[test] = head.predict(x[test])
    return out


def fit_capability(
    x: F32,
    labels: Sequence[str],
    *,
    prompts: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    c: float = 10.0,
    reweight: bool = True,
) -> CapabilityHead:
    """A softmax capability classifier over parts of capabilities.

    With `prompts`, hashed lexical n-grams and the structural block
    (`dispatch.routing.structure`: code fences, LaTeX, digits, question shape)
    join the embedding as features: surface cues that sentence embeddings blur.
    With `groups` (each row's source, e.g. ``arena-hard-v2.0/math``), each
    (capability, group) pair gets its own softmax column and a capability's
    probability is the sum of its parts' (see `CapabilityHead`): a capability
    made of unlike populations needs more than one linear boundary. Parts are
    weighted inversely to their size, so a small source of real user prompts
    counts as much as a large benchmark, and a rare capability is not traded
    away for accuracy on the common ones; with `reweight`, a part is also
    weighted by how often a cheap out-of-fold model mistakes its capability
    (`dispatch.routing.part_weights`): the hard parts, real users' prompts,
    get the margin the easy, templated ones do not need.

    Args:
        x: (n, dim) embeddings of the labelled prompts.
        labels: one capability per row.
        prompts: the texts of `x`'s rows, for the lexical features.
        groups: one group name per row (None: one part per capability).
        c: inverse L2 strength of the regression.
        reweight: scale each part's weight by its out-of-fold error rate
            (False: every part the same total weight).

    Returns:
        A `CapabilityHead` that predicts with numpy alone at run time.

    Raises:
        ValueError: `groups` and `labels` differ in length.
    """
    parts = _part_labels(labels, groups)
    lexical = LexicalFeatures.fit(prompts) if prompts is not None else None
    features: Any = x
    cheap: F32 = x
    if lexical is not None and prompts is not None:
        structure = structure_matrix(prompts)
        cheap = np.hstack([x, structure]).astype(np.float32, copy=False)
        blocks = [lexical.transform(prompts), csr_matrix(structure)]
        features = hstack([*blocks, csr_matrix(x)]).tocsr()
    capability_of = dict(zip(parts, (str(y) for y in labels), strict=True))
    class_weight = (
        balanced_part_weights(parts, capability_of, cheap) if reweight else "balanced"
    )
    model = LogisticRegression(C=c, max_iter=3000, class_weight=class_weight)
    model.fit(features, np.asarray(parts))
    fitted = [str(p) for p in model.classes_]
    weights = model.coef_.T.astype(np.float32)
    bias = model.intercept_.astype(np.float32)
    if len(fitted) == 2:
        # scikit-learn keeps one column for two classes; make it a softmax pair.
        weights = np.concatenate([-weights / 2, weights / 2], axis=1)
        bias = np.array([-bias[0] / 2, bias[0] / 2], dtype=np.float32)
    of_part = [p.split(_PART_SEP, 1)[0] for p in fitted]
    classes = tuple(sorted(set(of_part)))
    dim, lexical_end = x.shape[1], 2 * BUCKETS
    return CapabilityHead(
        classes=classes,
        embedding_weights=weights[weights.shape[0] - dim :],
        bias=bias,
        lexical=lexical,
        lexical_weights=weights[:lexical_end] if lexical is not None else None,
        structure_weights=weights[lexical_end : weights.shape[0] - dim]
        if lexical is not None
        else None,
        parts=tuple(classes.index(c_) for c_ in of_part)
        if groups is not None
        else None,
    )


_PART_SEP = "\x1f"
"""Joins a capability and its group into a part label (a unit separator, so no
capability or source name can contain it by accident)."""


def _part_labels(labels: Sequence[str], groups: Sequence[str] | None) -> list[str]:
    """``capability<US>group`` per row, or the capabilities when no groups."""
    if groups is None:
        return [str(y) for y in labels]
    if len(groups) != len(labels):
        raise ValueError(
            f"fit_capability: {len(groups)} groups for {len(labels)} labels"
        )
    return [f"{y}{_PART_SEP}{g}" for y, g in zip(labels, groups, strict=True)]


def oof_capability(
    x: F32,
    labels: Sequence[str],
    *,
    prompts: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    c: float = 10.0,
    folds: int = 5,
    seed: int = 0,
    reweight: bool = True,
) -> list[str]:
    """Out-of-fold capability predictions (stratified folds).

    Folds are stratified by part (capability and group) so every fold holds
    every part, and the lexical vocabulary is refitted inside each fold (by
    `fit_capability`), so no held-out prompt leaks into the features that
    score it.

    Returns:
        One predicted capability per row, in row order.
    """
    y = np.asarray(labels)
    strata = np.asarray(_part_labels(labels, groups))
    texts = list(prompts) if prompts is not None else None
    out = np.empty(len(y), dtype=object)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, strata):
        head = fit_capability(
            x[train],
            list(y[train]),
            prompts=[texts[i] for i in train] if texts else None,
            groups=[groups[i] for i in train] if groups is not None else None,
            c=c,
            reweight=reweight,
        )
        probs = head.predict(
            [texts[i] for i in test] if texts else [""] * len(test), x[test]
        )
        out[test] = [head.classes[i] for i in probs.argmax(axis=1)]
    return [str(v) for v in out]
