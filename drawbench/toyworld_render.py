"""Deterministic renderer of toy-world scenes: ``render_scene(scene, seed) -> PIL RGB 64x64``.

Every random choice comes from ``numpy.random.Generator(SeedSequence([seed, stream, ...]))`` with
separate streams, so the image is a pure function of (scene, seed, size) and corrupted renders
stay aligned with the original:

* stream 0: background tint; stream 2 + object index: that object's colour jitter;
* stream 1 (+ object index for count scenes): the layout. It depends only on the seed, the number
  of objects and the relation, never on colours or shapes, so a colour or shape corruption is drawn
  at exactly the same place; the first k objects of a count scene are placed identically whatever
  the count; a flipped relation with the same seed is the mirror image of the layout.

Objects are drawn inside a square box of half-size ``r`` centred at ``(cx, cy)`` (continuous pixel
coordinates, the canvas spans ``[0, size]``): a circle fills the box's inscribed circle, a square
the box, a triangle has its apex at the top middle and its base along the bottom edge. Count
scenes: ``r`` uniform in ``COUNT_HALF_SIZE`` and boxes at least ``COUNT_GAP`` px apart. Relation
scenes: ``r`` uniform in ``RELATION_HALF_SIZE``; along the relation's axis the boxes are separated
by at least ``RELATION_GAP`` px, and the off-axis offset of the centres is at most
``RELATION_MAX_SLOPE`` x the on-axis centre distance, so the relation holds without doubt.
Shapes are drawn at ``SUPERSAMPLE`` x resolution and box-filtered down (antialiasing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from drawbench.toyworld import Scene, Thing

__all__ = ["IMAGE_SIZE", "PALETTE", "Placed", "layout_scene", "render_scene"]

IMAGE_SIZE = 64
#: Saturated base colours (RGB); each object gets uniform jitter of +-COLOUR_JITTER per channel.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "green": (35, 165, 60),
    "blue": (40, 80, 225),
    "yellow": (235, 205, 25),
    "purple": (140, 50, 185),
    "orange": (245, 135, 25),
}
COLOUR_JITTER = 12
#: Background: light grey BACKGROUND_LEVEL with uniform tint +-BACKGROUND_TINT per channel.
BACKGROUND_LEVEL = 232
BACKGROUND_TINT = 12
MARGIN = 2.0
COUNT_HALF_SIZE = (5.5, 8.5)
COUNT_GAP = 2.0
RELATION_HALF_SIZE = (6.5, 10.0)
RELATION_GAP = 4.0
RELATION_MAX_SLOPE = 0.5
SUPERSAMPLE = 2
MAX_TRIES = 10_000


@dataclass(frozen=True)
class Placed:
    """One drawn object: its kind, box centre ``(cx, cy)`` and half-size ``r`` in pixels."""

    thing: Thing
    cx: float
    cy: float
    r: float


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), *stream])))


def _count_layout(count: int, seed: int, size: int) -> list[tuple[float, float, float]]:
    boxes: list[tuple[float, float, float]] = []
    for i in range(count):
        rng = _rng(seed, 1, i)
        for _ in range(MAX_TRIES):
            r = rng.uniform(*COUNT_HALF_SIZE)
            cx, cy = rng.uniform(r + MARGIN, size - r - MARGIN, size=2)
            if all(max(abs(cx - x), abs(cy - y)) >= r + q + COUNT_GAP for x, y, q in boxes):
                boxes.append((float(cx), float(cy), float(r)))
                break
        else:  # pragma: no cover - a 64 px canvas always fits four boxes
            raise RuntimeError(f"could not place {count} objects on a {size} px canvas")
    return boxes


def _relation_layout(relation: str, seed: int, size: int) -> list[tuple[float, float, float]]:
    """Sample first-left-of-second, then mirror / transpose into ``relation``."""
    rng = _rng(seed, 1)
    r1, r2 = rng.uniform(*RELATION_HALF_SIZE, size=2)
    lo = np.array([r1, r1, r2, r2]) + MARGIN
    hi = size - np.array([r1, r1, r2, r2]) - MARGIN
    for _ in range(MAX_TRIES):
        x1, y1, x2, y2 = rng.uniform(lo, hi)
        if x2 - r2 - (x1 + r1) >= RELATION_GAP and abs(y2 - y1) <= RELATION_MAX_SLOPE * (x2 - x1):
            break
    else:  # pragma: no cover
        raise RuntimeError("could not place a relation scene")
    points = [(x1, y1), (x2, y2)]
    if relation == "right of":
        points = [(size - x, y) for x, y in points]
    elif relation == "above":
        points = [(y, x) for x, y in points]
    elif relation == "below":
        points = [(y, size - x) for x, y in points]
    return [(float(x), float(y), float(r)) for (x, y), r in zip(points, (r1, r2), strict=True)]


def layout_scene(scene: Scene, seed: int, size: int = IMAGE_SIZE) -> tuple[Placed, ...]:
    """Where each object of ``scene`` goes for ``seed`` (in ``scene.things`` order)."""
    if scene.relation is None:
        boxes = _count_layout(scene.count, seed, size)
    else:
        boxes = _relation_layout(scene.relation, seed, size)
    return tuple(Placed(t, *b) for t, b in zip(scene.things, boxes, strict=True))


def _jittered(base: tuple[int, int, int], rng: np.random.Generator, amount: int) -> tuple[int, ...]:
    jitter = rng.integers(-amount, amount + 1, size=3)
    return tuple(int(v) for v in np.clip(np.array(base) + jitter, 0, 255))


def render_scene(scene: Scene, seed: int, size: int = IMAGE_SIZE) -> Image.Image:
    """Render ``scene`` for ``seed``: a ``size`` x ``size`` PIL RGB image, identical bytes for the
    same (scene, seed, size). See the module docstring for what is random and how."""
    s = SUPERSAMPLE
    background = _jittered((BACKGROUND_LEVEL,) * 3, _rng(seed, 0), BACKGROUND_TINT)
    image = Image.new("RGB", (size * s, size * s), background)
    draw = ImageDraw.Draw(image)
    for i, p in enumerate(layout_scene(scene, seed, size)):
        fill = _jittered(PALETTE[p.thing.colour], _rng(seed, 2 + i), COLOUR_JITTER)
        x0, y0, x1, y1 = ((p.cx - p.r) * s, (p.cy - p.r) * s, (p.cx + p.r) * s, (p.cy + p.r) * s)
        if p.thing.shape == "circle":
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif p.thing.shape == "square":
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.polygon([(p.cx * s, y0), (x1, y1), (x0, y1)], fill=fill)
    return image.reduce(s) if s > 1 else image
