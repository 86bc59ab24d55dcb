"""``drawbench demo``: the whole pipeline on built-in defaults, offline, in a few minutes."""

from __future__ import annotations

from drawbench.commands import add_verb


def register(subparsers, summary: str) -> None:
    p = add_verb(
        subparsers,
        "demo",
        summary,
        "Generate images for a few prompts of every DrawBench category with two model variants, "
        "evaluate CLIP score and FID in one pass, simulate a rating study, and write the report. "
        "Runs offline on a CPU. Models without real weights on this machine use RANDOM weights, "
        "and the rating study is SIMULATED: the report labels both, and its numbers describe no "
        "real model. Reruns resume.",
        """
  drawbench demo
  drawbench demo --out /tmp/demo --prompts-per-category 1 --images-per-prompt 1
""",
    )
    p.add_argument(
        "--out", default="drawbench-demo", help="output folder (default ./drawbench-demo)"
    )
    p.add_argument(
        "--prompts-per-category",
        type=int,
        default=2,
        help="DrawBench prompts per category (default 2)",
    )
    p.add_argument(
        "--images-per-prompt", type=int, default=2, help="images per prompt and variant (default 2)"
    )
    p.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from drawbench.commands import CommandError

    if args.prompts_per_category < 1 or args.images_per_prompt < 1:
        raise CommandError("--prompts-per-category and --images-per-prompt must be >= 1")
    from drawbench.pipeline.demo import run_demo

    try:
        report = run_demo(
            args.out,
            prompts_per_category=args.prompts_per_category,
            images_per_prompt=args.images_per_prompt,
            seed=args.seed,
            progress=not args.no_progress,
        )
    except ValueError as err:
        raise CommandError(str(err)) from None
    print(f"report: {report}")
    print(f"        {report.with_suffix('.md')}")
    return 0
