"""Corruptions of toy-world scenes: exactly one stated change to a :class:`~drawbench.toyworld.Scene`.

A corrupted scene gives a corrupted *caption* (``caption_of``) or a corrupted *render*
(``render_scene`` with the same seed: the layout depends only on the seed, the number of objects
and the relation, so a replaced or swapped colour or shape is drawn at exactly the same place).

=================  ============  =========================================================
kind               applies to    change
=================  ============  =========================================================
colour_replaced    every scene   one object's colour becomes another colour
colours_swapped    relation      the two objects exchange colours (they must differ)
count_changed      count         the count becomes another count in 1..4
shape_replaced     every scene   one object's shape becomes another shape
relation_flipped   relation      left of <-> right of, above <-> below
objects_swapped    relation      first and second object exchange places in the caption
=================  ============  =========================================================

``relation_flipped`` and ``objects_swapped`` give different captions of the same meaning ("A right
of B" and "B left of A"). In relation scenes a replacement never makes the two objects identical.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from drawbench.toyworld import COLOURS, MAX_COUNT, OPPOSITE, SHAPES, Scene, Thing

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CORRUPTIONS",
    "change_count",
    "corrupt",
    "corruption_applies",
    "flip_relation",
    "replace_colour",
    "replace_shape",
    "swap_colours",
    "swap_objects",
]

CORRUPTIONS: tuple[str, ...] = (
    "colour_replaced",
    "colours_swapped",
    "count_changed",
    "shape_replaced",
    "relation_flipped",
    "objects_swapped",
)


def _set_thing(scene: Scene, index: int, thing: Thing) -> Scene:
    if index not in ((0,) if scene.second is None else (0, 1)):
        raise ValueError(f"object index {index} out of range for a {scene.kind} scene")
    return replace(scene, first=thing) if index == 0 else replace(scene, second=thing)


def _thing(scene: Scene, index: int) -> Thing:
    return scene.first if index == 0 else scene.second  # type: ignore[return-value]


def replace_colour(scene: Scene, index: int, colour: str) -> Scene:
    """Object ``index`` (0 first, 1 second) recoloured ``colour`` (must differ from its own)."""
    old = _thing(scene, index)
    if colour == old.colour:
        raise ValueError(f"object {index} is already {colour}; pick another colour")
    return _set_thing(scene, index, Thing(colour, old.shape))


def replace_shape(scene: Scene, index: int, shape: str) -> Scene:
    """Object ``index`` (0 first, 1 second) reshaped to ``shape`` (must differ from its own)."""
    old = _thing(scene, index)
    if shape == old.shape:
        raise ValueError(f"object {index} is already a {shape}; pick another shape")
    return _set_thing(scene, index, Thing(old.colour, shape))


def swap_colours(scene: Scene) -> Scene:
    """A relation scene with the two objects' colours exchanged (colours must differ)."""
    a, b = scene.first, scene.second
    if b is None or a.colour == b.colour:
        raise ValueError("colours can only be swapped between two objects of different colours")
    return replace(scene, first=Thing(b.colour, a.shape), second=Thing(a.colour, b.shape))


def change_count(scene: Scene, count: int) -> Scene:
    """A count scene with another count (1..4, different from the current one)."""
    if scene.second is not None:
        raise ValueError("only count scenes have a count to change")
    if count == scene.count:
        raise ValueError(f"the scene already has count {count}; pick another")
    return replace(scene, count=count)


def flip_relation(scene: Scene) -> Scene:
    """A relation scene with its relation mirrored (left of <-> right of, above <-> below)."""
    if scene.relation is None:
        raise ValueError("only relation scenes have a relation to flip")
    return replace(scene, relation=OPPOSITE[scene.relation])


def swap_objects(scene: Scene) -> Scene:
    """A relation scene with first and second object exchanged (relation kept)."""
    if scene.second is None:
        raise ValueError("only relation scenes have two objects to swap")
    return replace(scene, first=scene.second, second=scene.first)


def corruption_applies(scene: Scene, kind: str) -> bool:
    """Whether corruption ``kind`` (one of ``CORRUPTIONS``) is defined for ``scene``."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}; use one of {', '.join(CORRUPTIONS)}")
    if kind in ("colour_replaced", "shape_replaced"):
        return True
    if kind == "count_changed":
        return scene.second is None
    if kind == "colours_swapped":
        return scene.second is not None and scene.first.colour != scene.second.colour
    return scene.second is not None


def _valid(scene: Scene, index: int, thing: Thing) -> bool:
    other = None if scene.second is None else _thing(scene, 1 - index)
    return thing != other


def corrupt(scene: Scene, kind: str, rng: np.random.Generator) -> Scene:
    """``scene`` with one corruption of ``kind``; random choices (which object, which new value,
    uniform over the valid ones) come from ``rng``. Raises ``ValueError`` when it does not apply."""
    if not corruption_applies(scene, kind):
        raise ValueError(f"corruption {kind!r} does not apply to the {scene.kind} scene {scene}")
    if kind == "colours_swapped":
        return swap_colours(scene)
    if kind == "relation_flipped":
        return flip_relation(scene)
    if kind == "objects_swapped":
        return swap_objects(scene)
    if kind == "count_changed":
        options = [n for n in range(1, MAX_COUNT + 1) if n != scene.count]
        return change_count(scene, options[int(rng.integers(len(options)))])
    index = 0 if scene.second is None else int(rng.integers(2))
    old = _thing(scene, index)
    if kind == "colour_replaced":
        new = [Thing(c, old.shape) for c in COLOURS if c != old.colour]
    else:
        new = [Thing(old.colour, s) for s in SHAPES if s != old.shape]
    new = [t for t in new if _valid(scene, index, t)]
    return _set_thing(scene, index, new[int(rng.integers(len(new)))])
