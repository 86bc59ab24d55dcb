"""The toy world: a finite caption grammar of simple scenes, its meanings, categories and splits.

A miniature world on which the suite can prove itself offline (issue 8). Every scene is described
by a :class:`Scene` (the structured meaning behind a caption), so captions, ground-truth renders
and *corrupted* captions or renders can all be derived from it exactly.

Grammar (lower case, single spaces; ``ART`` is "an" before "orange", else "a")::

    count scene     N COLOUR SHAPE[s]          "a red circle", "four green triangles"
    relation scene  ART C1 S1 REL ART C2 S2    "a green triangle to the left of a yellow circle"
    N   = a|an (1), two, three, four          REL = to the left of | to the right of | above | below
    COLOUR = red green blue yellow purple orange      SHAPE = circle square triangle

The two objects of a relation scene differ in colour or shape (or both). "A left of B" and
"B right of A" are two captions of one *meaning*; :func:`meaning_of` maps a scene to the canonical
one (relation "left of" or "above"). The world has 72 count meanings (4 counts x 6 colours x
3 shapes) and 612 relation meanings (306 ordered object pairs x {left of, above}): 684 in all,
1,296 distinct captions, 27 tokens (:mod:`drawbench.toyworld_text`).

Categories (mirroring DrawBench): ``Colors`` one object ("a red circle"); ``Counting`` 2-4 objects;
``Positional`` two objects differing in exactly one attribute (only the arrangement tells the
caption from its mirror image); ``Composition`` two objects differing in colour *and* shape
(colour/shape binding plus position).

Split by combination: within each category the meanings are ranked by
``sha256("toyworld-split-v1|" + caption_of(meaning))`` and the first ``HELD_OUT_PER_CATEGORY[c]``
are held out: 6 Colors, 12 Counting, 24 Positional, 24 Composition = 66 held-out meanings, 618 for
training. The cascade never trains on the held-out ones, so they test composition; every word and
every (colour, shape) pair still occurs in training captions (tested), so they do not test unseen
words. Split ``"all"`` (both) is for a measuring instrument, which must read every prompt it
scores: the shipped CLIP-score ViT learns from it. Seeds of rendered scenes are independent of the
split. The bundled prompt set ``toyworld`` is exactly the held-out meanings, one prompt each (ids
``toyworld-000`` .. ``toyworld-065``).

Rendering lives in :mod:`drawbench.toyworld_render`, corruptions in :mod:`drawbench.toyworld_corrupt`.
Only the standard library is imported here, so the prompt set loads without numpy, PIL or torch.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from drawbench.prompts import PromptSet

__all__ = [
    "CATEGORIES",
    "COLOURS",
    "HELD_OUT_PER_CATEGORY",
    "RELATIONS",
    "SHAPES",
    "Scene",
    "Thing",
    "all_meanings",
    "caption_of",
    "category_of",
    "check_toy_captions",
    "converse",
    "load_toyworld_prompts",
    "meaning_of",
    "meanings",
    "parse_caption",
    "sample_scene",
    "split_of",
]

COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
#: Relation names; ``OPPOSITE`` maps each to its mirror image.
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
OPPOSITE: dict[str, str] = {
    "left of": "right of",
    "right of": "left of",
    "above": "below",
    "below": "above",
}
RELATION_PHRASES: dict[str, str] = {
    "left of": "to the left of",
    "right of": "to the right of",
    "above": "above",
    "below": "below",
}
#: Canonical relations of a meaning (their opposites are written by swapping the objects).
CANONICAL_RELATIONS: tuple[str, ...] = ("left of", "above")
MAX_COUNT = 4
#: Render seeds are drawn below this bound (numpy's SeedSequence takes any non-negative int).
SEED_HIGH = 2**63
COUNT_WORDS: dict[int, str] = {2: "two", 3: "three", 4: "four"}

CATEGORIES: tuple[str, ...] = ("Colors", "Counting", "Positional", "Composition")
#: Held-out meanings per category (the rest is the training split); see the module docstring.
HELD_OUT_PER_CATEGORY: dict[str, int] = {
    "Colors": 6,
    "Counting": 12,
    "Positional": 24,
    "Composition": 24,
}
SPLIT_SALT = "toyworld-split-v1"
SPLITS: tuple[str, ...] = ("train", "held_out", "all")
PROMPT_SET_NAME = "toyworld"


@dataclass(frozen=True, order=True)
class Thing:
    """One kind of object: a colour (from ``COLOURS``) and a shape (from ``SHAPES``)."""

    colour: str
    shape: str

    def __post_init__(self) -> None:
        if self.colour not in COLOURS:
            raise ValueError(f"unknown colour {self.colour!r}; use one of {', '.join(COLOURS)}")
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; use one of {', '.join(SHAPES)}")


@dataclass(frozen=True)
class Scene:
    """The structured description of a scene (what a caption says, as written).

    A *count* scene: ``count`` (1-4) identical ``first`` objects, ``relation`` and ``second`` None.
    A *relation* scene: ``first`` stands ``relation`` (one of ``RELATIONS``) ``second``; count 1,
    and the two objects differ in colour or shape.
    """

    first: Thing
    count: int = 1
    relation: str | None = None
    second: Thing | None = None

    def __post_init__(self) -> None:
        if self.relation is None:
            if self.second is not None:
                raise ValueError("a count scene has no second object; give a relation or drop it")
            if not 1 <= self.count <= MAX_COUNT:
                raise ValueError(f"count must be 1..{MAX_COUNT}, got {self.count}")
            return
        if self.relation not in RELATIONS:
            raise ValueError(
                f"unknown relation {self.relation!r}; use one of {', '.join(RELATIONS)}"
            )
        if self.second is None or self.count != 1:
            raise ValueError("a relation scene needs a second object and count 1")
        if self.first == self.second:
            raise ValueError(
                f"the two objects of a relation scene must differ, both are {self.first}"
            )

    @property
    def kind(self) -> str:
        """``"count"`` or ``"relation"``."""
        return "count" if self.relation is None else "relation"

    @property
    def things(self) -> tuple[Thing, ...]:
        """The objects drawn, in caption order (``count`` copies for a count scene)."""
        if self.second is None:
            return (self.first,) * self.count
        return (self.first, self.second)


def _article(colour: str) -> str:
    return "an" if colour == "orange" else "a"


def _noun_phrase(thing: Thing, count: int = 1) -> str:
    if count == 1:
        return f"{_article(thing.colour)} {thing.colour} {thing.shape}"
    return f"{COUNT_WORDS[count]} {thing.colour} {thing.shape}s"


def caption_of(scene: Scene) -> str:
    """The caption of ``scene`` exactly as described (no canonicalisation)."""
    if scene.second is None:
        return _noun_phrase(scene.first, scene.count)
    return f"{_noun_phrase(scene.first)} {RELATION_PHRASES[scene.relation]} {_noun_phrase(scene.second)}"


def _grammar_error(text: str, problem: str) -> ValueError:
    return ValueError(
        f"not a toy-world caption: {text!r} ({problem}); expected e.g. 'a red circle', "
        "'three blue squares' or 'a green triangle to the left of a yellow circle'"
    )


def _parse_noun_phrase(words: list[str], text: str) -> tuple[Thing, int]:
    if len(words) != 3:
        raise _grammar_error(text, f"a noun phrase has 3 words, got {' '.join(words)!r}")
    number, colour, shape = words
    count = 1 if number in ("a", "an") else {w: n for n, w in COUNT_WORDS.items()}.get(number)
    if count is None:
        raise _grammar_error(text, f"unknown number word {number!r}")
    if colour not in COLOURS:
        raise _grammar_error(text, f"unknown colour {colour!r}")
    singular = shape[:-1] if count > 1 and shape.endswith("s") else shape
    if singular not in SHAPES or (count > 1) != (singular != shape):
        raise _grammar_error(text, f"shape {shape!r} does not fit the number {number!r}")
    return Thing(colour, singular), count


def parse_caption(text: str) -> Scene:
    """The inverse of :func:`caption_of`: ``caption_of(parse_caption(c)) == c`` for every caption.

    Case and surrounding whitespace are ignored, as is a final full stop; "a" and "an" are both
    accepted before any colour. Raises ``ValueError`` naming the problem for anything else.
    """
    words = text.strip().rstrip(".").lower().split()
    for relation, phrase in RELATION_PHRASES.items():
        rel = phrase.split()
        for i in range(3, len(words) - len(rel) + 1):
            if words[i : i + len(rel)] == rel and len(words) == i + len(rel) + 3:
                first, n1 = _parse_noun_phrase(words[:i], text)
                second, n2 = _parse_noun_phrase(words[i + len(rel) :], text)
                if n1 != 1 or n2 != 1:
                    raise _grammar_error(text, "a relation takes single objects ('a', 'an')")
                if first == second:
                    raise _grammar_error(text, "the two objects must differ in colour or shape")
                return Scene(first, relation=relation, second=second)
    thing, count = _parse_noun_phrase(words, text)
    return Scene(thing, count)


def converse(scene: Scene) -> Scene:
    """The other caption of the same meaning: "A left of B" -> "B right of A" (count scenes: itself)."""
    if scene.second is None:
        return scene
    return Scene(scene.second, relation=OPPOSITE[scene.relation], second=scene.first)


def meaning_of(scene: Scene) -> Scene:
    """Canonical form of the meaning: relation scenes use "left of" or "above"."""
    return scene if scene.relation in (None, *CANONICAL_RELATIONS) else converse(scene)


@functools.cache
def all_meanings() -> tuple[Scene, ...]:
    """All 684 canonical meanings: count scenes (count, colour, shape order) then relation scenes."""
    things = [Thing(c, s) for c in COLOURS for s in SHAPES]
    counts = [Scene(t, n) for n in range(1, MAX_COUNT + 1) for t in things]
    pairs = [
        Scene(a, relation=r, second=b)
        for r in CANONICAL_RELATIONS
        for a in things
        for b in things
        if a != b
    ]
    return tuple(counts + pairs)


def category_of(scene: Scene) -> str:
    """DrawBench-like category of a scene's meaning (see the module docstring)."""
    if scene.second is None:
        return "Colors" if scene.count == 1 else "Counting"
    differs = (scene.first.colour != scene.second.colour) + (
        scene.first.shape != scene.second.shape
    )
    return "Composition" if differs == 2 else "Positional"


