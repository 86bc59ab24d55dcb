"""``drawbench demo``: the whole pipeline on built-in defaults, offline, in a few minutes."""

from __future__ import annotations

from drawbench.commands import add_verb


def register(subparsers, summary: str) -> None:
    p = add_verb(
        subparsers,
        "demo",
        summary,
        "The whole pipeline on the toy world, offline on a CPU, with numbers that mean something: "
        "66 held-out toy prompts; five models (ground-truth renders, the shipped toy Imagen "
        "cascade, the same cascade untrained, the cascade with relations swapped, and the ground "
        "truth with relations swapped); CLIP score with the shipped toy CLIP and toy FID on its "
        "image features against ground-truth renders; votes from an automatic judge (the shipped "
        "CoordConv toy CLIP, labelled as such); a validity check (ground truth > trained > "
        "untrained with 95% intervals apart, and the CLIP score's paired differences, OUT/validity.json); a relation-blindness check (the "
        "CLIP score does not drop for swapped relations while the judge's preference does, "
        "OUT/relation_blindness.json); and the report. Reruns resume.",
        """
  drawbench demo
  drawbench demo --out /tmp/demo --prompts-per-category 6 --images-per-prompt 6   # the CI test, 3 min
""",
    )
    p.add_argument(
        "--out", default="drawbench-demo", help="output folder (default ./drawbench-demo)"
    )
    p.add_argument(
        "--prompts-per-category",
        type=int,
        default=None,
        help="toy prompts per category (default: all 66 held-out prompts)",
    )
    p.add_argument(
        "--images-per-prompt",
        type=int,
        default=None,
        help="images per prompt and model (default 4)",
    )
    p.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from drawbench.commands import CommandError
    from drawbench.pipeline.demo import DEFAULT_IMAGES_PER_PROMPT, run_demo

    images = DEFAULT_IMAGES_PER_PROMPT if args.images_per_prompt is None else args.images_per_prompt
    if (args.prompts_per_category is not None and args.prompts_per_category < 1) or images < 1:
        raise CommandError("--prompts-per-category and --images-per-prompt must be >= 1")

    try:
        report = run_demo(
            args.out,
            prompts_per_category=args.prompts_per_category,
            images_per_prompt=images,
            seed=args.seed,
            progress=not args.no_progress,
        )
    except ValueError as err:
        raise CommandError(str(err)) from None
    print(_summary(args.out))
    print(f"report: {report}")
    print(f"        {report.with_suffix('.md')}")
    return 0


def _summary(out) -> str:
    """One line on what the demo's checks found (from the JSON files it wrote)."""
    import json
    from pathlib import Path

    validity = json.loads((Path(out) / "validity.json").read_text())
    relation = json.loads((Path(out) / "relation_blindness.json").read_text())
    shown = [f"{c['run_a']}/{c['category']}" for c in relation if c["shown"]]
    paired = [c for c in validity if c.get("paired_diff_ci") is not None]
    return (
        f"validity: {sum(c['separated'] for c in validity)} of {len(validity)} comparisons in the "
        f"right order with 95% intervals apart ({sum(c['holds'] for c in validity)} in the right "
        f"order; paired CLIP-score differences apart from 0: "
        f"{sum(c['paired_separated'] for c in paired)} of {len(paired)}); "
        f"relation blindness shown in {len(shown)} of {len(relation)} rows"
        + (f" ({', '.join(shown)})" if shown else "")
    )
