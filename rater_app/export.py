"""Votes out of the database: one row per vote with left/right resolved to runs.

Columns (:data:`EXPORT_COLUMNS`; the leaderboard and report read the first thirteen):

* ``study, item_id, prompt_id, category, question, rater``
* ``run_left, run_right``: the runs shown on the left and right in that presentation
* ``choice``: ``left`` / ``right`` / ``tie`` (coco-alignment: ``yes`` / ``somewhat`` / ``no``)
* ``model_a, model_b``: the item's two runs in a fixed order (the order of ``--runs``; the real
  COCO images are the run ``coco-real``); coco-alignment leaves ``model_b`` empty
* ``winner``: the winning run's name, or ``tie`` (empty for coco-alignment)
* ``is_gold``: 1 for attention-check items (exclude them from model comparisons), else 0
* ``created_at``: UTC, ISO 8601
* extras: ``protocol, item_key, score_a`` (1 / 0.5 / 0 from model_a's view; alignment 100/50/0),
  ``gold_correct`` (1/0 on gold questions, else empty), ``left_side`` (``a``/``b``),
  ``prompt_b_id`` (gold items: the unrelated prompt shown), ``assignment_id``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import aliased

from drawbench.report.data import VOTE_COLUMNS
from rater_app.design import choice_to_side, get_protocol, is_gold_correct
from rater_app.manage import require_study
from rater_app.storage import Assignment, Database, Item, Rater, Run, Vote

#: The export's columns: the votes-file columns every reader relies on
#: (``drawbench.report.data.VOTE_COLUMNS``: report, leaderboard), then the study's own extras.
EXPORT_COLUMNS = (
    *VOTE_COLUMNS,
    "protocol",
    "item_key",
    "score_a",
    "gold_correct",
    "left_side",
    "prompt_b_id",
    "assignment_id",
)


def iter_vote_rows(db: Database, study_name: str) -> Iterator[dict]:
    """Every vote of a study as an export row (dict keyed by :data:`EXPORT_COLUMNS`)."""
    run_a, run_b = aliased(Run), aliased(Run)
    with db.session() as s:
        study = require_study(s, study_name)
        proto = get_protocol(study.protocol)
        query = (
            select(Vote, Assignment, Item, Rater.name, run_a.name, run_b.name)
            .join(Assignment, Vote.assignment_id == Assignment.id)
            .join(Item, Assignment.item_id == Item.id)
            .join(Rater, Assignment.rater_id == Rater.id)
            .join(run_a, Item.run_a_id == run_a.id)
            .outerjoin(run_b, Item.run_b_id == run_b.id)
            .where(Item.study_id == study.id)
            .order_by(Vote.id)
        )
        rows = s.execute(query).all()
    for vote, a, item, rater, name_a, name_b in rows:
        left, right = (name_a, name_b) if a.left_side == "a" else (name_b, name_a)
        question = proto.question(vote.question)
        answer = question.answer(vote.choice) if question else None
        if proto.pairwise:
            side = choice_to_side(vote.choice, a.left_side)
            winner = {"a": name_a, "b": name_b, "tie": "tie"}.get(side, "")
            score_a = {"a": 1.0, "b": 0.0, "tie": 0.5}.get(side, "")
        else:
            winner, score_a = "", (answer.score if answer else "")
        expected = (item.gold or {}).get(vote.question) if item.is_gold else None
        yield {
            "study": study_name,
            "item_id": item.id,
            "prompt_id": item.prompt_id,
            "category": item.category,
            "question": vote.question,
            "rater": rater,
            "run_left": left or "",
            "run_right": right or "",
            "choice": vote.choice,
            "model_a": name_a,
            "model_b": name_b or "",
            "winner": winner,
            "is_gold": int(item.is_gold),
            "created_at": vote.created_at.isoformat(timespec="milliseconds") + "Z",
            "protocol": study.protocol,
            "item_key": item.key,
            "score_a": score_a,
            "gold_correct": ""
            if expected is None
            else int(is_gold_correct(vote.choice, a.left_side, expected)),
            "left_side": a.left_side,
            "prompt_b_id": item.prompt_b_id or "",
            "assignment_id": a.id,
        }


def write_votes_csv(db: Database, study_name: str, out: str | Path) -> int:
    """Write the export CSV (UTF-8, header first) through a temporary file; returns the row count."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    n = 0
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        for row in iter_vote_rows(db, study_name):
            writer.writerow(row)
            n += 1
    tmp.replace(out)
    return n
