"""The toy world's generators: ground truth (`toyworld`) and the toy Imagen cascade (`imagen-toy`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drawbench.toyworld import parse_caption
from drawbench.toyworld_render import render_scene
from generators.base import GeneratorError
from generators.registry import check_generator_options, create_generator

pytest.importorskip("torch")


def test_ground_truth_generator_renders_the_caption():
    gen = create_generator("toyworld")
    prompts = ["two red circles", "a green triangle to the left of a yellow circle"]
    images = gen.generate(prompts, [5, 7])
    assert [im.size for im in images] == [(64, 64)] * 2
    want = render_scene(parse_caption(prompts[1]), 7)
    assert np.array_equal(np.asarray(images[1]), np.asarray(want))
    assert gen.describe()["name"] == "toyworld"


def test_ground_truth_refuses_a_non_toy_prompt_before_work():
    from drawbench.prompts import Prompt

    gen = create_generator("toyworld")
    with pytest.raises(GeneratorError, match="prompt p1"):
        gen.bind_run([Prompt("p1", "a photo of a cat", "x", "custom")], 1, 0)
    with pytest.raises(ValueError, match="unknown option"):
        check_generator_options("toyworld", width=3)


def test_ground_truth_with_swapped_relations_renders_the_mirrored_scene():
    gen = create_generator("toyworld", swap_relations=True)
    prompts = ["a green triangle to the left of a yellow circle", "two red circles"]
    images = gen.generate(prompts, [7, 5])
    mirrored = render_scene(parse_caption("a green triangle to the right of a yellow circle"), 7)
    assert np.array_equal(np.asarray(images[0]), np.asarray(mirrored))
    assert not np.array_equal(
        np.asarray(images[0]), np.asarray(render_scene(parse_caption(prompts[0]), 7))
    )
    assert np.array_equal(
        np.asarray(images[1]), np.asarray(render_scene(parse_caption(prompts[1]), 5))
    )
    assert gen.describe()["swap_relations"] is True
    with pytest.raises(ValueError, match="swap_relations must be true or false"):
        check_generator_options("toyworld", swap_relations="yes")


def test_swap_relation_caption_mirrors_relations_only():
    from generators.imagen.toy_generator import swap_relation_caption

    assert swap_relation_caption("a red circle to the left of a blue square") == (
        "a red circle to the right of a blue square"
    )
    assert swap_relation_caption("a red circle above a blue square") == (
        "a red circle below a blue square"
    )
    assert swap_relation_caption("three green squares") == "three green squares"


def test_imagen_toy_options_are_checked_without_loading():
    with pytest.raises(ValueError, match="swap_relations must be true or false"):
        check_generator_options("imagen-toy", swap_relations="yes")
    with pytest.raises(ValueError, match="neither one of trained, untrained"):
        check_generator_options("imagen-toy", checkpoint="/no/such/folder")
    with pytest.raises(ValueError, match="unknown option"):
        check_generator_options("imagen-toy", checkpoint="untrained", colour="red")
    with pytest.raises(ValueError, match="sampler"):
        check_generator_options("imagen-toy", checkpoint="untrained", sampler="euler")


def test_untrained_toy_cascade_is_seeded_and_reads_toy_captions_only():
    from drawbench.prompts import Prompt

    options = dict(checkpoint="untrained", steps=[2, 2])
    a = create_generator("imagen-toy", **options)
    b = create_generator("imagen-toy", **options, batch_size=1)
    prompts = ["a red circle", "two blue squares"]
    ia, ib = a.generate(prompts, [1, 2]), b.generate(prompts, [1, 2])
    assert [im.size for im in ia] == [(64, 64)] * 2
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(ia, ib, strict=True))
    d = a.describe()
    assert d["generator"] == "imagen-toy" and "untrained" in d["weights"]
    assert d["text_encoder"] == "toyclip-coordconv"
    with pytest.raises(GeneratorError, match="toy-world captions only; prompt q"):
        a.bind_run([Prompt("q", "a cat on a mat", "x", "custom")], 1, 0)


def test_swap_relations_samples_mirrored_captions():
    swapped = create_generator("imagen-toy", checkpoint="untrained", swap_relations=True)
    seen = []
    inner = swapped.inner.generate
    swapped.inner.generate = lambda prompts, seeds: seen.extend(prompts) or inner(prompts, seeds)
    swapped.inner.stage_options = [
        type(o)(**{**o.__dict__, "steps": 1}) for o in swapped.inner.stage_options
    ]
    swapped.generate(["a red circle to the left of a blue square", "two blue squares"], [3, 3])
    assert seen == ["a red circle to the right of a blue square", "two blue squares"]
    assert swapped.describe()["swap_relations"] is True


def test_toyclip_text_encoder_interface():
    from generators.imagen.text_encoder import ToyClipTextEncoder, load_text_encoder

    enc = load_text_encoder("toyclip-coordconv")
    assert isinstance(enc, ToyClipTextEncoder) and enc.embed_dim == 128
    emb, mask = enc.encode(["a red circle", "a green triangle to the left of a yellow circle"])
    assert emb.shape == (2, 16, 128) and str(mask.dtype) == "torch.bool"
    assert mask.sum(1).tolist() == [5, 12]  # start + words + end
    assert float(emb[0, 5:].abs().sum()) == 0.0  # padding zeroed
    with pytest.raises(ValueError, match="'cat'"):
        enc.encode(["a cat"])
    with pytest.raises(FileNotFoundError, match=r"no config\.json in /no/such/folder"):
        load_text_encoder("toyclip:/no/such/folder")
    with pytest.raises(ValueError, match="toy CLIP 'toyclip-nope' is unknown; available: toyclip"):
        load_text_encoder("toyclip-nope")


def test_generate_command_refuses_non_toy_prompts_cleanly(tmp_path, capsys):
    from drawbench.cli import main

    out = tmp_path / "run"
    argv = ["generate", "--generator", "toyworld", "--prompts", "drawbench", "--limit", "1",
            "--images-per-prompt", "1", "--seed", "0", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    assert "toy-world captions only; prompt drawbench-000" in capsys.readouterr().err
    assert not out.exists()  # refused before the run directory was made


def test_a_run_made_with_other_toy_weights_is_refused_not_resumed(tmp_path, capsys):
    import shutil

    from drawbench.cli import main
    from generators.imagen.toy_generator import ToyImagenGenerator, toy_checkpoint_dir

    weights = tmp_path / "ckpt"
    shutil.copytree(toy_checkpoint_dir("trained"), weights)
    out = tmp_path / "run"
    argv = ["generate", "--generator", "imagen-toy", "--option", f"checkpoint={weights}",
            "--option", "steps=[2, 2]", "--prompts", "toyworld", "--limit", "1",
            "--images-per-prompt", "2", "--seed", "0", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    recorded = json.loads((out / "run.json").read_text())["generator"]["weights"]
    assert recorded == ToyImagenGenerator.weights_identity(checkpoint=str(weights))
    assert set(recorded) == {
        "stage_0.safetensors",
        "stage_1.safetensors",
        "text_encoder:toyclip-coordconv",
    }
    assert main(argv) == 0  # same weights: resumes (nothing left to do)
    with (weights / "stage_1.safetensors").open("ab") as f:
        f.write(b"\0")  # other weights, same name and options
    capsys.readouterr()
    assert main(argv) == 2
    assert "different generator" in capsys.readouterr().err
    # the untrained cascade's images still depend on its frozen text encoder's weights
    assert set(ToyImagenGenerator.weights_identity(checkpoint="untrained")) == {
        "text_encoder:toyclip-coordconv"
    }


def test_other_text_encoder_weights_change_the_run_identity(tmp_path):
    import shutil

    from evaluators.toyclip import WEIGHTS_FILE, resolve_toyclip
    from generators.imagen.toy_generator import ToyImagenGenerator, toy_checkpoint_dir

    encoder = tmp_path / "encoder"
    shutil.copytree(resolve_toyclip("toyclip-coordconv"), encoder)
    weights = tmp_path / "ckpt"
    shutil.copytree(toy_checkpoint_dir("trained"), weights)
    config = json.loads((weights / "config.json").read_text())
    config["text_encoder"] = f"toyclip:{encoder}"
    (weights / "config.json").write_text(json.dumps(config))
    before = ToyImagenGenerator.weights_identity(checkpoint=str(weights))
    assert (
        before[f"text_encoder:toyclip:{encoder}"]
        == ToyImagenGenerator.weights_identity()["text_encoder:toyclip-coordconv"]
    )  # same file, same digest
    with (encoder / WEIGHTS_FILE).open("ab") as f:
        f.write(b"\0")
    after = ToyImagenGenerator.weights_identity(checkpoint=str(weights))
    assert after != before and after["stage_0.safetensors"] == before["stage_0.safetensors"]
