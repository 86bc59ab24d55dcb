"""`drawbench prompts` (being written)."""

from drawbench.commands import reserved


def register(subparsers, summary: str) -> None:
    reserved(subparsers, "prompts", summary, "the foundation issue")
