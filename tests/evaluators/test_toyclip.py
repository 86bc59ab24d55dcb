"""Toy CLIPs: construction, interface, transform, loss and schedule, training smoke, save/load, eval."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")
pytest.importorskip("safetensors")

from drawbench.toyworld import caption_of, parse_caption  # noqa: E402
from drawbench.toyworld_corrupt import CORRUPTIONS  # noqa: E402
from drawbench.toyworld_render import render_scene  # noqa: E402
from drawbench.toyworld_text import ToyTokenizer  # noqa: E402
from evaluators.toyclip import (  # noqa: E402
    ToyClipConfig,
    ToyClipTransform,
    ToyCNNCLIP,
    count_parameters,
    create_toyclip,
    load_toyclip,
    read_toyclip_config,
    save_toyclip,
)
from evaluators.toyclip_eval import compute_scores, evaluate_toyclip  # noqa: E402
from evaluators.toyclip_train import (  # noqa: E402
    TrainingBatch,
    TrainSettings,
    content_of,
    contrastive_loss,
    lr_at,
    make_training_batch,
    train_toyclip,
)

CAPTIONS = ["a red circle", "a green triangle to the left of a yellow circle", "four blue squares"]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _images(n: int) -> torch.Tensor:
    transform = ToyClipTransform()
    return torch.stack(
        [transform(render_scene(parse_caption(CAPTIONS[i % 3]), i)) for i in range(n)]
    )


@pytest.mark.parametrize(
    ("tower", "low", "high"), [("vit", 1.45e6, 1.6e6), ("coordconv", 2.9e6, 3.1e6)]
)
def test_towers_have_open_clips_interface(tower, low, high):
    from open_clip.model import CLIP

    model = create_toyclip(ToyClipConfig(image_tower=tower)).eval()
    assert isinstance(model, CLIP if tower == "vit" else ToyCNNCLIP)
    assert low < count_parameters(model) < high
    tokens = ToyTokenizer()(CAPTIONS)
    with torch.no_grad():
        image = model.encode_image(_images(3))
        text = model.encode_text(tokens)
        image_n, text_n, scale = model(_images(3), tokens)
    assert image.shape == text.shape == (3, 128)
    assert torch.allclose(image_n.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(text_n, torch.nn.functional.normalize(text, dim=-1), atol=1e-6)
    assert math.isclose(float(scale), 1 / 0.07, rel_tol=1e-5)


def test_open_clip_config_and_json_round_trip():
    config = ToyClipConfig(image_tower="vit")
    oc = config.open_clip_config()
    assert oc["vision_cfg"] == {
        "image_size": 64,
        "patch_size": 16,
        "width": 128,
        "layers": 4,
        "head_width": 32,
    }
    assert oc["text_cfg"]["vocab_size"] == 27 and oc["text_cfg"]["context_length"] == 16
    assert ToyClipConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="toy CLIP config: unknown key"):
        ToyClipConfig.from_dict({"image_tower": "vit", "depth": 3})
    with pytest.raises(ValueError, match="unknown image_tower"):
        ToyClipConfig(image_tower="resnet")


def test_create_is_seeded_and_leaves_the_global_rng_alone():
    config = ToyClipConfig(image_tower="coordconv")
    state = torch.random.get_rng_state()
    a, b = create_toyclip(config, seed=3), create_toyclip(config, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    assert not torch.equal(
        create_toyclip(config, seed=4).visual.head[1].weight, a.visual.head[1].weight
    )


def test_transform_formula_and_resize():
    from PIL import Image

    transform = ToyClipTransform()
    x = transform(Image.new("RGB", (64, 64), (0, 255, 51)))
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert torch.allclose(x[:, 0, 0], torch.tensor([-1.0, 1.0, (51 / 255 - 0.5) / 0.5]))
    assert transform(Image.new("L", (128, 96), 255)).shape == (3, 64, 64)


def test_lr_schedule():
    s = TrainSettings(steps=100, lr=1e-3, warmup_fraction=0.05)
    assert lr_at(0, s) == pytest.approx(2e-4) and lr_at(4, s) == pytest.approx(1e-3)
    assert lr_at(5, s) == pytest.approx(1e-3) and lr_at(99, s) < 1e-6
    assert lr_at(52, s) == pytest.approx(5e-4, rel=0.05)


def test_batch_and_loss_mask_same_meaning_pairs():
    tok = ToyTokenizer()
    batch = make_training_batch(np.random.default_rng(0), 64, tok, hard_negatives=2)
    assert batch.images.shape == (64, 3, 64, 64) and batch.negatives.shape == (128, 16)
    assert len(set(batch.meaning_ids.tolist())) < 64  # duplicates do occur at this size
    # masking removes same-meaning entries from the softmax denominators, so the loss drops
    model = create_toyclip(ToyClipConfig(image_tower="coordconv")).eval()
    with torch.no_grad():
        masked = contrastive_loss(model, batch, mask_duplicates=True)
        plain = contrastive_loss(model, batch, mask_duplicates=False)
    assert masked < plain


def test_hard_negatives_come_from_the_chosen_kinds_only():
    from drawbench.toyworld import parse_caption

    tok = ToyTokenizer()
    kinds = ("colour_replaced", "shape_replaced", "count_changed", "colours_swapped")
    batch = make_training_batch(
        np.random.default_rng(1), 64, tok, hard_negatives=2, negative_kinds=kinds
    )
    for k, scene in enumerate(batch.scenes):
        for j in range(2):
            neg = parse_caption(tok.decode(batch.negatives[2 * k + j].tolist()))
            if scene.relation is not None:  # relation kept and objects in place: not a flip/swap
                assert neg.relation == scene.relation
                assert neg != scene
    with pytest.raises(ValueError, match="negative_kinds"):
        TrainSettings(steps=1, negative_kinds=("relation_flipped", "nope"))
    settings = TrainSettings(steps=1, hard_negatives=2, negative_kinds=kinds)
    assert TrainSettings.from_dict(settings.to_dict()) == settings
    assert TrainSettings(steps=1).negative_kinds == CORRUPTIONS  # default: every kind
    with pytest.raises(ValueError, match="need 2"):  # count scenes admit only count/colour/shape
        make_training_batch(
            np.random.default_rng(0), 16, tok, hard_negatives=2, negative_kinds=("colours_swapped",)
        )


def test_position_blind_training_never_contrasts_two_arrangements_of_the_same_objects():
    tok = ToyTokenizer()
    left = parse_caption("a red circle to the left of a blue square")
    others = [
        parse_caption("a red circle to the right of a blue square"),
        parse_caption("a blue square above a red circle"),
    ]
    assert all(content_of(o) == content_of(left) for o in others)
    assert content_of(parse_caption("a red circle to the left of a green square")) != content_of(
        left
    )
    assert content_of(parse_caption("two red circles")) != content_of(parse_caption("a red circle"))
    scenes = [left, *others]
    batch = TrainingBatch(
        images=torch.stack([_images(1)[0] * (k + 1) / 3 for k in range(3)]),
        tokens=tok([caption_of(s) for s in scenes]),
        negatives=None,
        meaning_ids=torch.tensor([0, 0, 1]),  # the first two captions mean the same scene
        scenes=scenes,
        content_ids=torch.tensor([0, 0, 0]),
    )
    model = create_toyclip(ToyClipConfig(image_tower="coordconv")).eval()
    with torch.no_grad():
        # every off-diagonal pair is the same objects elsewhere: no negatives left, loss exactly 0
        assert contrastive_loss(model, batch, position_blind=True).item() == 0.0
        assert contrastive_loss(model, batch, mask_duplicates=True).item() > 0.0
    made = make_training_batch(np.random.default_rng(0), 64, tok)
    ids, contents = made.content_ids.tolist(), [content_of(s) for s in made.scenes]
    for i in range(64):
        for j in range(64):
            assert (ids[i] == ids[j]) == (contents[i] == contents[j])
    with pytest.raises(ValueError, match=r"position kinds.*relation_flipped"):
        TrainSettings(steps=1, hard_negatives=2, position_blind=True)  # default kinds: all
    kinds = ("colour_replaced", "shape_replaced", "count_changed", "colours_swapped")
    settings = TrainSettings(steps=1, hard_negatives=2, negative_kinds=kinds, position_blind=True)
    assert TrainSettings.from_dict(settings.to_dict()) == settings


def test_vit_without_position_embedding_sees_its_patches_as_a_set():
    config = ToyClipConfig(image_tower="vit", vit_position_embedding=False)
    assert ToyClipConfig.from_dict(config.to_dict()) == config
    model, _ = train_toyclip(config, TrainSettings(steps=2, batch_size=8, seed=0))
    pos = model.visual.positional_embedding
    assert not pos.requires_grad and float(pos.abs().max()) == 0.0  # zero after training too
    image = _images(1)
    # the 4x4 grid of 16x16 patches mirrored (each patch kept as it is): the objects move, the
    # set of patches does not
    moved = torch.cat([image[..., :, 16 * k : 16 * (k + 1)] for k in (3, 2, 1, 0)], dim=-1)
    assert not torch.equal(moved, image)
    with torch.no_grad():
        a, b = model.encode_image(image), model.encode_image(moved)
        assert torch.allclose(a, b, atol=1e-5)
        with_pos = create_toyclip(ToyClipConfig(image_tower="vit"), seed=0).eval()
        assert not torch.allclose(
            with_pos.encode_image(image), with_pos.encode_image(moved), atol=1e-5
        )


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_training_continues_from_init_weights():
    config = ToyClipConfig(image_tower="coordconv")
    first, _ = train_toyclip(config, TrainSettings(steps=3, batch_size=8, seed=0))
    settings = TrainSettings(steps=1, batch_size=8, seed=5, lr=0.0)  # lr 0: the weights stay put
    continued, _ = train_toyclip(config, settings, init=first)
    fresh, _ = train_toyclip(config, settings)
    assert _same_weights(continued, first)  # started from init, not from seed 5's weights
    assert _same_weights(fresh, create_toyclip(config, seed=5))
    assert not _same_weights(fresh, first)


def test_a_vit_trained_on_a_coordconv_text_tower_keeps_it_frozen():
    from evaluators.toyclip import copy_text_tower, text_tower_state

    source = create_toyclip(ToyClipConfig(image_tower="coordconv"), seed=3)
    config = ToyClipConfig(image_tower="vit", vit_position_embedding=False)
    model, _ = train_toyclip(
        config, TrainSettings(steps=2, batch_size=8, seed=0), text_tower=source
    )
    ours, theirs = text_tower_state(model), text_tower_state(source)
    assert ours.keys() == theirs.keys() and len(ours) > 10
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)  # copied, then not trained
    untrained = create_toyclip(config, seed=0)
    assert not torch.equal(model.visual.conv1.weight, untrained.visual.conv1.weight)  # learnt
    tokens = ToyTokenizer()(CAPTIONS)
    with torch.no_grad():
        assert torch.allclose(model.encode_text(tokens), source.encode_text(tokens), atol=1e-5)
    wider = create_toyclip(ToyClipConfig(image_tower="vit", text_width=64))
    with pytest.raises(ValueError, match="text towers differ"):
        copy_text_tower(wider, source)


def test_training_smoke_loss_goes_down_and_save_load_is_exact(tmp_path):
    config = ToyClipConfig(image_tower="coordconv")
    settings = TrainSettings(steps=60, batch_size=32, seed=0)
    model, history = train_toyclip(config, settings)
    losses = [r["loss"] for r in history]
    # from the chance level ln(32) = 3.47 (the first steps) to clearly below it
    assert np.mean(losses[-10:]) < math.log(32) - 0.25 < np.mean(losses[:5]) - 0.25
    save_toyclip(model, config, tmp_path / "m", provenance={"steps": 60})
    loaded, loaded_config = load_toyclip(tmp_path / "m")
    assert loaded_config == config and read_toyclip_config(tmp_path / "m")[1] == {"steps": 60}
    images, tokens = _images(4), ToyTokenizer()(CAPTIONS)
    with torch.no_grad():
        assert torch.equal(model.encode_image(images), loaded.encode_image(images))
        assert torch.equal(model.encode_text(tokens), loaded.encode_text(tokens))
        assert torch.equal(model.logit_scale, loaded.logit_scale)


def test_vit_save_load_and_missing_files(tmp_path):
    config = ToyClipConfig(image_tower="vit")
    model = create_toyclip(config, seed=1).eval()
    save_toyclip(model, config, tmp_path)
    loaded, _ = load_toyclip(tmp_path)
    tokens = ToyTokenizer()(CAPTIONS)
    with torch.no_grad():
        assert torch.equal(model.encode_text(tokens), loaded.encode_text(tokens))
        assert torch.equal(model.encode_image(_images(2)), loaded.encode_image(_images(2)))
    with pytest.raises(FileNotFoundError, match=r"train_toyclip\.py"):
        load_toyclip(tmp_path / "nowhere")


def test_scores_and_evaluation_report():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[3.0, 0.0], [1.0, 1.0], [0.0, -1.0]])
    assert torch.allclose(
        compute_scores(a, b), torch.tensor([[100.0, 70.7107, 0.0], [0.0, 70.7107, -100.0]])
    )
    model = create_toyclip(ToyClipConfig(image_tower="coordconv"))
    figures = evaluate_toyclip(model, n_scenes=24, seed=1)
    assert set(figures["caption_wins"]) == {
        "colour_replaced",
        "colours_swapped",
        "count_changed",
        "shape_replaced",
        "left_right_flip",
        "above_below_flip",
        "objects_swapped",
    }
    assert set(figures["render_wins"]) == set(figures["caption_wins"])
    assert all(0 <= v <= 1 for v in [figures["top1_of_32"], *figures["caption_wins"].values()])
    assert figures == evaluate_toyclip(model, n_scenes=24, seed=1)


def test_photometric_augmentation_changes_nuisances_only():
    from evaluators.toyclip_train import make_training_batch, photometric_augment

    batch = make_training_batch(np.random.default_rng(0), 8, ToyTokenizer())
    a = photometric_augment(batch.images, np.random.default_rng(1))
    b = photometric_augment(batch.images, np.random.default_rng(1))
    assert torch.equal(a, b) and a.shape == batch.images.shape
    assert float(a.min()) >= -1 and float(a.max()) <= 1
    corner = batch.images[:, :, 0, 0]
    assert (a[:, :, 0, 0] - corner).abs().max() > 0.1  # backgrounds repainted
    settings = TrainSettings(steps=1, batch_size=4, photometric=True)
    assert TrainSettings.from_dict(settings.to_dict()) == settings
