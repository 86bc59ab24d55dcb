"""The ``drawbench`` command line. Each verb lives in ``drawbench/commands/<verb>.py``.

A command module exposes ``register(subparsers)``; it must stay light at import time (heavy
libraries are imported inside the handler), so ``drawbench --help`` and ``drawbench prompts``
never load torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from drawbench import __version__
from drawbench.commands import CommandError

__all__ = ["VERBS", "CommandError", "build_parser", "main"]

#: verb -> one-line summary; order is the order of ``drawbench --help``.
VERBS: dict[str, str] = {
    "prompts": "list and inspect prompt sets; build a seeded COCO-30K list",
    "generate": "generate images for a prompt set into a run directory",
    "evaluate": "compute FID / KID / CLIP score for a run in one decode pass",
    "reference": "build reference statistics for FID (e.g. COCO val2014)",
    "study": "human rating studies: create, invite, serve, status, export, plan",
    "report": "write a leaderboard report (markdown, HTML, plots) for runs",
    "leaderboard": "Bradley-Terry leaderboard from a pairwise votes CSV",
    "run": "the whole benchmark from one TOML config",
    "demo": "the main job on built-in defaults, offline, in a few minutes",
    "imagen": "train the reference Imagen cascade",
    "toyworld": "the synthetic toy world: training folders, held-out captions",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drawbench",
        description="Evaluate text-to-image models the way the Imagen paper did: DrawBench and "
        "COCO-30K prompts, any generator, FID / CLIP score, pairwise human rating with "
        "confidence intervals, and leaderboard reports.",
        epilog="Run 'drawbench VERB --help' for a verb's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"drawbench {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    for verb, summary in VERBS.items():
        module = importlib.import_module(f"drawbench.commands.{verb}")
        module.register(sub, summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2 if args.verb is None else 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except CommandError as err:
        print(f"drawbench {args.verb}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
