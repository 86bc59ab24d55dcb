"""``drawbench prompts``: list and inspect prompt sets; build a seeded COCO-30K list."""

from __future__ import annotations

import csv
import json
import sys

from drawbench.commands import add_verb

SET_HELP = (
    "a bundled set (drawbench, coco30k) or a prompt file (.csv, .jsonl, .txt); default: drawbench"
)


def register(subparsers, summary: str) -> None:
    p = add_verb(
        subparsers,
        "prompts",
        summary,
        "Inspect the bundled prompt sets (DrawBench, COCO-30K) and custom prompt files.",
        """
  drawbench prompts list --set drawbench --category Counting
  drawbench prompts list --set coco30k --format csv > coco.csv
  drawbench prompts list --set my_prompts.jsonl --format json
  drawbench prompts categories --set drawbench --format json
  drawbench prompts build-coco30k --annotations captions_val2014.json --seed 0 --out coco30k.csv
""",
    )
    sub = p.add_subparsers(dest="prompts_command", metavar="COMMAND")

    lst = sub.add_parser(
        "list",
        help="print the prompts of a set",
        description="Print the prompts of a set (id, text, category, source).",
    )
    lst.add_argument("--set", default="drawbench", help=SET_HELP)
    lst.add_argument("--category", help="only this category (case-insensitive)")
    lst.add_argument("--format", choices=("table", "json", "csv"), default="table")
    lst.set_defaults(func=_list)

    cats = sub.add_parser(
        "categories",
        help="name and count of each category",
        description="Print each category of a set with its prompt count.",
    )
    cats.add_argument("--set", default="drawbench", help=SET_HELP)
    cats.add_argument("--format", choices=("table", "json", "csv"), default="table")
    cats.set_defaults(func=_categories)

    build = sub.add_parser(
        "build-coco30k",
        help="draw a seeded COCO-30K list from captions_val2014.json",
        description="Draw distinct images and one caption each from COCO's captions_val2014.json "
        "with a documented hash-based rule (identical on every machine; see drawbench/coco.py), "
        "and write the bundled coco30k.csv format.",
    )
    build.add_argument("--annotations", required=True, help="COCO's captions_val2014.json")
    build.add_argument("--seed", type=int, default=0, help="draw seed (default 0)")
    build.add_argument("--n", type=int, default=30_000, help="number of images (default 30000)")
    build.add_argument("--out", required=True, help="output CSV")
    build.set_defaults(func=_build_coco30k)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _load(args):
    from drawbench.commands import CommandError
    from drawbench.prompts import load_prompt_set

    try:
        ps = load_prompt_set(args.set)
        return ps.filter(category=args.category) if getattr(args, "category", None) else ps
    except ValueError as err:
        raise CommandError(str(err)) from None


def _list(args) -> int:
    ps = _load(args)
    rows = [p.to_dict() for p in ps]
    if args.format == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    elif args.format == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=["id", "text", "category", "source"])
        w.writeheader()
        w.writerows(rows)
    else:
        width = max((len(r["id"]) for r in rows), default=2)
        cw = max((len(r["category"]) for r in rows), default=8)
        print(f"{'id':<{width}}  {'category':<{cw}}  text")
        for r in rows:
            print(f"{r['id']:<{width}}  {r['category']:<{cw}}  {r['text']}")
        print(f"# {len(rows)} prompts from {ps.name} (sha256 {ps.sha256[:12]})", file=sys.stderr)
    return 0


def _categories(args) -> int:
    ps = _load(args)
    cats = ps.categories
    if args.format == "json":
        print(
            json.dumps(
                [{"category": c, "count": n} for c, n in cats.items()], ensure_ascii=False, indent=1
            )
        )
    elif args.format == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(["category", "count"])
        w.writerows(cats.items())
    else:
        cw = max((len(c) for c in cats), default=8)
        for c, n in cats.items():
            print(f"{c:<{cw}}  {n:>6}")
        print(f"{'total':<{cw}}  {len(ps):>6}")
    return 0


def _build_coco30k(args) -> int:
    from drawbench.coco import draw_coco30k, load_coco_annotations, write_coco30k_csv
    from drawbench.commands import CommandError

    try:
        rows = draw_coco30k(load_coco_annotations(args.annotations), seed=args.seed, n=args.n)
    except ValueError as err:
        raise CommandError(str(err)) from None
    out = write_coco30k_csv(rows, args.out)
    print(f"wrote {len(rows)} captions (seed {args.seed}) to {out}")
    return 0