def _rank_key(meaning: Scene) -> str:
    return hashlib.sha256(f"{SPLIT_SALT}|{caption_of(meaning)}".encode()).hexdigest()


@functools.cache
def _held_out() -> frozenset[Scene]:
    held: set[Scene] = set()
    for category in CATEGORIES:
        ranked = sorted((m for m in all_meanings() if category_of(m) == category), key=_rank_key)
        held.update(ranked[: HELD_OUT_PER_CATEGORY[category]])
    return frozenset(held)


def split_of(scene: Scene) -> str:
    """``"held_out"`` or ``"train"``: the split of the scene's meaning (by combination)."""
    return "held_out" if meaning_of(scene) in _held_out() else "train"


@functools.cache
def meanings(split: str, kind: str | None = None) -> tuple[Scene, ...]:
    """Canonical meanings of one split (``"train"``, ``"held_out"`` or ``"all"``: both),
    optionally of one kind."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return tuple(
        m
        for m in all_meanings()
        if split in ("all", split_of(m)) and (kind is None or m.kind == kind)
    )


def sample_scene(rng: np.random.Generator, split: str = "train") -> Scene:
    """Draw a scene: count or relation with probability 1/2 each, then a meaning of that kind
    uniformly from ``split``; a relation meaning is written in either of its two captions with
    probability 1/2 each."""
    kind = "count" if rng.random() < 0.5 else "relation"
    pool = meanings(split, kind)
    scene = pool[int(rng.integers(len(pool)))]
    if kind == "relation" and rng.random() < 0.5:
        scene = converse(scene)
    return scene


def load_toyworld_prompts() -> PromptSet:
    """The bundled ``toyworld`` prompt set: one prompt per held-out meaning.

    Ordered by category (``CATEGORIES`` order), then by split rank; ids ``toyworld-000`` ...; a
    relation meaning is written in its canonical caption when the first hex digit of its rank key
    is even, else in its converse, so every relation word occurs.
    """
    from drawbench.prompts import Prompt, PromptSet

    held = sorted(_held_out(), key=lambda m: (CATEGORIES.index(category_of(m)), _rank_key(m)))
    prompts = []
    for i, meaning in enumerate(held):
        scene = meaning if int(_rank_key(meaning)[0], 16) % 2 == 0 else converse(meaning)
        prompts.append(
            Prompt(
                f"{PROMPT_SET_NAME}-{i:03d}", caption_of(scene), category_of(scene), PROMPT_SET_NAME
            )
        )
    return PromptSet(PROMPT_SET_NAME, tuple(prompts))


def check_toy_captions(prompts, who: str) -> None:
    """Raise ValueError naming ``who`` and the prompt id unless every prompt (objects with ``id``
    and ``text``) parses with the world's grammar; for generators, before any image is made."""
    for p in prompts:
        try:
            parse_caption(p.text)
        except ValueError as err:
            raise ValueError(f"{who} reads toy-world captions only; prompt {p.id}: {err}") from None


def register_toyworld_prompt_set() -> None:
    """Register ``toyworld`` with :func:`drawbench.prompts.register_prompt_set` (idempotent)."""
    from drawbench.prompts import register_prompt_set

    register_prompt_set(PROMPT_SET_NAME, load_toyworld_prompts)
