"""Study design, plain Python: protocols, items (prompt x run pair), gold items, assignment order,
left/right randomisation and opaque names. No database, no Gradio; the tests pin it down.

Randomness: every choice goes through :func:`rng_for`, a ``random.Random`` seeded from
``sha256("drawbench-study-v1|<study seed>|<parts...>")``, so a choice depends only on the study
seed and what it is about (the item, the rater, the assignment), never on the clock, the process
or the order in which raters arrive.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- protocols


@dataclass(frozen=True)
class Answer:
    """One answer option: ``key`` is stored in the database, ``label`` shown to raters.

    ``score`` is from the left image's point of view for pairwise protocols (1 left, 0.5 tie, 0
    right) and the absolute score for single-image protocols (coco-alignment: 100 / 50 / 0).
    """

    key: str
    label: str
    score: float
    shortcut: str


@dataclass(frozen=True)
class Question:
    key: str
    template: str  # may contain {caption}
    answers: tuple[Answer, ...]

    def text(self, caption: str) -> str:
        return self.template.format(caption=caption)

    def answer(self, key: str) -> Answer | None:
        return next((a for a in self.answers if a.key == key), None)


@dataclass(frozen=True)
class Protocol:
    """A rating protocol as in DESIGN.md (Study)."""

    name: str
    pairwise: bool  # two sides (left / right) or one image
    questions: tuple[Question, ...]
    min_runs: int
    uses_reference: bool = False  # the right-hand side is the real COCO image
    gold_question: str | None = None  # question whose answer gold items know

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)


def _three_way(q1: str, q2: str, q3: str) -> tuple[Answer, ...]:
    return (
        Answer("left", "I prefer set A", 1.0, q1),
        Answer("tie", "I am indifferent", 0.5, q2),
        Answer("right", "I prefer set B", 0.0, q3),
    )


PROTOCOLS: dict[str, Protocol] = {
    "drawbench": Protocol(
        name="drawbench",
        pairwise=True,
        questions=(
            Question(
                "quality", "Which set of images is of higher quality?", _three_way("1", "2", "3")
            ),
            Question(
                "caption",
                "Which set of images better represents the text caption: {caption}?",
                _three_way("4", "5", "6"),
            ),
        ),
        min_runs=2,
        gold_question="caption",
    ),
    "coco-photorealism": Protocol(
        name="coco-photorealism",
        pairwise=True,
        questions=(
            Question(
                "photorealism",
                "Which image is more photorealistic?",
                (Answer("left", "Image A", 1.0, "1"), Answer("right", "Image B", 0.0, "3")),
            ),
        ),
        min_runs=1,
        uses_reference=True,
    ),
    "coco-alignment": Protocol(
        name="coco-alignment",
        pairwise=False,
        questions=(
            Question(
                "alignment",
                "Does the caption accurately describe the above image?",
                (
                    Answer("yes", "Yes", 100.0, "1"),
                    Answer("somewhat", "Somewhat", 50.0, "2"),
                    Answer("no", "No", 0.0, "3"),
                ),
            ),
        ),
        min_runs=1,
        gold_question="alignment",
    ),
}

#: Name of the pseudo-run holding the real COCO images (coco-photorealism).
REFERENCE_RUN = "coco-real"


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; unknown names raise ValueError listing the available ones."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; available: {', '.join(PROTOCOLS)}") from None


# --------------------------------------------------------------------------- seeded choices


def rng_for(seed: int, *parts: object) -> random.Random:
    """A ``random.Random`` seeded by sha256 of the study seed and ``parts`` (never ``hash()``)."""
    key = "|".join(["drawbench-study-v1", str(int(seed)), *map(str, parts)]).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def seeded_uniform(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) that is a pure function of the study seed and ``parts``:
    the first 8 bytes of sha256("drawbench-study-v1|seed|parts...") / 2**64 (cheaper than
    building a ``random.Random`` where one number is needed per item)."""
    key = "|".join(["drawbench-study-v1", str(int(seed)), *map(str, parts)]).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64


