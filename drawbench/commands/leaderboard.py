"""`drawbench leaderboard` (reserved; arrives with the statistics issue)."""

from drawbench.commands import reserved


def register(subparsers, summary: str) -> None:
    reserved(subparsers, "leaderboard", summary, "the statistics issue")
