"""`drawbench generate` (reserved; arrives with the generators issue)."""

from drawbench.commands import reserved


def register(subparsers, summary: str) -> None:
    reserved(subparsers, "generate", summary, "the generators issue")
