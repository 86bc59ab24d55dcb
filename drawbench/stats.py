"""Statistics for pairwise human-preference studies and multi-model leaderboards.

Pure numpy/scipy functions (pandas only inside the ``*_table`` helpers that take a votes
DataFrame); every random choice takes a seed or a seeded ``numpy.random.Generator``.

Conventions used throughout:

* A rating is a *score* of A over B: 1 = "I prefer set A", 0.5 = "I am indifferent",
  0 = "I prefer set B".
* Preference of A over B = (wins + ½ ties) / n = the mean score (DESIGN.md, Statistics).
* Intervals are two-sided at ``confidence`` (default 95%).
* Bradley-Terry ratings are on the Elo scale: rating = 1000 + 400·log10(strength).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Bootstrap rounds: Efron & Tibshirani, "An Introduction to the Bootstrap" (1993), §19.3,
#: recommend about 1,000 rounds for percentile intervals (200 suffice only for standard errors).
DEFAULT_BOOTSTRAP_ROUNDS = 1000
#: Interval level, DESIGN.md ("Default 95% interval").
DEFAULT_CONFIDENCE = 0.95
#: The Elo scale (Elo, "The Rating of Chessplayers", 1978; also Chatbot Arena): a gap of 400
#: points means 10:1 odds, and ratings are centred on 1000.
ELO_SCALE = 400.0
ELO_BASE = 10.0
ELO_CENTER = 1000.0
#: Virtual tie games each model plays against a reference player of strength 1 (rating 1000 before
#: centring) in ``compute_leaderboard``. This project's choice: it keeps ratings finite when a model
#: wins or loses every vote of a bootstrap resample, and moves ratings by well under 1 Elo point
#: once a model has ~100 votes. ``fit_bradley_terry`` defaults to 0 (plain maximum likelihood).
DEFAULT_BT_PRIOR_GAMES = 0.01

PREFERENCE_METHODS = ("bootstrap", "two-stage-bootstrap", "wilson", "normal")
AGREEMENT_LEVELS = ("nominal", "ordinal", "interval")
_VALID_SCORES = (0.0, 0.5, 1.0)
_MAX_CELLS = 4_000_000  # elements per bootstrap chunk (keeps memory near 32 MB)


def _z(confidence: float) -> float:
    """Normal quantile z with P(|Z| ≤ z) = confidence."""
    from scipy.special import ndtri

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(ndtri(0.5 + confidence / 2.0))


def check_scores(scores: Any) -> np.ndarray:
    """Return ``scores`` as a float array, checking every value is 0, 0.5 or 1."""
    s = np.asarray(scores, dtype=float).ravel()
    bad = ~np.isin(s, _VALID_SCORES)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"score #{i} is {float(s[i])!r}: scores must be 1 (A preferred), 0.5 (indifferent) or "
            f"0 (B preferred); {int(bad.sum())} value(s) are invalid"
        )
    return s


# --------------------------------------------------------------------------- preference


@dataclass(frozen=True)
class PreferenceResult:
    """Preference of A over B with its interval.

    Attributes:
        preference: (wins + ½ ties) / n.
        win, tie, loss: shares of ratings preferring A, indifferent, preferring B (sum to 1).
        n: number of ratings; n_prompts: distinct prompts; n_raters: distinct raters (None when
            rater ids were not given).
        ci_low, ci_high: the interval; method: how it was made (one of PREFERENCE_METHODS);
        confidence: its level; n_boot: bootstrap rounds (None for wilson / normal).
    """

    preference: float
    win: float
    tie: float
    loss: float
    n: int
    n_prompts: int
    ci_low: float
    ci_high: float
    method: str
    confidence: float
    n_raters: int | None = None
    n_boot: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_preference(
    scores: Sequence[float] | np.ndarray,
    prompt_ids: Sequence[Any] | np.ndarray,
    rater_ids: Sequence[Any] | np.ndarray | None = None,
    *,
    method: str = "bootstrap",
    n_boot: int = DEFAULT_BOOTSTRAP_ROUNDS,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int | np.random.Generator = 0,
) -> PreferenceResult:
    """Preference of A over B, win / tie / loss shares and an interval.

    preference = mean(scores) = (wins + ½ ties) / n over all n ratings.

    Methods (``method``):

    * ``"bootstrap"`` (default): cluster bootstrap over prompts. Each of ``n_boot`` rounds draws
      n_prompts prompts with replacement and keeps all ratings of each drawn prompt (its raters
      are carried as a block: Davison & Hinkley 1997, §3.8, "strategy 1": prompts with
      replacement, raters within a prompt without replacement). The round's statistic is the
      pooled mean score of the drawn ratings; the interval is the percentile interval
      [q(α/2), q(1−α/2)] of the n_boot statistics, α = 1 − confidence.
    * ``"two-stage-bootstrap"``: as above, then within each drawn prompt its raters (all ratings
      of one rater of that prompt form one unit; without ``rater_ids`` each rating is a unit) are
      redrawn m_p times with replacement (D&H strategy 2). It counts the within-prompt noise
      twice, so it is conservative (measured in benchmarks/bench_stats_coverage.py).
    * ``"wilson"``: Wilson score interval on the pooled ratings, treating them as n independent
      Bernoulli trials with success share p = preference:
      (p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n).
    * ``"normal"``: p ± z·sd/√n with sd the sample standard deviation (ddof=1) of the pooled
      scores, clipped to [0, 1]. Like Wilson it ignores that ratings of one prompt are correlated,
      which is how the Imagen paper's intervals behave; it under-covers when prompts differ.

    Args:
        scores: one score per rating: 1 (A preferred), 0.5 (indifferent), 0 (B preferred).
        prompt_ids: the prompt of each rating (any hashable values).
        rater_ids: the rater of each rating (used by "two-stage-bootstrap" and for n_raters).
        method: one of PREFERENCE_METHODS.
        n_boot: bootstrap rounds.
        confidence: interval level in (0, 1).
        seed: an int or a numpy Generator for the bootstrap.

    Returns:
        PreferenceResult.

    Raises:
        ValueError: no ratings, a score other than 0 / 0.5 / 1, mismatched lengths, unknown method.
    """
    s = check_scores(scores)
    prompts = np.asarray(prompt_ids, dtype=object).ravel()
    if s.size == 0:
        raise ValueError("no ratings: compute_preference needs at least one score")
    if prompts.size != s.size:
        raise ValueError(
            f"{s.size} scores but {prompts.size} prompt ids; pass one prompt id per score"
        )
    raters = None if rater_ids is None else np.asarray(rater_ids, dtype=object).ravel()
    if raters is not None and raters.size != s.size:
        raise ValueError(
            f"{s.size} scores but {raters.size} rater ids; pass one rater id per score"
        )
    if method not in PREFERENCE_METHODS:
        raise ValueError(
            f"unknown method {method!r}; choose one of {', '.join(PREFERENCE_METHODS)}"
        )
    n = s.size
    p = float(s.mean())
    _, prompt_idx = np.unique(prompts.astype(str), return_inverse=True)
    n_prompts = int(prompt_idx.max()) + 1
    z = _z(confidence)
    boot = None
    if method == "wilson":
        low, high = wilson_interval(p, n, z)
    elif method == "normal":
        sd = float(s.std(ddof=1)) if n > 1 else 0.0
        low, high = max(0.0, p - z * sd / np.sqrt(n)), min(1.0, p + z * sd / np.sqrt(n))
    else:
        if n_boot < 1:
            raise ValueError(f"n_boot must be at least 1, got {n_boot}")
        rng = np.random.default_rng(seed)
        if method == "bootstrap":
            stats = bootstrap_prompt_means(s, prompt_idx, n_boot, rng)
        else:
            unit_key = prompt_idx if raters is None else None
            stats = _bootstrap_two_stage(s, prompt_idx, raters, n_boot, rng, unit_key)
        alpha = 1.0 - confidence
        low, high = (float(v) for v in np.quantile(stats, [alpha / 2, 1 - alpha / 2]))
        boot = int(n_boot)
    return PreferenceResult(
        preference=p,
        win=float(np.mean(s == 1.0)),
        tie=float(np.mean(s == 0.5)),
        loss=float(np.mean(s == 0.0)),
        n=int(n),
        n_prompts=n_prompts,
        ci_low=float(low),
        ci_high=float(high),
        method=method,
        confidence=float(confidence),
        n_raters=None if raters is None else len(set(raters.tolist())),
        n_boot=boot,
    )


def wilson_interval(p: float, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval for a share ``p`` of ``n`` trials at normal quantile ``z``."""
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_prompt_means(
    scores: np.ndarray, prompt_idx: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Cluster-bootstrap statistics: pooled mean score over prompts drawn with replacement.

    Round b draws counts K_b ~ Multinomial(P, 1/P each) over the P prompts (the same as drawing P
    prompts with replacement) and returns Σ_p K_bp·S_p / Σ_p K_bp·C_p, with S_p, C_p the sum and
    count of prompt p's scores. ``prompt_idx`` holds 0..P−1. Returns shape [n_boot].
    """
    sums = np.bincount(prompt_idx, weights=scores)
    counts = np.bincount(prompt_idx).astype(float)
    n_prompts = sums.size
    out = np.empty(n_boot)
    chunk = max(1, _MAX_CELLS // n_prompts)
    pvals = np.full(n_prompts, 1.0 / n_prompts)
    for start in range(0, n_boot, chunk):
        k = rng.multinomial(n_prompts, pvals, size=min(chunk, n_boot - start)).astype(float)
        out[start : start + k.shape[0]] = (k @ sums) / (k @ counts)
    return out


def _bootstrap_two_stage(scores, prompt_idx, raters, n_boot, rng, unit_key) -> np.ndarray:
    """Two-stage bootstrap (see compute_preference). Units are (prompt, rater) pairs.

    A prompt drawn K times has its m_p units redrawn m_p times each time, so over the round its
    unit counts are Multinomial(K·m_p, 1/m_p each): one vectorised draw per (round, prompt).
    """
    if raters is None:
        unit = np.arange(scores.size)
    else:
        pairs = np.char.add(np.char.add(prompt_idx.astype(str), "\x1f"), raters.astype(str))
        _, unit = np.unique(pairs, return_inverse=True)
    unit_sum = np.bincount(unit, weights=scores)
    unit_cnt = np.bincount(unit).astype(float)
    unit_prompt = np.zeros(unit_sum.size, dtype=int)
    unit_prompt[unit] = prompt_idx
    n_prompts = int(prompt_idx.max()) + 1
    m = np.bincount(unit_prompt, minlength=n_prompts)
    width = int(m.max())
    # Pad at the front: numpy infers the last probability of each row as 1 − Σ(others).
    order = np.argsort(unit_prompt, kind="stable")
    slot = np.arange(unit_sum.size) - np.repeat(np.cumsum(m) - m, m)
    col = width - m[unit_prompt[order]] + slot
    s_pad = np.zeros((n_prompts, width))
    c_pad = np.zeros((n_prompts, width))
    s_pad[unit_prompt[order], col] = unit_sum[order]
    c_pad[unit_prompt[order], col] = unit_cnt[order]
    pvals = np.where(c_pad > 0, 1.0 / m[:, None], 0.0)
    out = np.empty(n_boot)
    chunk = max(1, _MAX_CELLS // (n_prompts * width))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        k = rng.multinomial(n_prompts, np.full(n_prompts, 1.0 / n_prompts), size=b)
        counts = rng.multinomial(k * m, pvals)  # [b, P, width]
        out[start : start + b] = (counts * s_pad).sum((1, 2)) / (counts * c_pad).sum((1, 2))
    return out


def simulate_preference_study(
    rng: np.random.Generator,
    *,
    n_prompts: int,
    raters_per_prompt: int,
    preference: float,
    prompt_sd: float,
    tie_share: float = 0.2,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate one study with prompt-level heterogeneity; the true preference is ``preference``.

    Prompt p's own preference μ_p = lo + (hi − lo)·Beta(a, b) with lo = tie_share/2,
    hi = 1 − tie_share/2 and (a, b) chosen so E[μ_p] = preference and SD[μ_p] = prompt_sd. Each
    rating is a tie with probability tie_share, otherwise 1 with probability
    (μ_p − tie_share/2)/(1 − tie_share), else 0; so E[score | p] = μ_p.

    Returns:
        (scores [P·R], prompt_ids [P·R] int, rater_ids [P·R] int, raters numbered per prompt).
    """
    if not 0 <= tie_share < 1:
        raise ValueError(f"tie_share must be in [0, 1), got {tie_share}")
    lo, hi = tie_share / 2, 1 - tie_share / 2
    mean, var = (preference - lo) / (hi - lo), (prompt_sd / (hi - lo)) ** 2
    if not 0 < mean < 1 or var >= mean * (1 - mean):
        raise ValueError(
            f"preference={preference}, prompt_sd={prompt_sd}, tie_share={tie_share} are not "
            "possible together: lower prompt_sd or tie_share"
        )
    k = mean * (1 - mean) / var - 1 if var > 0 else np.inf
    # q = (μ_p − lo) / (1 − tie_share) is the Beta draw itself, since hi − lo = 1 − tie_share.
    q = (
        np.full(n_prompts, mean)
        if not np.isfinite(k)
        else rng.beta(mean * k, (1 - mean) * k, n_prompts)
    )
    tie = rng.random((n_prompts, raters_per_prompt)) < tie_share
    win = rng.random((n_prompts, raters_per_prompt)) < q[:, None]
    scores = np.where(tie, 0.5, win.astype(float)).ravel()
    prompts = np.repeat(np.arange(n_prompts), raters_per_prompt)
    raters = np.tile(np.arange(raters_per_prompt), n_prompts)
    return scores, prompts, raters


# --------------------------------------------------------------------------- planner


@dataclass(frozen=True)
class StudyPlan:
    """Prompts needed for a target interval width (see ``plan_study``)."""

    preference: float
    prompt_sd: float
    raters_per_prompt: int
    tie_share: float
    confidence: float
    target_width: float
    n_prompts: int
    n_ratings: int
    expected_width: float
    floor_width_200_prompts: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def expected_interval_width(
    preference: float,
    prompt_sd: float,
    n_prompts: int,
    raters_per_prompt: int,
    *,
    tie_share: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> float:
    """Full width of the prompt-bootstrap interval, by its normal approximation.

    width = 2·z·sqrt((σ_b² + σ_w²/R) / P), with σ_b = prompt_sd (SD of per-prompt preference),
    σ_w² = p(1−p) − t/4 − σ_b² the within-prompt variance of one rating (the total variance of a
    score with mean p and tie share t is p(1−p) − t/4), R raters per prompt, P prompts.
    tie_share = 0 is the conservative (widest) assumption.
    """
    total = preference * (1 - preference) - tie_share / 4
    within = total - prompt_sd**2
    if not 0 < preference < 1 or within < 0 or not 0 <= tie_share < 1:
        raise ValueError(
            f"prompt_sd={prompt_sd} is too large for preference={preference} and tie_share="
            f"{tie_share}: prompt_sd² must not exceed p(1−p) − ties/4 = {total:.4f}"
        )
    z = _z(confidence)
    return float(2 * z * np.sqrt((prompt_sd**2 + within / raters_per_prompt) / n_prompts))


def plan_study(
    preference: float,
    prompt_sd: float,
    width: float,
    raters_per_prompt: int = 1,
    *,
    tie_share: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> StudyPlan:
    """Smallest number of prompts P whose expected interval width is at most ``width``.

    P = ceil(4·z²·(σ_b² + σ_w²/R) / width²) (see ``expected_interval_width``). More raters only
    shrink the σ_w²/R term: the width never falls below 2·z·σ_b/√P whatever R is, which is
    reported for P = 200 (the size of DrawBench) as ``floor_width_200_prompts``.
    """
    if width <= 0 or raters_per_prompt < 1:
        raise ValueError("width must be > 0 and raters_per_prompt at least 1")
    unit = expected_interval_width(
        preference, prompt_sd, 1, raters_per_prompt, tie_share=tie_share, confidence=confidence
    )
    n_prompts = max(1, int(np.ceil((unit / width) ** 2 - 1e-9)))
    return StudyPlan(
        preference=preference,
        prompt_sd=prompt_sd,
        raters_per_prompt=raters_per_prompt,
        tie_share=tie_share,
        confidence=confidence,
        target_width=width,
        n_prompts=n_prompts,
        n_ratings=n_prompts * raters_per_prompt,
        expected_width=expected_interval_width(
            preference,
            prompt_sd,
            n_prompts,
            raters_per_prompt,
            tie_share=tie_share,
            confidence=confidence,
        ),
        floor_width_200_prompts=float(2 * _z(confidence) * prompt_sd / np.sqrt(200)),
    )


def plan_table(
    preference: float,
    prompt_sd: float,
    width: float,
    raters: Sequence[int] = (1, 2, 3, 5, 10),
    *,
    tie_share: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[StudyPlan]:
    """``plan_study`` for each number of raters per prompt in ``raters``."""
    return [
        plan_study(preference, prompt_sd, width, r, tie_share=tie_share, confidence=confidence)
        for r in raters
    ]


# --------------------------------------------------------------------------- rater quality


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


# --------------------------------------------------------------------------- Bradley-Terry


def pairwise_wins(
    model_a: Sequence[str],
    model_b: Sequence[str],
    scores: Sequence[float],
    models: Sequence[str] | None = None,
) -> tuple[list[str], np.ndarray]:
    """Models and the [K, K] matrix wins[i, j] = Σ wins of i over j, a tie counting ½ to each.

    Vote v adds scores[v] to wins[a_v, b_v] and 1 − scores[v] to wins[b_v, a_v]. ``models`` fixes
    the order (default: sorted names).
    """
    a = np.asarray(model_a, dtype=object).astype(str)
    b = np.asarray(model_b, dtype=object).astype(str)
    s = check_scores(scores)
    if not a.size == b.size == s.size:
        raise ValueError(f"model_a, model_b and scores have {a.size}, {b.size}, {s.size} entries")
    names = list(models) if models is not None else sorted(set(a.tolist()) | set(b.tolist()))
    index = {m: i for i, m in enumerate(names)}
    missing = sorted((set(a.tolist()) | set(b.tolist())) - set(index))
    if missing:
        raise ValueError(f"votes name models not in `models`: {', '.join(missing)}")
    ai, bi = np.array([index[x] for x in a], dtype=int), np.array([index[x] for x in b], dtype=int)
    same = np.flatnonzero(ai == bi)
    if same.size:
        raise ValueError(f"vote #{int(same[0])} compares {a[same[0]]!r} with itself")
    wins = np.zeros((len(names), len(names)))
    np.add.at(wins, (ai, bi), s)
    np.add.at(wins, (bi, ai), 1.0 - s)
    return names, wins


def _bt_loglik(theta: np.ndarray, wins: np.ndarray, prior_games: float) -> np.ndarray:
    d = theta[:, :, None] - theta[:, None, :]
    ll = -(wins * np.logaddexp(0.0, -d)).sum((1, 2))
    if prior_games:
        ll -= prior_games * 0.5 * (np.logaddexp(0.0, -theta) + np.logaddexp(0.0, theta)).sum(1)
    return ll


def _solve_bt(
    wins: np.ndarray, prior_games: float, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method with step halving for a batch [B, K, K] of win matrices.

    Returns (theta [B, K] natural log strengths, converged [B] bool). Without a prior the
    likelihood is flat along θ + c·1, so the Newton system uses −H + 11ᵀ/K, whose solution is the
    step orthogonal to 1 (the gradient sums to 0).
    """
    from scipy.special import expit

    n_batch, k, _ = wins.shape
    theta = np.zeros((n_batch, k))
    games = wins + wins.transpose(0, 2, 1)
    won = wins.sum(2)
    ll = _bt_loglik(theta, wins, prior_games)
    active = np.ones(n_batch, dtype=bool)
    diag = np.arange(k)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        th = theta[idx]
        p = expit(th[:, :, None] - th[:, None, :])
        grad = won[idx] - (games[idx] * p).sum(2)
        v = games[idx] * p * (1.0 - p)
        neg_h = -v
        neg_h[:, diag, diag] += v.sum(2)
        if prior_games:
            q = expit(th)
            grad += prior_games * (0.5 - q)
            neg_h[:, diag, diag] += prior_games * q * (1.0 - q)
        else:
            neg_h += 1.0 / k
        step = np.linalg.solve(neg_h, grad[..., None])[..., 0]
        t = np.ones(idx.size)
        new = th + step
        new_ll = _bt_loglik(new, wins[idx], prior_games)
        for _ in range(40):
            worse = new_ll < ll[idx] - 1e-12 * (1.0 + np.abs(ll[idx]))
            if not worse.any():
                break
            t[worse] /= 2.0
            new[worse] = th[worse] + t[worse, None] * step[worse]
            new_ll[worse] = _bt_loglik(new[worse], wins[idx][worse], prior_games)
        theta[idx], ll[idx] = new, new_ll
        active[idx[np.abs(t[:, None] * step).max(1) < tol]] = False
    return theta, ~active


def elo_from_log_strength(theta: np.ndarray, anchor: int | None = None) -> np.ndarray:
    """Elo ratings from natural log strengths θ (last axis = models).

    rating_i = 1000 + 400·log10(π_i / π_ref) = 1000 + (400 / ln 10)·(θ_i − θ_ref), where θ_ref is
    the mean of θ (so the ratings average 1000) or θ of the ``anchor`` model (which gets 1000).
    """
    theta = np.asarray(theta, dtype=float)
    ref = theta.mean(-1, keepdims=True) if anchor is None else theta[..., anchor : anchor + 1]
    return ELO_CENTER + ELO_SCALE / np.log(ELO_BASE) * (theta - ref)


def fit_bradley_terry(
    wins: np.ndarray,
    *,
    anchor: int | None = None,
    prior_games: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> np.ndarray:
    """Bradley-Terry maximum-likelihood ratings on the Elo scale.

    Model: P(i beats j) = π_i / (π_i + π_j) = σ(θ_i − θ_j), θ = ln π. Maximises
    ℓ(θ) = Σ_{i≠j} w_ij·ln σ(θ_i − θ_j) + g·Σ_i ½[ln σ(θ_i) + ln σ(−θ_i)], where ``wins`` = w
    (ties already counted as ½ win to each side, see ``pairwise_wins``) and g = ``prior_games``
    (g virtual ties of each model with a reference player of θ = 0; g = 0 is plain maximum
    likelihood). Ratings are ``elo_from_log_strength(θ, anchor)``.

    Args:
        wins: [K, K] non-negative, wins[i, j] = wins of model i over model j.
        anchor: index of the model pinned at 1000 (default: ratings average 1000).
        prior_games: virtual tie games per model (≥ 0).
        tol, max_iter: Newton stops when the largest step is below tol (in θ).

    Raises:
        ValueError: bad shape, or (with prior_games = 0) no finite maximum exists because the
            models split into groups where one never won against the other (Zermelo's condition:
            the "beat at least once" graph must be strongly connected).
    """
    from scipy.sparse.csgraph import connected_components

    w = np.asarray(wins, dtype=float)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] < 2 or (w < 0).any():
        raise ValueError(
            f"wins must be a square non-negative matrix of at least 2 models, got shape {w.shape}"
        )
    if prior_games < 0:
        raise ValueError(f"prior_games must be >= 0, got {prior_games}")
    if prior_games == 0:
        n_comp, labels = connected_components(w > 0, directed=True, connection="strong")
        if n_comp > 1:
            groups = [np.flatnonzero(labels == c).tolist() for c in range(n_comp)]
            raise ValueError(
                "no finite Bradley-Terry maximum: the models split into groups that never beat each "
                f"other both ways (model indices {groups}); collect more votes or use prior_games > 0"
            )
    theta, converged = _solve_bt(w[None], prior_games, tol, max_iter)
    if not converged[0]:
        raise ValueError(
            f"Bradley-Terry fit did not converge in {max_iter} Newton steps; raise max_iter"
        )
    return elo_from_log_strength(theta[0], anchor)


@dataclass(frozen=True)
class LeaderboardRow:
    """One model of a Bradley-Terry leaderboard.

    rank = 1 + number of models whose interval lies entirely above this one's (ci_low of the
    other > ci_high of this), so models with overlapping intervals share a rank.
    """

    model: str
    rating: float
    ci_low: float
    ci_high: float
    n: int
    rank: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_leaderboard(
    model_a: Sequence[str],
    model_b: Sequence[str],
    scores: Sequence[float],
    prompt_ids: Sequence[Any] | None = None,
    *,
    ties: str = "half",
    n_boot: int = DEFAULT_BOOTSTRAP_ROUNDS,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int | np.random.Generator = 0,
    anchor: str | None = None,
    prior_games: float = DEFAULT_BT_PRIOR_GAMES,
) -> list[LeaderboardRow]:
    """Bradley-Terry leaderboard with bootstrap intervals, best first.

    ``fit_bradley_terry`` on all votes gives the ratings. Each of ``n_boot`` rounds refits on a
    resample: of the votes (n draws with replacement) or, when ``prompt_ids`` is given, of the
    prompts (each drawn prompt brings all its votes); intervals are the percentiles
    [q(α/2), q(1−α/2)] of the refitted ratings (centred by the same rule).

    Args:
        scores: score of model_a per vote (1 / 0.5 / 0; ``winner_scores`` converts names).
        ties: "half" (a tie is half a win to each) or "drop" (ties removed before fitting).
        anchor: a model name pinned at 1000; default the ratings average 1000.
    """
    from scipy import sparse

    s = check_scores(scores)
    a = np.asarray(model_a, dtype=object).astype(str)
    b = np.asarray(model_b, dtype=object).astype(str)
    groups = None if prompt_ids is None else np.asarray(prompt_ids, dtype=object).astype(str)
    if ties not in ("half", "drop"):
        raise ValueError(f"ties must be 'half' or 'drop', got {ties!r}")
    if ties == "drop":
        keep = s != 0.5
        a, b, s = a[keep], b[keep], s[keep]
        groups = None if groups is None else groups[keep]
    names, wins = pairwise_wins(a, b, s)
    if anchor is not None and anchor not in names:
        raise ValueError(f"anchor model {anchor!r} is not in the votes; models: {', '.join(names)}")
    k, anchor_i = len(names), None if anchor is None else names.index(anchor)
    rating = fit_bradley_terry(wins, anchor=anchor_i, prior_games=prior_games)
    # Units to resample, each with its contribution to the flattened win matrix.
    index = {m: i for i, m in enumerate(names)}
    ai, bi = np.array([index[x] for x in a]), np.array([index[x] for x in b])
    if groups is None:
        _, unit, counts = np.unique(
            np.stack([ai, bi, s * 2]), axis=1, return_inverse=True, return_counts=True
        )
        unit = unit.ravel()
        probs, draws = counts / counts.sum(), s.size
    else:
        _, unit = np.unique(groups, return_inverse=True)
        draws = int(unit.max()) + 1
        probs = np.full(draws, 1.0 / draws)
    n_units = probs.size
    rows = np.concatenate([unit, unit])
    cols = np.concatenate([ai * k + bi, bi * k + ai])
    contrib = sparse.csr_matrix((np.concatenate([s, 1 - s]), (rows, cols)), shape=(n_units, k * k))
    # Unit counts of one vote-level unit are the vote counts: scale so each row is one vote.
    if groups is None:
        contrib = sparse.diags(1.0 / counts) @ contrib
    rng = np.random.default_rng(seed)
    boot = np.empty((n_boot, k))
    chunk = max(1, min(_MAX_CELLS // max(n_units, k * k), 2000))
    not_converged = 0
    for start in range(0, n_boot, chunk):
        nb = min(chunk, n_boot - start)
        draw = rng.multinomial(draws, probs, size=nb).astype(float)
        w = np.asarray((contrib.T @ draw.T).T).reshape(nb, k, k)
        theta, ok = _solve_bt(w, prior_games, 1e-8, 100)
        not_converged += int((~ok).sum())
        boot[start : start + nb] = elo_from_log_strength(theta, anchor_i)
    if not_converged:
        log.warning(
            "%d of %d bootstrap refits did not converge (a model won or lost every vote of "
            "a resample); their ratings are extreme and widen the intervals",
            not_converged,
            n_boot,
        )
    alpha = 1 - confidence
    low, high = np.quantile(boot, alpha / 2, axis=0), np.quantile(boot, 1 - alpha / 2, axis=0)
    n_votes = np.bincount(np.concatenate([ai, bi]), minlength=k)
    out = [
        LeaderboardRow(
            m,
            float(rating[i]),
            float(low[i]),
            float(high[i]),
            int(n_votes[i]),
            1 + int((low > high[i]).sum()),
        )
        for i, m in enumerate(names)
    ]
    return sorted(out, key=lambda r: (-r.rating, r.model))


# --------------------------------------------------------------------------- votes tables

#: Literal values of a votes file's ``winner`` column; a model's own name is accepted too.
WINNER_LITERALS = ("model_a", "model_b", "tie")
OVERALL = "overall"


class VoteError(ValueError):
    """A vote row is invalid; ``index`` is its 0-based row number."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def winner_scores(
    model_a: Sequence[str], model_b: Sequence[str], winner: Sequence[str]
) -> np.ndarray:
    """Score of model_a for each vote from its ``winner`` value.

    "model_a" or model_a's name → 1; "model_b" or model_b's name → 0; "tie" → 0.5. The literal
    strings take precedence over model names.

    Raises:
        VoteError: a winner that is none of these (``index`` names the row).
    """
    out = np.empty(len(winner))
    for i, (a, b, w) in enumerate(zip(model_a, model_b, winner, strict=True)):
        w = str(w).strip()
        if w == "model_a" or (w == str(a) and w not in WINNER_LITERALS):
            out[i] = 1.0
        elif w == "model_b" or (w == str(b) and w not in WINNER_LITERALS):
            out[i] = 0.0
        elif w == "tie":
            out[i] = 0.5
        else:
            raise VoteError(i, f"winner {w!r} is not model_a, model_b, tie, {a!r} or {b!r}")
    return out


def _check_columns(votes, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in votes.columns]
    if missing:
        raise ValueError(
            f"votes lack column(s) {', '.join(missing)}; they have {', '.join(map(str, votes.columns))}"
        )


def _decisive(votes, include_gold: bool):
    if "is_gold" in votes.columns and not include_gold:
        gold = votes["is_gold"].astype(str).str.lower().isin(["1", "true", "yes"])
        votes = votes[~gold]
    return votes


def preference_table(
    votes,
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    method: str = "bootstrap",
    n_boot: int = DEFAULT_BOOTSTRAP_ROUNDS,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    include_gold: bool = False,
):
    """Preference per (pair, question, category) plus an ``"overall"`` category row per question.

    Args:
        votes: pandas DataFrame with columns model_a, model_b, winner, prompt_id and optionally
            question (default one question "preference"), category, rater, is_gold.
        pairs: (A, B) pairs to report, oriented as given; default each unordered pair in order of
            first appearance, oriented as in its first row.
        method, n_boot, confidence: as in ``compute_preference``.
        seed: cell number c (in table order) uses ``numpy.random.default_rng([seed, c])``.
        include_gold: keep rows with is_gold true (dropped by default).

    Returns:
        DataFrame with columns model_a, model_b, question, category and the fields of
        PreferenceResult.
    """
    import pandas as pd

    _check_columns(votes, ["model_a", "model_b", "winner", "prompt_id"])
    v = _decisive(votes, include_gold).reset_index(drop=True)
    score_a = winner_scores(v["model_a"], v["model_b"], v["winner"])
    questions = (
        v["question"].astype(str)
        if "question" in v.columns
        else pd.Series("preference", index=v.index)
    )
    categories = v["category"].astype(str) if "category" in v.columns else None
    if pairs is None:
        seen: dict[frozenset, tuple[str, str]] = {}
        for a, b in zip(v["model_a"].astype(str), v["model_b"].astype(str), strict=True):
            seen.setdefault(frozenset((a, b)), (a, b))
        pairs = list(seen.values())
    rows, cell = [], 0
    for pa, pb in pairs:
        forward = (v["model_a"].astype(str) == pa) & (v["model_b"].astype(str) == pb)
        backward = (v["model_a"].astype(str) == pb) & (v["model_b"].astype(str) == pa)
        oriented = np.where(forward, score_a, 1.0 - score_a)
        for q in sorted(set(questions[forward | backward])):
            in_q = (forward | backward) & (questions == q)
            cats = [OVERALL] + ([] if categories is None else sorted(set(categories[in_q])))
            for cat in cats:
                sel = in_q if cat == OVERALL else in_q & (categories == cat)
                raters = v.loc[sel, "rater"] if "rater" in v.columns else None
                res = compute_preference(
                    oriented[sel],
                    v.loc[sel, "prompt_id"],
                    raters,
                    method=method,
                    n_boot=n_boot,
                    confidence=confidence,
                    seed=np.random.default_rng([seed, cell]),
                )
                rows.append(
                    {"model_a": pa, "model_b": pb, "question": q, "category": cat, **res.to_dict()}
                )
                cell += 1
    return pd.DataFrame(rows)


def chosen_sides(votes) -> np.ndarray:
    """ "left", "right" or "tie" per vote, from winner, model_a/model_b and run_left/run_right."""
    _check_columns(votes, ["model_a", "model_b", "winner", "run_left", "run_right"])
    score = winner_scores(votes["model_a"], votes["model_b"], votes["winner"])
    chosen = np.where(score == 1.0, votes["model_a"].astype(str), votes["model_b"].astype(str))
    side = np.where(chosen == votes["run_left"].astype(str), "left", "right")
    return np.where(score == 0.5, "tie", side)


def rater_quality(
    votes, *, expected_column: str = "expected_winner", level: str = "ordinal"
) -> dict[str, Any]:
    """Agreement per question, position bias, and gold accuracy per rater for a votes table.

    Agreement: ``compute_krippendorff_alpha`` with units (item_id, question) (prompt_id and the
    model pair when item_id is absent) and values the score of the alphabetically first model.
    Gold accuracy per rater uses the export's ``gold_correct`` column (1 / 0 per gold vote) or,
    failing that, a column ``expected_column`` holding the right winner of each gold row (same
    vocabulary as ``winner``); with neither, ``gold`` is None.
    """
    _check_columns(votes, ["model_a", "model_b", "winner", "prompt_id"])
    v = votes.reset_index(drop=True)
    score_a = winner_scores(v["model_a"], v["model_b"], v["winner"])
    first = np.minimum(v["model_a"].astype(str).to_numpy(), v["model_b"].astype(str).to_numpy())
    score_first = np.where(v["model_a"].astype(str) == first, score_a, 1 - score_a)
    item = (
        v["item_id"].astype(str)
        if "item_id" in v.columns
        else (
            v["prompt_id"].astype(str)
            + "|"
            + first
            + "|"
            + np.maximum(v["model_a"].astype(str), v["model_b"].astype(str))
        )
    )
    question = (
        v["question"].astype(str) if "question" in v.columns else item.map(lambda _: "preference")
    )
    agreement = {}
    for q in sorted(set(question)):
        sel = (question == q).to_numpy()
        try:
            agreement[q] = compute_krippendorff_alpha(item[sel], score_first[sel], level=level)
        except ValueError:
            agreement[q] = float("nan")
    bias = (
        compute_position_bias(chosen_sides(v))
        if {"run_left", "run_right"} <= set(v.columns)
        else None
    )
    gold = None
    is_gold = (
        v["is_gold"].astype(str).str.lower().isin(["1", "true", "yes"])
        if "is_gold" in v.columns
        else None
    )
    if is_gold is not None and is_gold.any() and "rater" in v.columns:
        g = v[is_gold]
        if "gold_correct" in v.columns:  # the study export's own correctness flag
            flags = g["gold_correct"].astype(str)
            g, correct = g[flags != ""], flags[flags != ""].isin(["1", "1.0", "true", "True"])
            gold = compute_gold_accuracy(g["rater"], correct.to_numpy())
        elif expected_column in v.columns:
            expected = winner_scores(g["model_a"], g["model_b"], g[expected_column])
            got = winner_scores(g["model_a"], g["model_b"], g["winner"])
            gold = compute_gold_accuracy(g["rater"], expected == got)
    return {"agreement": agreement, "agreement_level": level, "position_bias": bias, "gold": gold}


def drop_raters_below_gold(
    votes, threshold: float, *, expected_column: str = "expected_winner", min_items: int = 1
) -> tuple[Any, list[str]]:
    """Remove every vote of raters whose gold accuracy is below ``threshold``.

    Returns (filtered votes, dropped rater ids). Needs columns rater, is_gold and gold_correct
    (study export) or ``expected_column``.
    """
    _check_columns(votes, ["rater", "is_gold"])
    if "gold_correct" not in votes.columns and expected_column not in votes.columns:
        raise ValueError(
            f"votes need a gold_correct or {expected_column} column to score gold items"
        )
    gold = rater_quality(votes, expected_column=expected_column)["gold"] or {}
    dropped = raters_below_gold(gold, threshold, min_items=min_items)
    if dropped:
        log.info(
            "dropping %d rater(s) under gold accuracy %.2f: %s",
            len(dropped),
            threshold,
            ", ".join(dropped),
        )
    return votes[~votes["rater"].astype(str).isin(dropped)], dropped
