"""`drawbench generate`: images for a prompt set into a run directory (resumable, shardable).

Light at import time: the orchestration (and any generator, torch included) is imported inside
the handler.
"""

from __future__ import annotations

import argparse
import os

from drawbench.commands import add_verb

DESCRIPTION = """\
Generate images for a prompt set into a run directory (DESIGN.md, "Run directory").

Everything (generator name, options, optional dependencies, prompts, output directory) is checked
before any model loads. Image j of prompt p gets seed derive_seed(--seed, p.id, j), so an image
never depends on batch size, shard or which other prompts ran. A rerun generates only the missing
images; an existing run directory made with another generator configuration, prompt set or seed is
refused and left untouched. --shard i/N (or torchrun's RANK/WORLD_SIZE) splits the work so that N
processes writing into one --out produce the same files as one process. On CUDA out-of-memory the
batch is halved and generation continues.

--option values are parsed as JSON when they parse (numbers, true/false, null), else kept as
strings. Generators: solid, noise (trivial, for tests and demos), folder (import images made
elsewhere), diffusers (any diffusers text-to-image pipeline), python (a callable
f(prompts, seeds) -> images), imagen, entry points of the group drawbench.generators, or any
'module:attribute' factory."""

EXAMPLES = """
  drawbench generate --generator solid --prompts drawbench --images-per-prompt 4 --seed 0 --out runs/solid
  drawbench generate --generator diffusers --option model=/models/sd-1.5 --option steps=50 \\
      --option guidance_scale=7.5 --option dtype=float16 --prompts coco30k --images-per-prompt 1 \\
      --seed 0 --out runs/sd15 --batch-size 16 --device cuda
  drawbench generate --generator folder --option dir=exports/api-model --prompts drawbench \\
      --images-per-prompt 4 --seed 0 --out runs/api-model
  drawbench generate --generator python --option callable=my_pkg.sample:generate --prompts my.csv \\
      --images-per-prompt 2 --seed 1 --out runs/mine --shard 0/2     # and --shard 1/2 elsewhere
  torchrun --nproc-per-node 8 -m drawbench.cli generate --generator diffusers --option model=... \\
      --prompts coco30k --images-per-prompt 1 --seed 0 --out runs/sd15
  drawbench generate --generator solid --prompts drawbench --category Colors --limit 3 \\
      --images-per-prompt 2 --seed 0 --out runs/x --dry-run
"""


def register(subparsers, summary: str) -> None:
    p = add_verb(subparsers, "generate", summary, DESCRIPTION, EXAMPLES)
    p.add_argument(
        "--generator", required=True, metavar="NAME", help="generator name or module:attribute"
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="generator option (repeatable); VALUE is parsed as JSON when possible",
    )
    p.add_argument(
        "--prompts",
        required=True,
        metavar="SET",
        help="bundled set name or a .csv/.jsonl/.txt file",
    )
    p.add_argument("--category", help="only prompts of this category (case-insensitive)")
    p.add_argument(
        "--limit", type=int, metavar="K", help="only the first K prompts (after --category)"
    )
    p.add_argument("--images-per-prompt", type=int, required=True, metavar="N")
    p.add_argument("--seed", type=int, required=True, metavar="S", help="run seed")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="run directory (created, or resumed)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="B",
        help="images per generate() call (default 8)",
    )
    p.add_argument(
        "--shard",
        metavar="i/N",
        help="generate shard i of N (default: torchrun's RANK/WORLD_SIZE, else 0/1)",
    )
    p.add_argument(
        "--device", metavar="D", help="device for generators that take one (cuda, cuda:1, cpu)"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print what would be generated; write nothing"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _request(args):
    from pathlib import Path

    from drawbench.pipeline.generate import (
        DEFAULT_BATCH_SIZE,
        GenerateRequest,
        Shard,
        parse_options,
        select_prompts,
    )

    shard = Shard.parse(args.shard) if args.shard else Shard.from_env(os.environ) or Shard()
    prompts, selection = select_prompts(args.prompts, args.category, args.limit)
    return GenerateRequest(
        generator=args.generator,
        prompts=prompts,
        images_per_prompt=args.images_per_prompt,
        seed=args.seed,
        out=Path(args.out),
        options=parse_options(args.option),
        batch_size=args.batch_size if args.batch_size is not None else DEFAULT_BATCH_SIZE,
        shard=shard,
        device=args.device,
        selection=selection,
        command_line=command_line(args),
    )


def command_line(args: argparse.Namespace) -> list[str]:
    """The equivalent ``drawbench generate`` command line (however it was invoked)."""
    line = ["drawbench", "generate", "--generator", args.generator]
    for option in args.option:
        line += ["--option", option]
    line += ["--prompts", str(args.prompts)]
    for flag, value in (("--category", args.category), ("--limit", args.limit)):
        if value is not None:
            line += [flag, str(value)]
    line += ["--images-per-prompt", str(args.images_per_prompt), "--seed", str(args.seed)]
    line += ["--out", str(args.out)]
    for flag, value in (
        ("--batch-size", args.batch_size),
        ("--shard", args.shard),
        ("--device", args.device),
    ):
        if value is not None:
            line += [flag, str(value)]
    return line


def _run(args: argparse.Namespace) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    from drawbench.commands import CommandError
    from drawbench.pipeline.generate import (
        GenerateConfigError,
        describe_plan,
        plan_generation,
        run_generation,
    )
    from drawbench.runs import RunDirectoryError
    from generators.base import GeneratorError

    try:
        request = _request(args)
        if args.dry_run:
            print("\n".join(describe_plan(plan_generation(request))))
            return 0
        with logging_redirect_tqdm():
            result = run_generation(request, progress=not args.no_progress)
    except (GenerateConfigError, RunDirectoryError, GeneratorError) as err:
        raise CommandError(str(err)) from None
    if not result.generated:
        print(
            f"{result.run_dir}: nothing to do; all {result.already_done} image(s) of shard "
            f"{request.shard} are already there"
        )
        return 0
    note = (
        f"; batch size halved {result.oom_halvings}x after CUDA OOM" if result.oom_halvings else ""
    )
    print(
        f"{result.run_dir}: generated {result.generated} image(s) in {result.seconds:.1f} s "
        f"({result.images_per_s:.2f} images/s), {result.already_done} already there, shard "
        f"{request.shard}{note}"
    )
    return 0
