"""The toy world: grammar, meanings, corruptions, renderer, splits, prompt set and tokenizer."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from drawbench.images import encode_png
from drawbench.toyworld import (
    CATEGORIES,
    HELD_OUT_PER_CATEGORY,
    OPPOSITE,
    RELATIONS,
    Scene,
    Thing,
    all_meanings,
    caption_of,
    category_of,
    converse,
    load_toyworld_prompts,
    meaning_of,
    meanings,
    parse_caption,
    register_toyworld_prompt_set,
    sample_scene,
    split_of,
)
from drawbench.toyworld_corrupt import CORRUPTIONS, corrupt, corruption_applies
from drawbench.toyworld_render import (
    COUNT_GAP,
    PALETTE,
    RELATION_GAP,
    RELATION_MAX_SLOPE,
    layout_scene,
    render_scene,
)
from drawbench.toyworld_text import VOCAB, WORDS, ToyTokenizer

EVERY_CAPTION_SCENE = [s for m in all_meanings() for s in dict.fromkeys((m, converse(m)))]
RED_CIRCLE, BLUE_SQUARE = Thing("red", "circle"), Thing("blue", "square")


def test_world_size_matches_toyworld_md():
    assert len(all_meanings()) == 684
    assert len({caption_of(s) for s in EVERY_CAPTION_SCENE}) == 1296
    assert Counter(category_of(m) for m in all_meanings()) == {
        "Colors": 18,
        "Counting": 54,
        "Positional": 252,
        "Composition": 360,
    }


def test_caption_scene_round_trip_for_every_caption_of_every_meaning():
    for scene in EVERY_CAPTION_SCENE:
        text = caption_of(scene)
        assert parse_caption(text) == scene
        assert caption_of(parse_caption(text)) == text
        assert meaning_of(parse_caption(text)) in all_meanings()
    assert caption_of(Scene(Thing("orange", "triangle"), 1)) == "an orange triangle"
    assert caption_of(Scene(Thing("green", "triangle"), 4)) == "four green triangles"
    assert parse_caption("  A Green Triangle to the left of a yellow circle. ") == Scene(
        Thing("green", "triangle"), relation="left of", second=Thing("yellow", "circle")
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a pink circle", "unknown colour 'pink'"),
        ("two red circle", "does not fit the number"),
        ("a red circles", "does not fit the number"),
        ("five red circles", "unknown number word"),
        ("a red circle to the left of a red circle", "must differ"),
        ("two red circles above a blue square", "single objects"),
        ("a red circle near a blue square", "noun phrase has 3 words"),
    ],
)
def test_parse_caption_errors_name_the_problem(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_caption(text)


def test_scene_validation():
    with pytest.raises(ValueError, match="must differ"):
        Scene(RED_CIRCLE, relation="above", second=RED_CIRCLE)
    with pytest.raises(ValueError, match=r"count must be 1\.\.4"):
        Scene(RED_CIRCLE, 5)
    with pytest.raises(ValueError, match="unknown colour"):
        Thing("pink", "circle")


def _diff(a: Scene, b: Scene) -> dict[str, tuple]:
    fields = {
        "first.colour": (a.first.colour, b.first.colour),
        "first.shape": (a.first.shape, b.first.shape),
        "count": (a.count, b.count),
        "relation": (a.relation, b.relation),
    }
    if a.second is not None:
        fields["second.colour"] = (a.second.colour, b.second.colour)
        fields["second.shape"] = (a.second.shape, b.second.shape)
    return {k: v for k, v in fields.items() if v[0] != v[1]}


def test_corruptions_change_exactly_what_they_say():
    rng = np.random.default_rng(0)
    for scene in EVERY_CAPTION_SCENE:
        for kind in CORRUPTIONS:
            if not corruption_applies(scene, kind):
                with pytest.raises(ValueError, match="does not apply"):
                    corrupt(scene, kind, rng)
                continue
            bad = corrupt(scene, kind, rng)
            diff = _diff(scene, bad)
            assert meaning_of(bad) != meaning_of(scene), (scene, kind)
            if kind in ("colour_replaced", "shape_replaced"):
                attr = kind.split("_")[0]  # "colour" or "shape"
                assert len(diff) == 1 and next(iter(diff)).endswith(attr), (scene, bad)
            elif kind == "colours_swapped":
                assert (bad.first.colour, bad.second.colour) == (
                    scene.second.colour,
                    scene.first.colour,
                )
                assert (bad.first.shape, bad.second.shape) == (
                    scene.first.shape,
                    scene.second.shape,
                )
            elif kind == "count_changed":
                assert set(diff) == {"count"}
            elif kind == "relation_flipped":
                assert set(diff) == {"relation"} and bad.relation == OPPOSITE[scene.relation]
            else:  # objects_swapped
                assert (bad.first, bad.second, bad.relation) == (
                    scene.second,
                    scene.first,
                    scene.relation,
                )
                assert meaning_of(bad) == meaning_of(
                    replace(scene, relation=OPPOSITE[scene.relation])
                )
    assert not corruption_applies(Scene(RED_CIRCLE, 2), "relation_flipped")
    assert not corruption_applies(
        Scene(RED_CIRCLE, relation="above", second=Thing("blue", "circle")), "count_changed"
    )


def test_renderer_is_deterministic_and_seed_dependent():
    scene = parse_caption("three purple triangles")
    a, b = render_scene(scene, 1234), render_scene(scene, 1234)
    assert a.mode == "RGB" and a.size == (64, 64)
    assert encode_png(a) == encode_png(b)
    assert a.tobytes() != render_scene(scene, 1235).tobytes()


def test_corrupted_renders_keep_the_layout():
    scene = parse_caption("a red circle to the left of a blue square")
    recoloured = corrupt(scene, "colours_swapped", np.random.default_rng(0))
    assert [(p.cx, p.cy, p.r) for p in layout_scene(scene, 7)] == [
        (p.cx, p.cy, p.r) for p in layout_scene(recoloured, 7)
    ]
    two, three = parse_caption("two red circles"), parse_caption("three red circles")
    assert layout_scene(three, 7)[:2] == layout_scene(two, 7)
    flipped = layout_scene(replace(scene, relation="right of"), 7)
    assert [(64 - p.cx, p.cy) for p in flipped] == [(p.cx, p.cy) for p in layout_scene(scene, 7)]


def _colour_centroid(image, colour: str) -> tuple[float, float]:
    arr = np.asarray(image, dtype=float)
    mask = np.abs(arr - np.array(PALETTE[colour])).sum(axis=2) < 60
    ys, xs = np.nonzero(mask)
    assert len(xs) > 10, f"no {colour} pixels drawn"
    return xs.mean(), ys.mean()


@pytest.mark.parametrize("relation", RELATIONS)
def test_relation_scenes_satisfy_their_relation(relation):
    scene = Scene(RED_CIRCLE, relation=relation, second=BLUE_SQUARE)
    axis, sign = {"left of": (0, 1), "right of": (0, -1), "above": (1, 1), "below": (1, -1)}[
        relation
    ]
    for seed in range(200):
        a, b = layout_scene(scene, seed)
        pa, pb = (a.cx, a.cy), (b.cx, b.cy)
        on = sign * (pb[axis] - pa[axis])
        assert on - a.r - b.r >= RELATION_GAP - 1e-9
        assert abs(pb[1 - axis] - pa[1 - axis]) <= RELATION_MAX_SLOPE * on + 1e-9
        for p in (a, b):
            assert p.r <= p.cx <= 64 - p.r and p.r <= p.cy <= 64 - p.r
    for seed in range(5):  # and the pixels agree
        image = render_scene(scene, seed)
        ca, cb = _colour_centroid(image, "red"), _colour_centroid(image, "blue")
        assert sign * (cb[axis] - ca[axis]) > 8


def test_count_scenes_draw_separate_objects():
    for count in range(1, 5):
        for seed in range(50):
            boxes = layout_scene(Scene(BLUE_SQUARE, count), seed)
            assert len(boxes) == count
            for i, p in enumerate(boxes):
                for q in boxes[:i]:
                    assert max(abs(p.cx - q.cx), abs(p.cy - q.cy)) >= p.r + q.r + COUNT_GAP - 1e-9


def test_splits_are_disjoint_by_combination_and_cover_the_vocabulary():
    train, held = set(meanings("train")), set(meanings("held_out"))
    assert not train & held and train | held == set(all_meanings())
    assert Counter(category_of(m) for m in held) == HELD_OUT_PER_CATEGORY
    for scene in EVERY_CAPTION_SCENE:
        assert split_of(scene) == split_of(converse(scene))
    train_words = {w for m in train for s in (m, converse(m)) for w in caption_of(s).split()}
    assert train_words == set(WORDS)
    train_things = {t for m in train for t in m.things}
    assert len(train_things) == 18
    rng = np.random.default_rng(1)
    drawn = [sample_scene(rng, "train") for _ in range(2000)]
    assert all(split_of(s) == "train" for s in drawn)
    assert 0.45 < np.mean([s.kind == "count" for s in drawn]) < 0.55
    assert {s.relation for s in drawn} == {None, *RELATIONS}
    assert all(split_of(sample_scene(rng, "held_out")) == "held_out" for _ in range(200))
    assert meanings("all") == all_meanings()
    assert {split_of(sample_scene(rng, "all")) for _ in range(400)} == {"train", "held_out"}
    with pytest.raises(ValueError, match="unknown split"):
        meanings("test")


def test_toyworld_prompt_set_is_the_held_out_split():
    prompts = load_toyworld_prompts()
    assert prompts.name == "toyworld" and len(prompts) == 66
    assert prompts.categories == {"Colors": 6, "Counting": 12, "Positional": 24, "Composition": 24}
    assert list(prompts.categories) == list(CATEGORIES)
    assert [p.id for p in prompts] == [f"toyworld-{i:03d}" for i in range(66)]
    scenes = [parse_caption(p.text) for p in prompts]
    assert all(category_of(s) == p.category for s, p in zip(scenes, prompts, strict=True))
    assert {meaning_of(s) for s in scenes} == set(meanings("held_out"))
    assert {s.relation for s in scenes} == {None, *RELATIONS}
    assert load_toyworld_prompts().sha256 == prompts.sha256
    from drawbench.prompts import load_prompt_set

    register_toyworld_prompt_set()
    assert load_prompt_set("toyworld").sha256 == prompts.sha256


def test_prompts_module_lists_toyworld_without_heavy_imports():
    code = (
        "import sys, drawbench.prompts as p; import drawbench.toyworld;"
        "assert 'toyworld' in p.list_prompt_sets(), 'apply the one-line _BUNDLED change in drawbench/prompts.py';"
        "heavy = [m for m in ('numpy', 'PIL', 'torch') if m in sys.modules]; assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_tokenizer_ids_padding_and_errors():
    tok = ToyTokenizer()
    assert tok.vocab_size == len(VOCAB) == 27
    assert tok.end_id == 26 == max(tok.ids.values()) and tok.pad_id == 0
    ids = tok(["a red circle", "a green triangle to the left of a yellow circle"])
    assert ids.shape == (2, 16) and str(ids.dtype) == "torch.int64"
    assert ids[0, :5].tolist() == [
        tok.start_id,
        tok.ids["a"],
        tok.ids["red"],
        tok.ids["circle"],
        tok.end_id,
    ]
    assert ids[0, 5:].eq(0).all() and ids[1, 11] == tok.end_id and ids[1, 12:].eq(0).all()
    assert ids.argmax(dim=-1).tolist() == [4, 11]  # open_clip's argmax pooling lands on <end>
    assert tok.decode(ids[1]) == "a green triangle to the left of a yellow circle"
    longest = max(len(tok.encode(caption_of(s))) for s in EVERY_CAPTION_SCENE)
    assert longest == 12
    with pytest.raises(ValueError, match="word 'pink'"):
        tok(["a pink circle"])
    with pytest.raises(ValueError, match="context length 16"):
        tok(["a red circle " * 5])