def order_key(seed: int, rater_key: str, item_key: str) -> float:
    """A rater's seeded random rank of an item (ties between equally-rated items break by it)."""
    return seeded_uniform(seed, "order", rater_key, item_key)


def left_is_a(seed: int, rater_key: str, item_key: str) -> bool:
    """Seeded coin flip for one presentation: is side A of the item shown on the left?"""
    return seeded_uniform(seed, "side", rater_key, item_key) < 0.5


def opaque_id(secret: bytes, *parts: object, length: int = 22) -> str:
    """An HMAC-SHA256 derived, URL-safe name that reveals nothing about ``parts``."""
    msg = "|".join(map(str, parts)).encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()[:length]


# --------------------------------------------------------------------------- items


@dataclass(frozen=True)
class RunImages:
    """What the design needs of a run: its name and its image paths per prompt (by sample)."""

    name: str
    images: Mapping[str, Sequence[str]]  # prompt_id -> relative image paths, sample order


@dataclass(frozen=True)
class ItemSpec:
    """One item: prompt ``prompt_id`` rated on side A = run ``run_a`` vs side B = run ``run_b``.

    Gold items show, on side B, images the same run made for an unrelated prompt ``prompt_b``;
    ``gold`` maps the question with a known answer to that answer, from side A's point of view
    (``"a"`` = side A should be preferred; for one-image protocols the answer key, e.g. ``"no"``).
    """

    key: str
    prompt_id: str
    category: str
    run_a: str
    run_b: str | None
    prompt_b: str | None = None
    is_gold: bool = False
    gold: Mapping[str, str] = field(default_factory=dict)


class DesignError(ValueError):
    """The runs cannot make the requested study; the message says what to change."""


def check_images(runs: Sequence[RunImages], prompt_ids: Iterable[str], n: int) -> None:
    """Raise DesignError naming the first runs and prompts with fewer than ``n`` images."""
    short = [
        f"{run.name}: {pid} has {len(run.images.get(pid, ()))}"
        for run in runs
        for pid in prompt_ids
        if len(run.images.get(pid, ())) < n
    ]
    if short:
        raise DesignError(
            f"{len(short)} (run, prompt) pairs have fewer than {n} images, e.g. "
            + "; ".join(short[:5])
            + ". Finish the runs with 'drawbench generate' (it resumes) or lower --images-per-set."
        )


def create_items(
    protocol: Protocol,
    runs: Sequence[RunImages],
    prompts: Sequence[tuple[str, str]],
    *,
    gold_share: float,
    seed: int,
) -> list[ItemSpec]:
    """Items for a study: every prompt x every unordered pair of runs (pairwise protocols with
    two or more runs), or every prompt x run (coco-alignment, and coco-photorealism against the
    real image), then ``round(gold_share * n)`` gold items (at least one when ``gold_share > 0``
    and the protocol has a gold question).

    Args:
        prompts: ``(prompt_id, category)`` in prompt-set order.
    """
    if len(runs) < protocol.min_runs:
        raise DesignError(
            f"protocol {protocol.name} needs at least {protocol.min_runs} runs, got {len(runs)}"
        )
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise DesignError(
            f"run names must be unique (they are the run directories' names): {names}"
        )
    if not 0 <= gold_share < 1:
        raise DesignError(f"--gold-share must be in [0, 1), got {gold_share}")
    items: list[ItemSpec] = []
    if protocol.uses_reference:
        pairs = [(r, REFERENCE_RUN) for r in names]
    elif protocol.pairwise:
        pairs = list(itertools.combinations(names, 2))
    else:
        pairs = [(r, None) for r in names]
    for pid, category in prompts:
        for a, b in pairs:
            key = f"{pid}|{a}|{b or ''}"
            items.append(ItemSpec(key, pid, category, a, b))
    items.extend(create_gold_items(protocol, names, prompts, len(items), gold_share, seed))
    return items


