"""Statistics for pairwise human-preference studies and multi-model leaderboards.

Pure numpy/scipy functions (pandas only inside the ``*_table`` helpers that take a votes
DataFrame); every random choice takes a seed or a seeded ``numpy.random.Generator``.

Conventions used throughout:

* A rating is a *score* of A over B: 1 = "I prefer set A", 0.5 = "I am indifferent",
  0 = "I prefer set B".
* Preference of A over B = (wins + ½ ties) / n = the mean score (DESIGN.md, Statistics).
* Intervals are two-sided at ``confidence`` (default 95%).
* Bradley-Terry ratings are on the Elo scale: rating = 1000 + 400·log10(strength).

Modules: ``constants`` (defaults and vocabularies), ``preference`` (preference and its intervals,
simulation), ``planner`` (study size), ``agreement`` (rater agreement, position bias, gold
accuracy), ``bradley_terry`` (ratings and leaderboards), ``votes`` (votes DataFrames). Every name
is re-exported here (private helpers too, as ``name as name``); import from ``drawbench.stats``.
Only numpy is imported with the package (scipy and pandas inside the functions that need them).
"""

from __future__ import annotations

import logging

# Names the single-module drawbench.stats exposed by importing them; kept for compatibility.
from collections.abc import Sequence  # noqa: F401
from dataclasses import asdict, dataclass  # noqa: F401
from typing import Any  # noqa: F401

import numpy as np  # noqa: F401

from drawbench.stats.agreement import (
    PositionBias,
    compute_fleiss_kappa,
    compute_gold_accuracy,
    compute_krippendorff_alpha,
    compute_position_bias,
    raters_below_gold,
)
from drawbench.stats.bradley_terry import (
    LeaderboardRow,
    compute_leaderboard,
    elo_from_log_strength,
    fit_bradley_terry,
    pairwise_wins,
)
from drawbench.stats.bradley_terry import _bt_loglik as _bt_loglik
from drawbench.stats.bradley_terry import _solve_bt as _solve_bt
from drawbench.stats.constants import _MAX_CELLS as _MAX_CELLS
from drawbench.stats.constants import _VALID_SCORES as _VALID_SCORES
from drawbench.stats.constants import (
    AGREEMENT_LEVELS,
    DEFAULT_BOOTSTRAP_ROUNDS,
    DEFAULT_BT_PRIOR_GAMES,
    DEFAULT_CONFIDENCE,
    ELO_BASE,
    ELO_CENTER,
    ELO_SCALE,
    PREFERENCE_METHODS,
)
from drawbench.stats.planner import StudyPlan, expected_interval_width, plan_study, plan_table
from drawbench.stats.preference import (
    PreferenceResult,
    bootstrap_prompt_means,
    check_scores,
    compute_preference,
    simulate_preference_study,
    wilson_interval,
)
from drawbench.stats.preference import _bootstrap_two_stage as _bootstrap_two_stage
from drawbench.stats.preference import _z as _z
from drawbench.stats.votes import (
    OVERALL,
    WINNER_LITERALS,
    VoteError,
    chosen_sides,
    drop_raters_below_gold,
    preference_table,
    rater_quality,
    winner_scores,
)
from drawbench.stats.votes import _check_columns as _check_columns
from drawbench.stats.votes import _decisive as _decisive

log = logging.getLogger(__name__)

__all__ = [
    "AGREEMENT_LEVELS",
    "DEFAULT_BOOTSTRAP_ROUNDS",
    "DEFAULT_BT_PRIOR_GAMES",
    "DEFAULT_CONFIDENCE",
    "ELO_BASE",
    "ELO_CENTER",
    "ELO_SCALE",
    "OVERALL",
    "PREFERENCE_METHODS",
    "WINNER_LITERALS",
    "LeaderboardRow",
    "PositionBias",
    "PreferenceResult",
    "StudyPlan",
    "VoteError",
    "bootstrap_prompt_means",
    "check_scores",
    "chosen_sides",
    "compute_fleiss_kappa",
    "compute_gold_accuracy",
    "compute_krippendorff_alpha",
    "compute_leaderboard",
    "compute_position_bias",
    "compute_preference",
    "drop_raters_below_gold",
    "elo_from_log_strength",
    "expected_interval_width",
    "fit_bradley_terry",
    "pairwise_wins",
    "plan_study",
    "plan_table",
    "preference_table",
    "rater_quality",
    "raters_below_gold",
    "simulate_preference_study",
    "wilson_interval",
    "winner_scores",
]
