"""Work items, shards and request parsing for ``drawbench generate``.

One run is the ordered work list ``[(prompt, sample) for prompt in prompts for sample in
range(images_per_prompt)]``; item ``k`` has seed ``derive_seed(run_seed, prompt.id, sample)`` and
belongs to shard ``k mod N`` (``--shard i/N``, or torchrun's ``RANK`` / ``WORLD_SIZE``).
Everything here is re-exported by :mod:`drawbench.pipeline.generate`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drawbench.prompts import Prompt, PromptSet
from drawbench.seeding import derive_seed


class GenerateConfigError(ValueError):
    """A generation request is invalid; raised before any model loads or any file is written."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``: it owns work items ``k`` with ``k % count == index``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise GenerateConfigError(f"invalid shard {self.index}/{self.count}: need 0 <= i < N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parse ``"i/N"`` (0-based ``i``)."""
        index, sep, count = text.partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise GenerateConfigError(
                f"--shard must look like i/N with 0 <= i < N (e.g. 0/4), got {text!r}"
            )
        return cls(int(index), int(count))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Shard | None:
        """torchrun's ``RANK`` / ``WORLD_SIZE``, or None when they are not set."""
        if "RANK" not in environ or "WORLD_SIZE" not in environ:
            return None
        try:
            return cls(int(environ["RANK"]), int(environ["WORLD_SIZE"]))
        except ValueError:
            raise GenerateConfigError(
                f"RANK={environ['RANK']!r} / WORLD_SIZE={environ['WORLD_SIZE']!r} are not integers"
            ) from None

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class WorkItem:
    """Image ``sample`` of ``prompt``: position ``index`` in the run's full work list, its seed."""

    index: int
    prompt: Prompt
    sample: int
    seed: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.prompt.id, self.sample)


def work_list(prompts: Sequence[Prompt], images_per_prompt: int, run_seed: int) -> list[WorkItem]:
    """The full ordered work list (prompt order, then sample order) with per-image seeds."""
    items = []
    for prompt in prompts:
        for sample in range(images_per_prompt):
            seed = derive_seed(run_seed, prompt.id, sample)
            items.append(WorkItem(len(items), prompt, sample, seed))
    return items


def parse_option_value(text: str) -> Any:
    """A ``--option`` value: JSON when it parses (numbers, bools, null, lists, objects), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["steps=50", "dtype=float16"]`` -> ``{"steps": 50, "dtype": "float16"}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise GenerateConfigError(f"--option must look like key=value, got {pair!r}")
        if key in options:
            raise GenerateConfigError(f"--option {key} given twice")
        options[key] = parse_option_value(value)
    return options


def select_prompts(
    spec: str | Path, category: str | None = None, limit: int | None = None
) -> tuple[PromptSet, dict[str, Any]]:
    """Load a prompt set (bundled name or file), filter by category, keep the first ``limit``.

    Returns the set and the selection as run.json records it (``drawbench.prompts.load_selection``
    rebuilds the same set from it).
    """
    from drawbench import prompts as prompt_sets

    try:
        chosen = prompt_sets.select_prompts(spec, category=category, limit=limit)
    except ValueError as err:  # PromptFileError is a ValueError
        raise GenerateConfigError(str(err)) from None
    return chosen, {"spec": str(spec), "category": category, "limit": limit}
