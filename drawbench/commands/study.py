"""`drawbench study`: human rating studies (create, invite, serve, status, export, plan).

The handlers import ``rater_app`` (SQLAlchemy, Gradio) lazily, so ``drawbench --help`` stays light.
"""

from __future__ import annotations

import argparse
import json

from drawbench.commands import add_verb

PROTOCOLS = ("drawbench", "coco-photorealism", "coco-alignment")

DESCRIPTION = """\
Human rating studies: pairwise DrawBench preference (two sets of images, two questions), COCO
photorealism (generated vs real) and COCO caption alignment. Studies, raters and votes live in
a database: an SQLite file (default ./studies.db, or $DRAWBENCH_STUDY_DB) or PostgreSQL through
--db postgresql+psycopg://user@host/dbname. Raters enter through personal links; nothing their
browser receives names a run or model."""

EXAMPLES = """\
  drawbench study create cmp1 --runs runs/imagen runs/sd15 --protocol drawbench --ratings-per-item 3
  drawbench study invite cmp1 --rater alice@example.org --daily-cap 100 --public-url https://rate.example.org
  drawbench study serve cmp1 --host 0.0.0.0 --port 7860
  drawbench study status cmp1
  drawbench study export cmp1 --out votes.csv"""


def _db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy URL or SQLite file (default: $DRAWBENCH_STUDY_DB "
        "or ./studies.db), e.g. postgresql+psycopg://rater@localhost/studies",
    )


