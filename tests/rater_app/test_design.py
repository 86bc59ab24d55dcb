"""Study design logic without a database or browser: items, gold, assignment, seeds, intervals."""

from __future__ import annotations

from collections import Counter

import pytest

from rater_app.admin import wilson_interval
from rater_app.design import (
    PROTOCOLS,
    DesignError,
    RunImages,
    check_images,
    choice_to_side,
    choose_next_item,
    create_items,
    get_protocol,
    is_gold_correct,
    left_is_a,
    opaque_id,
    simulate_assignment,
)

PROMPTS = [(f"p{i}", "c1" if i < 5 else "c2") for i in range(10)]


def _runs(*names, n=2):
    return [
        RunImages(name, {pid: [f"images/{pid}/{j}.png" for j in range(n)] for pid, _ in PROMPTS})
        for name in names
    ]


def test_protocol_texts_are_the_paper_s():
    p = get_protocol("drawbench")
    assert [q.text("a cat") for q in p.questions] == [
        "Which set of images is of higher quality?",
        "Which set of images better represents the text caption: a cat?",
    ]
    assert [a.label for a in p.questions[0].answers] == [
        "I prefer set A",
        "I am indifferent",
        "I prefer set B",
    ]
    assert [a.score for a in PROTOCOLS["coco-alignment"].questions[0].answers] == [100, 50, 0]
    assert [a.key for a in PROTOCOLS["coco-photorealism"].questions[0].answers] == ["left", "right"]
    with pytest.raises(ValueError, match="unknown protocol 'x'; available: drawbench"):
        get_protocol("x")


def test_items_are_every_prompt_times_every_pair_of_runs():
    items = create_items(
        PROTOCOLS["drawbench"], _runs("A", "B", "C", "D"), PROMPTS, gold_share=0, seed=0
    )
    assert len(items) == len(PROMPTS) * 6
    assert Counter((i.run_a, i.run_b) for i in items) == {
        pair: 10
        for pair in [("A", "B"), ("A", "C"), ("A", "D"), ("B", "C"), ("B", "D"), ("C", "D")]
    }
    assert len({i.key for i in items}) == len(items)


def test_gold_items_pair_a_prompt_with_an_unrelated_one_of_the_same_run():
    items = create_items(PROTOCOLS["drawbench"], _runs("A", "B"), PROMPTS, gold_share=0.2, seed=3)
    gold = [i for i in items if i.is_gold]
    assert len(gold) == 2  # round(0.2 * 10)
    for g in gold:
        assert g.run_a == g.run_b and g.prompt_b != g.prompt_id
        assert dict(PROMPTS)[g.prompt_b] != g.category  # another category when there is one
        assert g.gold == {"caption": "a"}
    assert gold == [
        i
        for i in create_items(
            PROTOCOLS["drawbench"], _runs("A", "B"), PROMPTS, gold_share=0.2, seed=3
        )
        if i.is_gold
    ]
    alignment = create_items(
        PROTOCOLS["coco-alignment"], _runs("A"), PROMPTS, gold_share=0.1, seed=0
    )
    assert [i.gold for i in alignment if i.is_gold] == [{"alignment": "no"}]


def test_design_errors_say_what_to_change():
    with pytest.raises(DesignError, match="needs at least 2 runs"):
        create_items(PROTOCOLS["drawbench"], _runs("A"), PROMPTS, gold_share=0, seed=0)
    with pytest.raises(DesignError, match="must be unique"):
        create_items(PROTOCOLS["drawbench"], _runs("A", "A"), PROMPTS, gold_share=0, seed=0)
    with pytest.raises(DesignError, match=r"fewer than 3 images.*lower --images-per-set"):
        check_images(_runs("A", n=2), [p for p, _ in PROMPTS], 3)


def test_assignment_reaches_k_without_repeats_and_balanced():
    keys = [f"item{i}" for i in range(37)]
    k = 3
    quotas = {f"r{i}": 20 for i in range(7)}  # 140 slots for 111 needed presentations
    plan = simulate_assignment(keys, quotas, k, seed=1)
    counts = Counter(key for items in plan.values() for key in items)
    assert all(counts[key] == k for key in keys)  # every item exactly K, none above
    for items in plan.values():
        assert len(items) == len(set(items))  # no rater sees an item twice
    assert simulate_assignment(keys, quotas, k, seed=1) == plan  # seeded: same seed, same plan
    assert simulate_assignment(keys, quotas, k, seed=2) != plan


def test_assignment_fills_level_by_level():
    keys = [f"item{i}" for i in range(10)]
    counts = dict.fromkeys(keys, 0)
    given: dict[str, list[str]] = {f"r{i}": [] for i in range(5)}
    for step in range(25):
        rater = f"r{step % 5}"
        key = choose_next_item(counts, given[rater], rater, 0, 3)
        # the least-rated item among those this rater has not seen
        assert counts[key] == min(n for k, n in counts.items() if k not in given[rater])
        counts[key] += 1
        given[rater].append(key)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert choose_next_item(dict.fromkeys(keys, 3), [], "r0", 0, 3) is None  # all at K
    assert choose_next_item(dict.fromkeys(keys, 0), keys, "r0", 0, 3) is None  # rater saw all


def test_rater_orders_differ_so_first_items_spread():
    keys = [f"item{i}" for i in range(50)]
    firsts = {choose_next_item(dict.fromkeys(keys, 0), [], f"r{i}", 0, 3) for i in range(20)}
    assert len(firsts) > 10


def test_left_right_is_seeded_and_near_half():
    flips = [left_is_a(7, f"r{r}", f"item{i}") for r in range(20) for i in range(100)]
    assert 0.45 < sum(flips) / len(flips) < 0.55
    assert flips == [left_is_a(7, f"r{r}", f"item{i}") for r in range(20) for i in range(100)]


def test_choice_resolution_and_gold_scoring():
    assert choice_to_side("left", "a") == "a" and choice_to_side("left", "b") == "b"
    assert choice_to_side("right", "a") == "b" and choice_to_side("tie", "b") == "tie"
    assert is_gold_correct("right", "b", "a") and not is_gold_correct("left", "b", "a")
    assert is_gold_correct("no", "a", "no") and not is_gold_correct("yes", "a", "no")


def test_opaque_ids_hide_their_inputs():
    a = opaque_id(b"secret", "assignment", 1, 2)
    assert a == opaque_id(b"secret", "assignment", 1, 2) != opaque_id(b"other", "assignment", 1, 2)
    assert len(a) == 22 and a.isalnum()


def test_wilson_interval_matches_the_closed_form():
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = wilson_interval(0, 20)
    assert low == pytest.approx(0, abs=1e-12) and high == pytest.approx(0.1611, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
