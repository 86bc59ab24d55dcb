"""`drawbench reference` (reserved; arrives with the evaluators issue)."""

from drawbench.commands import reserved


def register(subparsers, summary: str) -> None:
    reserved(subparsers, "reference", summary, "the evaluators issue")
