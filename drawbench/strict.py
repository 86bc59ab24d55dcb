"""Strict construction of frozen-dataclass configs from JSON/TOML objects (CONVENTIONS.md 4)."""

from __future__ import annotations

import dataclasses
from typing import Any


def check_keys(cls: type, data: Any, where: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error`` unless ``data`` is a dict whose keys are fields of dataclass ``cls`` and that
    holds every field without a default.

    Messages: ``"<where>: unknown key 'k' (known: a, b)"``, ``"<where>: missing required key 'k'"``.
    """
    if not isinstance(data, dict):
        raise error(f"{where}: expected an object (table), got {type(data).__name__}")
    fields = dataclasses.fields(cls)
    known = [f.name for f in fields]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise error(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(known)})")
    missing = [
        f.name
        for f in fields
        if f.name not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise error(f"{where}: missing required key {missing[0]!r}")


def build_strict(cls: type, data: Any, where: str, error: type[Exception] = ValueError) -> Any:
    """``cls(**data)`` after :func:`check_keys`."""
    check_keys(cls, data, where, error)
    return cls(**data)
