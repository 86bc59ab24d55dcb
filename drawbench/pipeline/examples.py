"""Example ``drawbench run`` configs shipped with the package (``drawbench/pipeline/examples/``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _folder():
    return resources.files("drawbench.pipeline").joinpath("examples")


def list_examples() -> dict[str, str]:
    """Example name -> its first comment line."""
    out = {}
    for entry in sorted(_folder().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            first = entry.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
            out[entry.name[:-5]] = first
    return out


def example_path(name: str) -> Path:
    """Path of a shipped example config; unknown names list the available ones."""
    entry = _folder().joinpath(f"{name}.toml")
    if not entry.is_file():
        raise ValueError(f"unknown example {name!r}; available: {', '.join(list_examples())}")
    return Path(str(entry))
