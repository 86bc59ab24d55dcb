"""`drawbench imagen` (reserved; arrives with the Imagen cascade issue)."""

from drawbench.commands import reserved


def register(subparsers, summary: str) -> None:
    reserved(subparsers, "imagen", summary, "the Imagen cascade issue")
