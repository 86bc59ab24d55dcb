"""The Generator protocol (see DESIGN.md, "Generator")."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from PIL import Image


class GeneratorError(RuntimeError):
    """A generator failed or returned something unusable; the message names generator and prompt."""


@runtime_checkable
class Generator(Protocol):
    """Anything that turns prompts and per-image seeds into images.

    ``generate(prompts, seeds)`` returns one RGB PIL image per (prompt, seed) pair, in order; the
    image must depend only on (configuration, prompt, seed), never on batch composition.
    ``describe()`` returns the full configuration (JSON-serialisable) for provenance.

    Factories registered in the registry may also offer a classmethod
    ``check_options(**options) -> None`` that validates options and optional dependencies without
    loading any model; ``drawbench generate`` calls it before anything heavy happens.
    """

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]: ...

    def describe(self) -> dict[str, Any]: ...
