"""Seeded synthetic votes in the study-export format, for demos and tests (labelled simulated)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

from drawbench.report.data import VOTE_COLUMNS

#: Study name given to simulated votes; reports label any study whose name starts with it.
SIMULATED_STUDY = "simulated"


def simulate_votes(
    run_names: Sequence[str],
    prompts: Sequence,
    *,
    strengths: Mapping[str, float] | None = None,
    raters: int = 3,
    questions: Sequence[str] = ("quality", "alignment"),
    tie_share: float = 0.2,
    prompt_sd: float = 0.5,
    seed: int = 0,
):
    """Simulated pairwise votes for every pair of runs, every prompt, question and rater.

    A non-tie vote prefers run a with probability σ(θ_a − θ_b + ε_p), θ from ``strengths``
    (default 0 for every run) and ε_p ~ N(0, prompt_sd²) drawn per (pair, prompt); a vote is a tie
    with probability ``tie_share``. Left/right is a fair coin per vote. ``winner`` holds the run
    name (or "tie"), ``choice`` the side ("left", "right", "tie"); ``simulated`` is True.

    Args:
        run_names: the runs compared. prompts: objects with ``id`` and ``category``.
        seed: seeds numpy's Generator; the same arguments give the same DataFrame.

    Returns:
        pandas DataFrame with VOTE_COLUMNS plus ``simulated``.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    theta = {r: float((strengths or {}).get(r, 0.0)) for r in run_names}
    rows = []
    item = 0
    for a, b in combinations(run_names, 2):
        for prompt in prompts:
            eps = rng.normal(0.0, prompt_sd)
            p_a = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b] + eps)))
            left_first = rng.random(raters) < 0.5
            for q in questions:
                for r in range(raters):
                    tie = rng.random() < tie_share
                    winner = "tie" if tie else (a if rng.random() < p_a else b)
                    left, right = (a, b) if left_first[r] else (b, a)
                    choice = "tie" if tie else ("left" if winner == left else "right")
                    rows.append({
                        "study": SIMULATED_STUDY, "item_id": f"item-{item:05d}",
                        "prompt_id": prompt.id, "category": prompt.category, "question": q,
                        "rater": f"sim-rater-{r:02d}", "run_left": left, "run_right": right,
                        "choice": choice, "model_a": a, "model_b": b, "winner": winner,
                        "is_gold": False, "created_at": f"1970-01-01T00:00:{len(rows) % 60:02d}Z",
                        "simulated": True,
                    })  # fmt: skip
            item += 1
    return pd.DataFrame(rows, columns=[*VOTE_COLUMNS, "simulated"])
