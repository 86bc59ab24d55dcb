"""`drawbench report` (reserved; arrives with the reports issue)."""

from drawbench.commands import reserved


def register(subparsers, summary: str) -> None:
    reserved(subparsers, "report", summary, "the reports issue")
