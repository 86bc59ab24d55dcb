"""`drawbench leaderboard VOTES.csv`: Bradley-Terry leaderboard from pairwise votes."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from drawbench.commands import add_verb

REQUIRED_COLUMNS = ("model_a", "model_b", "winner")

DESCRIPTION = """\
Fit Bradley-Terry ratings on the Elo scale (rating = 1000 + 400*log10(strength); the ratings
average 1000 unless --anchor names a model pinned at 1000) to a CSV of pairwise votes, with
bootstrap percentile intervals and a rank that accounts for overlap (rank = 1 + the number of
models whose interval lies entirely above this one's).

The CSV needs the columns model_a, model_b, winner; winner is one of the literal strings
"model_a", "model_b" or "tie", or the name of the winning model itself (as in `drawbench study
export`). Other columns are ignored, except: prompt_id (when present the bootstrap resamples
prompts, each bringing all its votes; otherwise it resamples votes), question (pick one with
--question), and is_gold (gold quality-control rows are left out)."""

EXAMPLES = """
  drawbench leaderboard votes.csv
  drawbench leaderboard votes.csv --format json --bootstrap 2000 --seed 1
  drawbench leaderboard votes.csv --ties drop --anchor my-baseline --question quality
"""


def register(subparsers, summary: str) -> None:
    p = add_verb(subparsers, "leaderboard", summary, DESCRIPTION, EXAMPLES)
    p.add_argument("votes", type=Path, metavar="VOTES.csv", help="pairwise votes")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument(
        "--ties",
        choices=["half", "drop"],
        default="half",
        help="a tie counts as half a win to each model (default) or is dropped",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=None,
        metavar="N",
        help="bootstrap rounds for the intervals (default 1000: drawbench.stats.DEFAULT_BOOTSTRAP_ROUNDS)",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument(
        "--anchor", default=None, metavar="MODEL", help="pin this model's rating at 1000"
    )
    p.add_argument(
        "--question", default=None, help="use only votes whose question column equals this"
    )
    p.add_argument(
        "--resample",
        choices=["auto", "prompts", "votes"],
        default="auto",
        help="bootstrap unit: prompts when a prompt_id column exists (auto), or votes",
    )
    p.set_defaults(func=run)


def read_votes(path: Path, question: str | None = None) -> dict[str, list]:
    """Read and check a votes CSV; return model_a, model_b, score, prompt_id (or None) lists.

    Raises:
        drawbench.cli.CommandError: missing file or columns, or a bad row (names the line).
    """
    from drawbench.commands import CommandError
    from drawbench.stats import WINNER_LITERALS, VoteError, winner_scores

    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise CommandError(
                f"{path}: missing column(s) {', '.join(missing)} (found: "
                f"{', '.join(columns) or 'no header'}); need model_a, model_b, winner"
            )
        rows = [
            ({k.strip(): (v or "").strip() for k, v in row.items() if k}, reader.line_num)
            for row in reader
        ]
    if question is not None:
        if "question" not in columns:
            raise CommandError(f"{path}: --question given but the file has no question column")
        rows = [(r, n) for r, n in rows if r["question"] == question]
    # Non-pairwise rows of a study export (coco-alignment: no model_b and no winner) are skipped.
    rows = [(r, n) for r, n in rows if r["model_b"] or r["winner"]]
    if "is_gold" in columns:
        rows = [(r, n) for r, n in rows if r["is_gold"].lower() not in ("1", "true", "yes")]
    if not rows:
        raise CommandError(
            f"{path}: no votes" + (f" for question {question!r}" if question else "")
        )
    for r, line in rows:
        if not r["model_a"] or not r["model_b"]:
            raise CommandError(f"{path} line {line}: empty model_a or model_b")
        if r["model_a"] == r["model_b"]:
            raise CommandError(f"{path} line {line}: model_a and model_b are both {r['model_a']!r}")
    try:
        scores = winner_scores(
            [r["model_a"] for r, _ in rows],
            [r["model_b"] for r, _ in rows],
            [r["winner"] for r, _ in rows],
        )
    except VoteError as err:
        raise CommandError(
            f"{path} line {rows[err.index][1]}: {err} (winner must be one of "
            f"{', '.join(WINNER_LITERALS)} or the winning model's name)"
        ) from None
    prompt_ids = [r["prompt_id"] for r, _ in rows] if "prompt_id" in columns else None
    questions = {r["question"] for r, _ in rows} if "question" in columns else set()
    if len(questions) > 1:
        print(
            f"note: {path} mixes questions ({', '.join(sorted(questions))}); all are pooled. "
            "Use --question to rank on one.",
            file=sys.stderr,
        )
    return {
        "model_a": [r["model_a"] for r, _ in rows],
        "model_b": [r["model_b"] for r, _ in rows],
        "scores": scores,
        "prompt_ids": prompt_ids,
    }


def run(args: argparse.Namespace) -> int:
    from drawbench import stats
    from drawbench.commands import CommandError

    votes = read_votes(args.votes, args.question)
    n_boot = stats.DEFAULT_BOOTSTRAP_ROUNDS if args.bootstrap is None else args.bootstrap
    if n_boot < 1:
        raise CommandError("--bootstrap must be at least 1")
    if args.resample == "prompts" and votes["prompt_ids"] is None:
        raise CommandError(f"{args.votes}: --resample prompts needs a prompt_id column")
    groups = None if args.resample == "votes" else votes["prompt_ids"]
    try:
        rows = stats.compute_leaderboard(
            votes["model_a"],
            votes["model_b"],
            votes["scores"],
            groups,
            ties=args.ties,
            n_boot=n_boot,
            seed=args.seed,
            anchor=args.anchor,
        )
    except ValueError as err:
        raise CommandError(f"{args.votes}: {err}") from None
    if args.format == "json":
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return 0
    unit = "prompts" if groups is not None else "votes"
    print(
        f"Bradley-Terry leaderboard (Elo scale), {len(votes['scores'])} votes, ties {args.ties}, "
        f"95% bootstrap intervals ({n_boot} rounds over {unit}, seed {args.seed})"
    )
    width = max(5, *(len(r.model) for r in rows))
    print(f"{'rank':>4}  {'model':<{width}}  {'rating':>7}  {'95% interval':>17}  {'n':>6}")
    for r in rows:
        print(
            f"{r.rank:>4}  {r.model:<{width}}  {r.rating:>7.1f}  [{r.ci_low:>7.1f}, {r.ci_high:>7.1f}]  {r.n:>6}"
        )
    return 0
