"""Bradley-Terry ratings on the Elo scale and leaderboards with bootstrap intervals.

Ratings are on the Elo scale: rating = 1000 + 400·log10(strength).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from drawbench.stats.constants import (
    _MAX_CELLS,
    DEFAULT_BOOTSTRAP_ROUNDS,
    DEFAULT_BT_PRIOR_GAMES,
    DEFAULT_CONFIDENCE,
    ELO_BASE,
    ELO_CENTER,
    ELO_SCALE,
)
from drawbench.stats.preference import check_scores

log = logging.getLogger(__name__)


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