def register(subparsers, summary: str) -> None:
    parser = add_verb(subparsers, "study", summary, DESCRIPTION, EXAMPLES)
    sub = parser.add_subparsers(dest="study_command", metavar="COMMAND", title="commands")

    p = sub.add_parser(
        "create",
        help="create a study from run directories",
        description="Check the runs (same prompt set, enough images), build the items "
        "(every prompt x every pair of runs, plus gold items) and store the study. Prints "
        "the admin token once.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--runs", nargs="+", required=True, metavar="RUN_DIR", help="run directories to compare"
    )
    p.add_argument("--protocol", required=True, choices=PROTOCOLS)
    p.add_argument(
        "--images-per-set",
        type=int,
        default=8,
        metavar="N",
        help="images per set (drawbench; default 8)",
    )
    p.add_argument(
        "--ratings-per-item",
        type=int,
        default=3,
        metavar="K",
        help="ratings each item needs (default 3)",
    )
    p.add_argument(
        "--gold-share",
        type=float,
        default=0.05,
        metavar="F",
        help="gold (attention-check) items as a share of the regular items (default 0.05; 0 for none)",
    )
    p.add_argument(
        "--items-per-rater",
        type=int,
        default=50,
        metavar="N",
        help="items given to each rater by default (invite --items overrides; default 50)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of assignment order, left/right and gold items"
    )
    p.add_argument(
        "--coco-images", metavar="DIR", help="folder of the real COCO images (coco-photorealism)"
    )
    p.add_argument(
        "--prompts",
        metavar="SET_OR_FILE",
        help="the runs' prompt set, if it cannot be found by the name in run.json",
    )
    _db_arg(p)
    p.set_defaults(func=_create)

    p = sub.add_parser(
        "invite",
        help="add a rater and print their personal link",
        description="Print a personal link with an unguessable token (only its hash is "
        "stored). Inviting the same rater again issues a new link and revokes the old one.",
    )
    p.add_argument("name", metavar="NAME")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--rater", metavar="EMAIL_OR_NAME")
    who.add_argument(
        "--admin", action="store_true", help="issue a new admin token instead (revokes the old)"
    )
    p.add_argument(
        "--daily-cap", type=int, metavar="N", help="at most N items per day (UTC) for this rater"
    )
    p.add_argument(
        "--items",
        type=int,
        metavar="N",
        help="items for this rater (default: the study's --items-per-rater)",
    )
    p.add_argument(
        "--public-url",
        default="http://127.0.0.1:7860",
        metavar="URL",
        help="address raters reach the server at (default http://127.0.0.1:7860)",
    )
    _db_arg(p)
    p.set_defaults(func=_invite)

    p = sub.add_parser(
        "serve",
        help="serve the rating app",
        description="Serve the rating UI (/rate), "
        "the JSON API (/api/next, /api/vote) and the admin page (/admin?t=ADMIN_TOKEN).",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    _db_arg(p)
    p.set_defaults(func=_serve)

    p = sub.add_parser(
        "status", help="progress of a study", description="Items, raters, votes, items at K."
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help="print JSON")
    _db_arg(p)
    p.set_defaults(func=_status)

    p = sub.add_parser(
        "export",
        help="write the votes as CSV",
        description="One row per vote with "
        "left/right resolved to runs (see rater_app/export.py for the columns).",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--out", required=True, metavar="CSV")
    _db_arg(p)
    p.set_defaults(func=_export)

    try:
        from drawbench.commands.study_plan import add_plan_parser
    except ImportError:
        add_plan_parser = None
    if add_plan_parser is not None:
        add_plan_parser(sub)

    parser.set_defaults(func=lambda args: parser.print_help() or 2, study_command=None)


def _database(args):
    from drawbench.commands import CommandError

    try:
        from sqlalchemy.exc import SQLAlchemyError

        from rater_app.storage import Database, resolve_db_url
    except ImportError as err:
        raise CommandError(
            f"rating studies need the 'rater' extra: pip install 'drawbench[rater]' ({err})"
        ) from None
    url = resolve_db_url(args.db)
    try:
        return Database(url)
    except ImportError as err:
        raise CommandError(
            f"{url}: database driver missing ({err}); for PostgreSQL: "
            "pip install 'drawbench[postgres]'"
        ) from None
    except SQLAlchemyError as err:
        raise CommandError(
            f"cannot open the study database {url}: {err.__class__.__name__}: "
            f"{str(err).splitlines()[0]}; check --db"
        ) from None


def _guard(fn):
    from drawbench.commands import CommandError
    from rater_app.manage import StudyError

    try:
        return fn()
    except StudyError as err:
        raise CommandError(str(err)) from None


def _create(args) -> int:
    from rater_app.manage import create_study

    db = _database(args)
    made = _guard(
        lambda: create_study(
            db,
            args.name,
            args.runs,
            args.protocol,
            images_per_set=args.images_per_set,
            ratings_per_item=args.ratings_per_item,
            gold_share=args.gold_share,
            items_per_rater=args.items_per_rater,
            seed=args.seed,
            coco_images=args.coco_images,
            prompts=args.prompts,
        )
    )
    print(f"study {made.name}: {made.n_items} items ({made.n_gold} gold) in {db.url}")
    print(f"admin token (shown once; keep it private): {made.admin_token}")
    print(f"admin page: <server>/admin?t={made.admin_token}")
    print(f"next: drawbench study invite {made.name} --rater NAME_OR_EMAIL")
    return 0


def _invite(args) -> int:
    from drawbench.commands import CommandError
    from rater_app.manage import invite_rater, new_admin_token

    db = _database(args)
    base = args.public_url.rstrip("/")
    if args.admin:
        token = _guard(lambda: new_admin_token(db, args.name))
        print(f"{base}/admin?t={token}")
        return 0
    if args.items is not None and args.items < 1:
        raise CommandError("--items must be >= 1")
    token = _guard(
        lambda: invite_rater(db, args.name, args.rater, daily_cap=args.daily_cap, items=args.items)
    )
    print(f"{base}/rate/?t={token}")
    return 0


def _serve(args) -> int:
    from rater_app.manage import require_study
    from rater_app.server import serve

    db = _database(args)
    with db.session() as s:
        _guard(lambda: require_study(s, args.name))
    print(
        f"serving study {args.name} on http://{args.host}:{args.port} (rater links: /rate/?t=..., "
        "admin: /admin?t=...); Ctrl-C stops"
    )
    serve(db.url, args.name, host=args.host, port=args.port)
    return 0


def _status(args) -> int:
    from rater_app.manage import study_status

    info = _guard(lambda: study_status(_database(args), args.name))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"study {info['study']} ({info['protocol']}): runs {', '.join(info['runs'])}")
    print(
        f"  items            {info['items']} ({info['gold_items']} gold), K = {info['ratings_per_item']}"
    )
    print(f"  items at K       {info['items_at_k']} of {info['items']}")
    print(
        f"  presentations    {info['completed_presentations']} of {info['presentations_needed']} done"
    )
    print(f"  votes            {info['votes']}")
    print(f"  raters           {info['raters']}")
    return 0


def _export(args) -> int:
    from rater_app.export import write_votes_csv

    n = _guard(lambda: write_votes_csv(_database(args), args.name, args.out))
    print(f"wrote {n} votes to {args.out}")
    return 0
