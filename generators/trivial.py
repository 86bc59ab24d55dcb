"""Trivial deterministic generators for tests, benchmarks and the offline demo.

Neither loads a model: each image is a pure function of (configuration, prompt, seed), so they
pin down the orchestration (seeds, batching, shards, resume) without any numerical noise.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from PIL import Image

__all__ = ["NoiseGenerator", "SolidColorGenerator", "check_image_size"]

#: Default side length of trivial images (small, so tests stay fast).
DEFAULT_SIZE = 64


def check_image_size(name: str, width: Any, height: Any) -> None:
    """Raise ValueError unless ``width`` and ``height`` are positive integers (not bools)."""
    for key, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}: option {key} must be a positive integer, got {value!r}")


def _digest(*parts: object) -> bytes:
    """sha256 of the parts joined by ``|`` (hashlib, never Python's salted ``hash()``)."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()


def _check_unknown(name: str, options: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"{name}: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(allowed)}"
        )


class SolidColorGenerator:
    """One flat colour per image: ``rgb = sha256(f"solid|{prompt}|{seed}")[:3]``.

    Args:
        width: Image width in pixels.
        height: Image height in pixels.
    """

    OPTIONS = ("width", "height")

    def __init__(self, width: int = DEFAULT_SIZE, height: int = DEFAULT_SIZE):
        self.check_options(width=width, height=height)
        self.width = width
        self.height = height

    @classmethod
    def check_options(cls, **options: Any) -> None:
        """Validate options without building anything (ValueError on a bad one)."""
        _check_unknown("solid", options, cls.OPTIONS)
        check_image_size(
            "solid", options.get("width", DEFAULT_SIZE), options.get("height", DEFAULT_SIZE)
        )

    def color(self, prompt: str, seed: int) -> tuple[int, int, int]:
        """The RGB colour of the image for (prompt, seed)."""
        r, g, b = _digest("solid", prompt, int(seed))[:3]
        return (r, g, b)

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        """One ``width x height`` RGB image per (prompt, seed) pair, in order."""
        if len(prompts) != len(seeds):
            raise ValueError(f"solid: {len(prompts)} prompts but {len(seeds)} seeds")
        size = (self.width, self.height)
        return [
            Image.new("RGB", size, self.color(p, s)) for p, s in zip(prompts, seeds, strict=True)
        ]

    def describe(self) -> dict[str, Any]:
        return {
            "name": "solid",
            "width": self.width,
            "height": self.height,
            "formula": "rgb = sha256('solid|<prompt>|<seed>')[:3]",
        }


class NoiseGenerator:
    """Uniform RGB noise: pixels ``~ U{0..255}`` from ``numpy.random.default_rng(s)`` where
    ``s = int.from_bytes(sha256(f"noise|{variant}|{prompt}|{seed}")[:8], "big")``.

    ``variant`` stands for a model configuration: two variants give unrelated images for the same
    (prompt, seed), which lets tests and demos compare "two models" offline.

    Args:
        width: Image width in pixels.
        height: Image height in pixels.
        variant: Any integer or string naming the "model".
    """

    OPTIONS = ("width", "height", "variant")

    def __init__(
        self, width: int = DEFAULT_SIZE, height: int = DEFAULT_SIZE, variant: int | str = 0
    ):
        self.check_options(width=width, height=height, variant=variant)
        self.width = width
        self.height = height
        self.variant = variant

    @classmethod
    def check_options(cls, **options: Any) -> None:
        """Validate options without building anything (ValueError on a bad one)."""
        _check_unknown("noise", options, cls.OPTIONS)
        check_image_size(
            "noise", options.get("width", DEFAULT_SIZE), options.get("height", DEFAULT_SIZE)
        )
        variant = options.get("variant", 0)
        if isinstance(variant, bool) or not isinstance(variant, (int, str)):
            raise ValueError(
                f"noise: option variant must be an integer or a string, got {variant!r}"
            )

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        """One ``width x height`` RGB noise image per (prompt, seed) pair, in order."""
        if len(prompts) != len(seeds):
            raise ValueError(f"noise: {len(prompts)} prompts but {len(seeds)} seeds")
        images = []
        for prompt, seed in zip(prompts, seeds, strict=True):
            s = int.from_bytes(_digest("noise", self.variant, prompt, int(seed))[:8], "big")
            rng = np.random.default_rng(s)
            pixels = rng.integers(0, 256, size=(self.height, self.width, 3), dtype=np.uint8)
            images.append(Image.fromarray(pixels))  # uint8 [H, W, 3] -> RGB
        return images

    def describe(self) -> dict[str, Any]:
        return {
            "name": "noise",
            "width": self.width,
            "height": self.height,
            "variant": self.variant,
        }
