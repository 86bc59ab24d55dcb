"""Votes tables (pandas DataFrames): winner scores, preference per cell, rater quality."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from drawbench.stats.agreement import (
    compute_gold_accuracy,
    compute_krippendorff_alpha,
    compute_position_bias,
    raters_below_gold,
)
from drawbench.stats.constants import DEFAULT_BOOTSTRAP_ROUNDS, DEFAULT_CONFIDENCE
from drawbench.stats.preference import compute_preference

log = logging.getLogger(__name__)

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
