"""The pieces a report is made of (:class:`Block`) and how numbers are written in its tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Block:
    """One piece of the report: kind in heading, text, warn, table, image, details."""

    kind: str
    text: str = ""
    level: int = 2
    header: Sequence[str] = ()
    rows: Sequence[Sequence[Any]] = ()
    path: Path | None = None


def fmt(v: Any, digits: int = 4) -> str:
    """A table cell: floats to ``digits`` significant digits, None empty, booleans yes / no."""
    if isinstance(v, bool) or v is None:
        return "" if v is None else ("yes" if v else "no")
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e5 else f"{v:.4g}"
    return str(v)


def fmt_ci(lo: Any, hi: Any, digits: int = 4) -> str:
    """An interval cell "[lo, hi]"; empty when either end is missing."""
    return "" if lo is None or hi is None else f"[{fmt(lo, digits)}, {fmt(hi, digits)}]"
