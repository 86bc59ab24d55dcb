"""`drawbench toyworld`: the synthetic world the suite proves itself on (issue 8)."""

from __future__ import annotations

import argparse

from drawbench.commands import add_verb

DESCRIPTION = """The toy world: 64x64 scenes of 1-4 coloured shapes with a caption grammar and a
deterministic renderer (drawbench/toyworld*.py). `dataset` renders a training folder of the world
(images/ + captions.csv with columns file,caption) that `drawbench imagen train --data` reads;
`captions` prints the held-out captions (the bundled prompt set `toyworld`)."""

EXAMPLES = """
  drawbench toyworld dataset --out toy-train --scenes 30000 --seed 1
  drawbench imagen train --stage 0 --data toy-train --config imagen-toy --out toy-ckpt
  drawbench toyworld captions
"""


def register(subparsers, summary: str) -> None:
    p = add_verb(subparsers, "toyworld", summary, DESCRIPTION, EXAMPLES)
    sub = p.add_subparsers(dest="toyworld_action", metavar="ACTION")
    d = sub.add_parser("dataset", help="render an image-caption training folder of the world")
    d.add_argument("--out", required=True, help="folder to write (created)")
    d.add_argument("--scenes", type=int, default=30000, help="scenes to render (default 30000)")
    d.add_argument("--seed", type=int, default=1, help="seed of the scene stream (default 1)")
    d.add_argument(
        "--split",
        default="train",
        choices=("train", "held_out"),
        help="meanings to draw from (default train: the held-out ones are never trained on)",
    )
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(func=_dataset)
    c = sub.add_parser("captions", help="print the held-out captions with ids and categories")
    c.set_defaults(func=_captions)
    p.set_defaults(func=lambda args: p.print_help() or 0)


def _dataset(args: argparse.Namespace) -> int:
    from drawbench.commands import CommandError
    from drawbench.toyworld_data import write_training_folder

    try:
        folder = write_training_folder(
            args.out, args.scenes, seed=args.seed, split=args.split, progress=not args.no_progress
        )
    except ValueError as err:
        raise CommandError(str(err)) from None
    print(f"{args.scenes} scenes ({args.split} split, seed {args.seed}) in {folder}")
    return 0


def _captions(args: argparse.Namespace) -> int:
    from drawbench.prompts import load_prompt_set

    for p in load_prompt_set("toyworld"):
        print(f"{p.id}\t{p.category}\t{p.text}")
    return 0
