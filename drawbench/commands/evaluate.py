"""`drawbench evaluate` (reserved; arrives with the evaluators issue)."""

from drawbench.commands import reserved


def register(subparsers, summary: str) -> None:
    reserved(subparsers, "evaluate", summary, "the evaluators issue")
