"""`drawbench study plan`: how many prompts x raters give a target interval width.

``drawbench/commands/study.py`` calls ``add_plan_parser(study_subparsers)``; the maths lives in
``drawbench.stats.plan_study`` / ``expected_interval_width``.
"""

from __future__ import annotations

import argparse
import json

#: Raters-per-prompt values shown in the plan table (the requested one is added).
TABLE_RATERS = (1, 2, 3, 5, 10)
#: Prompt counts shown in the width table; 200 is the size of DrawBench.
TABLE_PROMPTS = (50, 100, 200, 400)

EXAMPLES = """
  drawbench study plan --preference 0.6 --prompt-sd 0.15 --width 0.1
  drawbench study plan --preference 0.55 --prompt-sd 0.1 --width 0.08 --raters 5 --ties 0.2
  drawbench study plan --preference 0.6 --prompt-sd 0.15 --width 0.1 --format json
"""


def add_plan_parser(study_subparsers) -> argparse.ArgumentParser:
    """Add ``plan`` to the ``drawbench study`` sub-commands and return its parser."""
    p = study_subparsers.add_parser(
        "plan",
        help="how many prompts x raters give a target 95%% interval width",
        description=(
            "Plan a pairwise preference study. The interval width of the prompt bootstrap is "
            "about 2*z*sqrt((sd_b^2 + sd_w^2/R)/P) for P prompts, R raters per prompt, prompt-level "
            "SD sd_b of the preference, and within-prompt variance sd_w^2 = p(1-p) - ties/4 - sd_b^2. "
            "More raters cannot push the width below 2*z*sd_b/sqrt(P): only more prompts do."
        ),
        epilog="examples:\n" + EXAMPLES.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--preference",
        type=float,
        required=True,
        metavar="P",
        help="expected preference of A over B, in (0, 1), e.g. 0.6",
    )
    p.add_argument(
        "--prompt-sd",
        type=float,
        required=True,
        metavar="S",
        help="SD of the per-prompt preference across prompts (0 = prompts all alike; 0.1-0.2 typical)",
    )
    p.add_argument(
        "--width",
        type=float,
        required=True,
        metavar="W",
        help="target full width of the interval (high - low), e.g. 0.1 for +-0.05",
    )
    p.add_argument(
        "--raters",
        type=int,
        default=None,
        metavar="R",
        help="raters per prompt (default: show a table for 1, 2, 3, 5, 10)",
    )
    p.add_argument(
        "--ties",
        type=float,
        default=0.0,
        metavar="T",
        help="expected share of 'indifferent' answers (default 0, the widest case)",
    )
    p.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=run_plan)
    return p


def run_plan(args: argparse.Namespace) -> int:
    from drawbench import stats
    from drawbench.commands import CommandError

    raters = sorted(set(TABLE_RATERS) | ({args.raters} if args.raters else set()))
    try:
        plans = stats.plan_table(
            args.preference,
            args.prompt_sd,
            args.width,
            raters,
            tie_share=args.ties,
            confidence=args.confidence,
        )
        widths = {
            (n, r): stats.expected_interval_width(
                args.preference,
                args.prompt_sd,
                n,
                r,
                tie_share=args.ties,
                confidence=args.confidence,
            )
            for n in TABLE_PROMPTS
            for r in raters
        }
    except ValueError as err:
        raise CommandError(str(err)) from None
    chosen = next((p for p in plans if p.raters_per_prompt == args.raters), None)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "plan": chosen.to_dict() if chosen else None,
                    "table": [p.to_dict() for p in plans],
                    "widths": [
                        {"prompts": n, "raters_per_prompt": r, "expected_width": w}
                        for (n, r), w in widths.items()
                    ],
                },
                indent=2,
            )
        )
        return 0
    level = f"{args.confidence:.0%}"
    print(
        f"preference {args.preference}, prompt SD {args.prompt_sd}, ties {args.ties}: "
        f"prompts needed for a {level} interval of width <= {args.width}"
    )
    print(f"{'raters/prompt':>14}  {'prompts':>8}  {'ratings':>8}  {'width':>7}")
    for p in plans:
        mark = "  <- requested" if chosen is p else ""
        print(
            f"{p.raters_per_prompt:>14}  {p.n_prompts:>8}  {p.n_ratings:>8}  {p.expected_width:>7.4f}{mark}"
        )
    print(f"\nexpected {level} interval width by prompts (rows) x raters per prompt (columns):")
    print(f"{'prompts':>8}  " + "  ".join(f"{r:>7}" for r in raters))
    for n in TABLE_PROMPTS:
        print(f"{n:>8}  " + "  ".join(f"{widths[(n, r)]:>7.4f}" for r in raters))
    if min(p.n_prompts for p in plans) > 200:
        print(
            "\nnote: every plan needs more than DrawBench's 200 prompts; extra raters cannot shrink the "
            f"width below {plans[0].floor_width_200_prompts:.4f} with 200 prompts"
        )
    return 0
