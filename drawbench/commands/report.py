"""`drawbench report RUN [RUN ...] --out DIR`: leaderboard report (markdown, HTML, plots)."""

from __future__ import annotations

import argparse
from pathlib import Path

from drawbench.commands import add_verb

DESCRIPTION = """\
Write report.md, a self-contained report.html (plots embedded; opens offline) and PNG plots for
one or more run directories: a leaderboard of every metric with its provenance, FID against
CLIP score across runs (guidance scale read from run.json when present), per-category CLIP
score, sample grids per category, and, with votes, per-category preference with 95% intervals
for each question (Imagen Figure 3 view), rater agreement, position bias, and a Bradley-Terry
leaderboard when more than two runs were compared. Numbers from random-weight models and
simulated votes are labelled as such."""

EXAMPLES = """
  drawbench report runs/model-a runs/model-b --out reports/ab
  drawbench report runs/* --votes votes.csv --out reports/all
  drawbench report runs/a runs/b --study drawbench-ab --db sqlite:///ratings.db --out reports/ab
"""


def register(subparsers, summary: str) -> None:
    p = add_verb(subparsers, "report", summary, DESCRIPTION, EXAMPLES)
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the report")
    p.add_argument(
        "--votes", type=Path, default=None, help="votes CSV from `drawbench study export`"
    )
    p.add_argument(
        "--study",
        default=None,
        metavar="NAME",
        help="read the votes of this study from the database",
    )
    p.add_argument(
        "--db", default=None, metavar="URL", help="database URL for --study (default: the app's)"
    )
    p.add_argument("--title", default="drawbench report")
    p.add_argument("--bootstrap", type=int, default=None, metavar="N",
                   help="bootstrap rounds for every interval (default 1000)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drawbench.commands import CommandError

    if args.votes and args.study:
        raise CommandError("give --votes or --study, not both")
    try:
        from drawbench.report.data import ReportError, load_study_votes
        from drawbench.report.render import REPORT_BOOTSTRAP_ROUNDS, write_report
    except ImportError as err:
        raise CommandError(
            f"the report needs matplotlib and pandas: pip install 'drawbench[report]' ({err})"
        ) from None
    try:
        votes = load_study_votes(args.study, args.db) if args.study else args.votes
        path = write_report(args.runs, args.out, votes=votes, title=args.title, seed=args.seed,
                            n_boot=args.bootstrap or REPORT_BOOTSTRAP_ROUNDS)  # fmt: skip
    except ReportError as err:
        raise CommandError(str(err)) from None
    print(f"report: {path}")
    print(f"        {path.with_name('report.md')}")
    return 0
