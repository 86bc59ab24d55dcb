"""Simulated rating votes, for the offline demo and for testing the statistics end to end.

Every vote this module makes is synthetic and says so (``rater`` names start with ``simulated-``
and ``study`` carries the ``simulated`` label). Nothing here is a human judgement.

Model: for an item (prompt p, runs a and b) and a question q, a simulated rater prefers a with
probability ``(1 - tie) * sigmoid(s_a - s_b + u_p)``, b with ``(1 - tie) * sigmoid(s_b - s_a - u_p)``
and is indifferent with probability ``tie``, where ``s`` are per-run strengths (per question),
``u_p ~ Normal(0, prompt_sd)`` is a per-prompt effect, and left/right is a fair coin.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import numpy as np

#: Columns of a votes CSV, as ``drawbench study export`` writes them.
VOTE_COLUMNS = (
    "study", "item_id", "prompt_id", "category", "question", "rater", "run_left", "run_right",
    "choice", "model_a", "model_b", "winner", "is_gold", "created_at",
)
QUESTIONS = ("quality", "alignment")


def simulate_votes(
    prompts: Sequence,  # Prompt objects (.id, .category)
    strengths: Mapping[str, Mapping[str, float]],  # question -> run name -> strength
    *,
    raters: int = 5,
    tie: float = 0.2,
    prompt_sd: float = 0.5,
    seed: int = 0,
    study: str = "simulated",
) -> list[dict]:
    """Seeded synthetic votes for every prompt × run pair × question (see module docstring)."""
    rng = np.random.default_rng(seed)
    runs = list(next(iter(strengths.values())))
    stamp = datetime(2000, 1, 1, tzinfo=timezone.utc).isoformat()
    rows = []
    for p in prompts:
        for a, b in itertools.combinations(runs, 2):
            item_id = f"{p.id}|{a}|{b}"
            for q in QUESTIONS:
                s = strengths[q]
                u = rng.normal(0.0, prompt_sd)
                pa = (1 - tie) / (1 + np.exp(-(s[a] - s[b] + u)))
                for r in range(raters):
                    x = rng.random()
                    winner = a if x < pa else ("tie" if x < pa + tie else b)
                    left, right = (a, b) if rng.random() < 0.5 else (b, a)
                    choice = "tie" if winner == "tie" else ("left" if winner == left else "right")
                    rows.append({
                        "study": study, "item_id": item_id, "prompt_id": p.id, "category": p.category,
                        "question": q, "rater": f"simulated-{r:02d}", "run_left": left, "run_right": right,
                        "choice": choice, "model_a": a, "model_b": b, "winner": winner, "is_gold": False,
                        "created_at": stamp,
                    })
    return rows


def write_votes_csv(rows: Sequence[Mapping], path) -> None:
    """Write votes in the export format (``VOTE_COLUMNS``)."""
    import csv
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=VOTE_COLUMNS)
        w.writeheader()
        w.writerows(rows)
