"""`drawbench demo` (reserved; arrives with the reports issue)."""

from drawbench.commands import reserved


def register(subparsers, summary: str) -> None:
    reserved(subparsers, "demo", summary, "the reports issue")
