"""Rater quality: Krippendorff's alpha, Fleiss' kappa, position bias and gold accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from drawbench.stats.constants import AGREEMENT_LEVELS, DEFAULT_CONFIDENCE
from drawbench.stats.preference import _z, wilson_interval


def compute_krippendorff_alpha(
    unit_ids: Sequence[Any], values: Sequence[float], *, level: str = "ordinal"
) -> float:
    """Krippendorff's alpha (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").

    α = 1 − D_o / D_e with the coincidence matrix o_ck = Σ_u (number of ordered pairs of values
    (c, k) from different ratings of unit u) / (m_u − 1), over units with m_u ≥ 2 ratings
    (others are not pairable and dropped); n_c = Σ_k o_ck, n = Σ_c n_c;
    D_o = Σ_{c,k} o_ck·δ²_ck / n and D_e = Σ_{c,k} n_c·n_k·δ²_ck / (n(n−1)).
    δ²: nominal [c ≠ k]; interval (c − k)²; ordinal (Σ_{g=c..k} n_g − (n_c + n_k)/2)².
    For the three-level answers (B / indifferent / A) this project reports the ordinal level.

    Args:
        unit_ids: the unit of each rating (in a study: item × question).
        values: the rating values (numbers; for votes the score 0 / 0.5 / 1).
        level: "nominal", "ordinal" or "interval".

    Returns:
        alpha (nan when there is no variation at all, D_e = 0).
    """
    if level not in AGREEMENT_LEVELS:
        raise ValueError(f"unknown level {level!r}; choose one of {', '.join(AGREEMENT_LEVELS)}")
    v = np.asarray(values, dtype=float)
    units = np.asarray(unit_ids, dtype=object).astype(str)
    if v.size != units.size:
        raise ValueError(f"{units.size} unit ids but {v.size} values")
    cats, vi = np.unique(v, return_inverse=True)
    _, ui = np.unique(units, return_inverse=True)
    table = np.zeros((ui.max() + 1 if ui.size else 0, cats.size))
    np.add.at(table, (ui, vi), 1.0)
    m = table.sum(1)
    table, m = table[m >= 2], m[m >= 2]
    if table.size == 0:
        raise ValueError("no unit has two or more ratings: agreement cannot be computed")
    o = np.einsum("uc,uk->ck", table / (m - 1)[:, None], table)
    o -= np.diag((table / (m - 1)[:, None]).sum(0))  # remove pairs of a rating with itself
    nc = o.sum(1)
    n = nc.sum()
    if level == "nominal":
        d2 = 1.0 - np.eye(cats.size)
    elif level == "interval":
        d2 = (cats[:, None] - cats[None, :]) ** 2
    else:
        cum = np.cumsum(nc)
        lo, hi = (
            np.minimum.outer(np.arange(cats.size), np.arange(cats.size)),
            np.maximum.outer(np.arange(cats.size), np.arange(cats.size)),
        )
        d2 = (cum[hi] - cum[lo] + nc[lo] - (nc[lo] + nc[hi]) / 2) ** 2
    d_o = (o * d2).sum() / n
    d_e = (np.outer(nc, nc) * d2).sum() / (n * (n - 1))
    return float("nan") if d_e == 0 else float(1 - d_o / d_e)


def compute_fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from a [items, categories] table of how many raters chose each category.

    P_i = (Σ_j n_ij² − r) / (r(r − 1)), P̄ = mean P_i, p_j = Σ_i n_ij / (N·r),
    P̄_e = Σ_j p_j², κ = (P̄ − P̄_e) / (1 − P̄_e). Every item needs the same number r ≥ 2 of raters.
    """
    c = np.asarray(counts, dtype=float)
    r = c.sum(1)
    if c.ndim != 2 or r.size == 0 or np.any(r != r[0]) or r[0] < 2:
        raise ValueError(
            "Fleiss' kappa needs a 2-D table with the same number (≥ 2) of raters per item; "
            "use compute_krippendorff_alpha for unequal numbers"
        )
    r0 = r[0]
    p_item = ((c**2).sum(1) - r0) / (r0 * (r0 - 1))
    p_cat = c.sum(0) / c.sum()
    pe = float((p_cat**2).sum())
    return float("nan") if pe == 1 else float((p_item.mean() - pe) / (1 - pe))


@dataclass(frozen=True)
class PositionBias:
    """Share of decisive votes that chose the left set, with a Wilson interval and the two-sided
    exact binomial test of share = 0.5: p = min(1, 2·P(X ≤ min(n_left, n_right))), X ~ Bin(n, ½)."""

    share_left: float
    n_left: int
    n_right: int
    n_ties: int
    ci_low: float
    ci_high: float
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_position_bias(
    sides: Sequence[str], *, confidence: float = DEFAULT_CONFIDENCE
) -> PositionBias:
    """Position bias from the side each vote chose: "left", "right" or "tie".

    share_left = n_left / (n_left + n_right) (ties excluded); 0.5 means no bias.
    """
    from scipy.special import bdtr

    arr = np.asarray(sides, dtype=object).astype(str)
    bad = ~np.isin(arr, ["left", "right", "tie"])
    if bad.any():
        raise ValueError(
            f"side #{int(np.flatnonzero(bad)[0])} is {arr[bad][0]!r}; use left, right or tie"
        )
    nl, nr = int((arr == "left").sum()), int((arr == "right").sum())
    nd = nl + nr
    if nd == 0:
        return PositionBias(
            float("nan"), 0, 0, int(arr.size), float("nan"), float("nan"), float("nan")
        )
    low, high = wilson_interval(nl / nd, nd, _z(confidence))
    return PositionBias(
        nl / nd,
        nl,
        nr,
        int(arr.size) - nd,
        low,
        high,
        min(1.0, 2.0 * float(bdtr(min(nl, nr), nd, 0.5))),
    )


def compute_gold_accuracy(
    rater_ids: Sequence[Any], correct: Sequence[bool]
) -> dict[str, tuple[float, int]]:
    """Per rater: (share of gold items answered correctly, number of gold items answered)."""
    raters = np.asarray(rater_ids, dtype=object).astype(str)
    ok = np.asarray(correct, dtype=bool)
    if raters.size != ok.size:
        raise ValueError(f"{raters.size} rater ids but {ok.size} correctness flags")
    return {
        r: (float(ok[raters == r].mean()), int((raters == r).sum()))
        for r in sorted(set(raters.tolist()))
    }


def raters_below_gold(
    accuracy: dict[str, tuple[float, int]], threshold: float, *, min_items: int = 1
) -> list[str]:
    """Raters whose gold accuracy is below ``threshold`` after at least ``min_items`` gold items."""
    return sorted(r for r, (acc, n) in accuracy.items() if n >= min_items and acc < threshold)
