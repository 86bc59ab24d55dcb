"""Preference of A over B: score checks, intervals (bootstrap, Wilson, normal), simulation.

A rating is a *score* of A over B: 1 = A preferred, 0.5 = indifferent, 0 = B preferred;
preference = (wins + ½ ties) / n = the mean score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from drawbench.stats.constants import (
    _MAX_CELLS,
    _VALID_SCORES,
    DEFAULT_BOOTSTRAP_ROUNDS,
    DEFAULT_CONFIDENCE,
    PREFERENCE_METHODS,
)


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
