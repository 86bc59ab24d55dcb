"""The diffusers adapter, offline, on a tiny Stable Diffusion pipeline built in the test.

Random weights from small configs (UNet2DConditionModel, AutoencoderKL, CLIPTextModel), a CLIP
tokenizer built from a 40-token vocabulary written to tmp_path, a DDIM scheduler, no safety
checker; saved with ``save_pretrained`` and loaded by path through the adapter.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from drawbench.images import encode_png  # noqa: E402
from drawbench.pipeline.generate import GenerateRequest, run_generation, select_prompts  # noqa: E402
from generators.base import GeneratorError  # noqa: E402
from generators.diffusers_adapter import DiffusersGenerator  # noqa: E402
from generators.registry import create_generator  # noqa: E402

PROMPTS = ["a red car", "a blue bird", "two cats"]
SEEDS = [11, 22, 33]


def _write_tokenizer(folder) -> None:
    """A CLIP BPE tokenizer with single letters only (no merges): 2 specials + 26 letters x 2."""
    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<|startoftext|>", "<|endoftext|>"]
    tokens += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens += [chr(c) + "</w>" for c in range(ord("a"), ord("z") + 1)]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def _tiny_pipeline(tmp):
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    _write_tokenizer(tmp / "tok")
    tokenizer = CLIPTokenizer(
        str(tmp / "tok" / "vocab.json"), str(tmp / "tok" / "merges.txt"), model_max_length=16
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            block_out_channels=(8, 16),
            layers_per_block=1,
            sample_size=8,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=16,
            norm_num_groups=4,
            attention_head_dim=2,
        )
        vae = AutoencoderKL(
            block_out_channels=(8, 16),
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            latent_channels=4,
            norm_num_groups=4,
            sample_size=16,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                bos_token_id=0,
                eos_token_id=1,
                pad_token_id=1,
                hidden_size=16,
                intermediate_size=32,
                num_attention_heads=2,
                num_hidden_layers=2,
                vocab_size=len(tokenizer),
                max_position_embeddings=16,
            )
        )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    return StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-sd")
    _tiny_pipeline(folder / "build").save_pretrained(folder / "pipe")
    return str(folder / "pipe")


def _generator(model, **options):
    return create_generator("diffusers", model=model, steps=2, device="cpu", **options)


def test_loads_by_path_and_generates_rgb_images(tiny_model):
    gen = _generator(tiny_model, guidance_scale=3.0)
    images = gen.generate(PROMPTS, SEEDS)
    assert [im.mode for im in images] == ["RGB"] * 3
    assert {im.size for im in images} == {(16, 16)}
    desc = gen.describe()
    assert desc["pipeline_class"] == "StableDiffusionPipeline"
    assert desc["steps"] == 2 and desc["guidance_scale"] == 3.0 and desc["dtype"] == "float32"
    assert desc["safety_checker"] is False
    json.dumps(desc)


def test_one_generator_per_image_makes_images_independent_of_the_batch(tiny_model):
    gen = _generator(tiny_model)
    batched = [encode_png(im) for im in gen.generate(PROMPTS, SEEDS)]
    alone = [encode_png(gen.generate([p], [s])[0]) for p, s in zip(PROMPTS, SEEDS, strict=True)]
    assert batched == alone
    again = [encode_png(im) for im in gen.generate(PROMPTS, SEEDS)]
    assert again == batched
    other_seed = encode_png(gen.generate(PROMPTS[:1], [12])[0])
    assert other_seed != batched[0]


def test_options_reach_the_pipeline(tiny_model):
    gen = _generator(tiny_model, height=24, width=32, negative_prompt="blurry")
    (image,) = gen.generate(PROMPTS[:1], SEEDS[:1])
    assert image.size == (32, 24)


def test_generate_command_with_diffusers(tiny_model, tmp_path):
    prompts, selection = select_prompts("drawbench", limit=2)
    request = GenerateRequest(
        "diffusers",
        prompts,
        images_per_prompt=2,
        seed=5,
        out=tmp_path / "run",
        options={"model": tiny_model, "steps": 2},
        batch_size=3,
        device="cpu",
        selection=selection,
    )
    result = run_generation(request, progress=False)
    assert result.generated == 4
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["generator"] == {"name": "diffusers", "options": {"model": tiny_model, "steps": 2}}
    assert info["generator_description"]["device"] == "cpu"


def test_missing_model_offline_names_it_and_says_to_pass_a_local_path(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        GeneratorError, match=r"'nobody/no-such-pipeline'.*local path: --option model=DIR"
    ):
        create_generator("diffusers", model="nobody/no-such-pipeline", device="cpu")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "option model is required"),
        ({"model": "./no/such/folder"}, "does not exist"),
        ({"model": "a/b", "steps": 0}, "steps must be a positive integer"),
        ({"model": "a/b", "height": 30}, "height must be a positive multiple of 8"),
        ({"model": "a/b", "dtype": "float8"}, "dtype must be one of auto, float32"),
        ({"model": "a/b", "guidance": 7}, r"unknown option\(s\) guidance; accepted: model"),
        ({"model": "a/b", "guidance_scale": "high"}, "guidance_scale must be a number"),
    ],
)
def test_bad_options_fail_before_loading(options, message):
    with pytest.raises(ValueError, match=message):
        DiffusersGenerator.check_options(**options)


def test_missing_dependency_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "diffusers" else real(name, *a),
    )
    with pytest.raises(ImportError, match=r"needs diffusers: pip install 'drawbench\[diffusers\]'"):
        DiffusersGenerator.check_options(model="a/b")