def create_gold_items(
    protocol: Protocol,
    run_names: Sequence[str],
    prompts: Sequence[tuple[str, str]],
    n_regular: int,
    gold_share: float,
    seed: int,
) -> list[ItemSpec]:
    """Gold items: images a run made for prompt p shown with the caption of p against (drawbench)
    or instead of (coco-alignment) the same run's images for an unrelated prompt q, preferably of
    another category. Known answers: drawbench caption question -> side A; alignment -> ``no``
    (the shown image is q's, the caption is p's)."""
    if protocol.gold_question is None or gold_share <= 0 or len(prompts) < 2:
        return []
    n_gold = max(1, round(gold_share * n_regular))
    rng = rng_for(seed, "gold")
    gold = []
    for g in range(n_gold):
        pid, category = prompts[rng.randrange(len(prompts))]
        others = [p for p in prompts if p[1] != category] or [p for p in prompts if p[0] != pid]
        qid = others[rng.randrange(len(others))][0]
        run = run_names[rng.randrange(len(run_names))]
        if protocol.pairwise:
            gold.append(
                ItemSpec(
                    f"gold{g}|{pid}|{qid}|{run}",
                    pid,
                    category,
                    run,
                    run,
                    qid,
                    True,
                    {protocol.gold_question: "a"},
                )
            )
        else:
            gold.append(
                ItemSpec(
                    f"gold{g}|{pid}|{qid}|{run}",
                    pid,
                    category,
                    run,
                    None,
                    qid,
                    True,
                    {protocol.gold_question: "no"},
                )
            )
    return gold


def choice_to_side(choice: str, left_side: str) -> str:
    """A pairwise choice (left / right / tie) as the side it favours (``a`` / ``b`` / ``tie``)."""
    if choice == "tie":
        return "tie"
    if choice not in ("left", "right"):
        return choice
    return left_side if choice == "left" else ("b" if left_side == "a" else "a")


def is_gold_correct(choice: str, left_side: str, expected: str) -> bool:
    """Whether a vote on a gold question matches its known answer."""
    if expected in ("a", "b"):
        return choice_to_side(choice, left_side) == expected
    return choice == expected


# --------------------------------------------------------------------------- assignment


def choose_next_item(
    counts: Mapping[str, int],
    seen: Iterable[str],
    rater_key: str,
    seed: int,
    ratings_per_item: int,
) -> str | None:
    """The item a rater gets next, or None when none is left for them.

    Balanced: among items the rater has not seen and that have fewer than ``ratings_per_item``
    ratings (counting ones in progress), the least-rated item wins; ties break by the rater's
    seeded order (:func:`order_key`). So items fill level by level, no item passes K while
    another is below it (up to concurrent requests), and every item reaches K given enough
    raters.

    Args:
        counts: item key -> ratings so far (done or in progress), for every item of the study.
        seen: item keys this rater was already given.
    """
    seen = set(seen)
    best, best_rank = None, None
    for key, n in counts.items():
        if key in seen or n >= ratings_per_item:
            continue
        rank = (n, order_key(seed, rater_key, key))
        if best_rank is None or rank < best_rank:
            best, best_rank = key, rank
    return best


def simulate_assignment(
    item_keys: Sequence[str], rater_quotas: Mapping[str, int], ratings_per_item: int, seed: int
) -> dict[str, list[str]]:
    """Run the assignment rule with raters taking turns one item at a time (for tests and
    ``drawbench study plan``): rater -> items in the order given."""
    counts = dict.fromkeys(item_keys, 0)
    given: dict[str, list[str]] = {r: [] for r in rater_quotas}
    active = [r for r, q in rater_quotas.items() if q > 0]
    while active:
        still = []
        for rater in active:
            key = choose_next_item(counts, given[rater], rater, seed, ratings_per_item)
            if key is None:
                continue
            counts[key] += 1
            given[rater].append(key)
            if len(given[rater]) < rater_quotas[rater]:
                still.append(rater)
        active = still
    return given
