"""CLIP score: the per-pair clamp on hand-made embeddings, agreement with open_clip's own cosine,
truncation counting, and the per-prompt / per-category / bootstrap aggregates."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from evaluators.base import EvalBatch
from evaluators.clip_score import ClipScore, clip_score_from_embeddings, summarize_pair_scores

TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def test_clamp_is_per_pair_on_hand_made_embeddings():
    image = np.array([[1.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    text = np.array([[2.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    scores = clip_score_from_embeddings(image, text)
    np.testing.assert_allclose(scores, [100.0, 0.0, 80.0])  # cos 1, -1 -> 0, 0.8
    # torchmetrics clamps the mean instead: max(100 * mean(cos), 0) = 100 * (1 - 1 + 0.8) / 3
    assert scores.mean() == pytest.approx(60.0)
    assert max(100 * (1 - 1 + 0.8) / 3, 0) == pytest.approx(26.6667, rel=1e-4)


def test_shapes_must_match():
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        clip_score_from_embeddings(np.ones((2, 3)), np.ones((3, 3)))


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    import open_clip

    cfg = tmp_path_factory.mktemp("clipcfg") / "drawbench-tiny-clip.json"
    cfg.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(cfg)
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(
        "drawbench-tiny-clip", pretrained=None
    )
    return model.eval(), preprocess, open_clip.get_tokenizer("drawbench-tiny-clip")


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)) for _ in range(n)]


def test_equals_open_clip_cosine_times_100(tiny_clip):
    model, preprocess, tokenizer = tiny_clip
    images = _images(6)
    prompts = [
        "a red cube",
        "a red cube",
        "two dogs",
        "two dogs",
        "a tree at night",
        "a tree at night",
    ]
    ids = ["p0", "p0", "p1", "p1", "p2", "p2"]
    ev = ClipScore(model, preprocess, tokenizer, bootstrap_rounds=50)
    ev.update(EvalBatch(images[:4], prompts[:4], ids[:4], ["A", "A", "B", "B"]))
    ev.update(
        EvalBatch(
            images[4:],
            prompts[4:],
            ids[4:],
            ["B", "B"],
            extras={"clip": torch.stack([preprocess(im) for im in images[4:]])},
        )
    )
    result = ev.compute()
    with torch.no_grad():  # open_clip's README computation
        img = model.encode_image(torch.stack([preprocess(im) for im in images]))
        txt = model.encode_text(tokenizer(prompts))
        img = img / img.norm(dim=-1, keepdim=True)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        expected = (100.0 * (img * txt).sum(-1)).clamp(min=0).numpy()
    ours = np.array([s for _, _, s in ev.scores])
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    assert result.value == pytest.approx(expected.mean(), abs=1e-4)
    assert result.per_prompt["p1"] == pytest.approx(expected[2:4].mean(), abs=1e-4)
    assert result.per_category["B"] == pytest.approx(expected[2:].mean(), abs=1e-4)
    assert result.n == 6 and result.settings["truncated_prompts"] == 0


def test_long_prompts_are_truncated_and_counted(tiny_clip):
    model, preprocess, tokenizer = tiny_clip
    long = " ".join(["word"] * 100)
    ev = ClipScore(model, preprocess, tokenizer, bootstrap_rounds=10)
    ev.update(EvalBatch(_images(3), [long, long, "short"], ["a", "a", "b"], ["", "", ""]))
    result = ev.compute()
    assert result.settings["truncated_prompts"] == 1
    assert any("truncated" in w for w in result.warnings)


def test_bootstrap_over_prompts_is_seeded_and_covers_the_mean():
    rng = np.random.default_rng(0)
    pairs = [(f"p{i // 4}", "AB"[i // 40], float(rng.normal(30, 5))) for i in range(80)]
    r1 = summarize_pair_scores(pairs, rounds=500, seed=3)
    r2 = summarize_pair_scores(pairs, rounds=500, seed=3)
    assert (r1.ci_low, r1.ci_high) == (r2.ci_low, r2.ci_high)
    assert r1.ci_low < r1.value < r1.ci_high
    assert set(r1.per_category_ci) == {"A", "B"} and len(r1.per_prompt) == 20
    assert r1.value == pytest.approx(np.mean([s for _, _, s in pairs]))
