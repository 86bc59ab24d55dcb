"""`drawbench study` (reserved; arrives with the rating app issue)."""

from drawbench.commands import reserved


def register(subparsers, summary: str) -> None:
    reserved(subparsers, "study", summary, "the rating app issue")
