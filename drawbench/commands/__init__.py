"""One module per ``drawbench`` verb, each exposing ``register(subparsers, summary)``."""

from __future__ import annotations

import argparse


class CommandError(Exception):
    """An error a command reports to the user as one clean message (exit status 2).

    Defined here (not in ``drawbench.cli``) so that ``python -m drawbench.cli``, which loads the
    cli module a second time as ``__main__``, still catches the one class every command raises.
    """


def add_verb(
    subparsers, name: str, summary: str, description: str, examples: str
) -> argparse.ArgumentParser:
    """Add a verb's parser with its summary, a description and an examples epilog."""
    return subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog="examples:\n" + examples.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def reserved(subparsers, name: str, summary: str, issue: str) -> None:
    """Reserve a verb whose implementation arrives with a later issue."""
    p = add_verb(
        subparsers,
        name,
        summary,
        f"{summary}. Not implemented yet ({issue}).",
        f"  drawbench {name} --help",
    )
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def _run(args):
        raise CommandError(f"'{name}' is reserved and not implemented yet ({issue})")

    p.set_defaults(func=_run)
