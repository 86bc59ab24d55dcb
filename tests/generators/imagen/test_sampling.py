"""Cascade sampling through the Generator protocol: determinism, batch independence, options,
checkpoints and from_pretrained."""

import dataclasses

import pytest
import torch

from generators.base import Generator
from generators.imagen.cascade import ImagenCascade
from generators.imagen.config import load_config
from generators.imagen.generator import ImagenGenerator
from generators.imagen.toy import create_tiny_t5_encoder


@pytest.fixture(scope="module")
def cascade():
    enc = create_tiny_t5_encoder()
    cfg = dataclasses.replace(
        load_config("imagen-tiny"), text_embed_dim=32, max_text_length=16, text_encoder="tiny"
    )
    torch.manual_seed(0)
    c = ImagenCascade.create(cfg, enc)
    with torch.no_grad():  # perturb the zero-initialised output layers so samples depend on text
        for p in c.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return c


OPTS = dict(steps=4, guidance_weight=[3.0, 2.0], threshold=["dynamic", "static"])


def test_same_seed_same_image_and_batch_independence(cascade):
    gen = ImagenGenerator.from_cascade(cascade, batch_size=2, **OPTS)
    assert isinstance(gen, Generator)
    pair = gen.generate(["a red circle", "a blue square"], [7, 8])
    assert [im.size for im in pair] == [(32, 32)] * 2 and pair[0].mode == "RGB"
    alone = gen.generate(["a blue square"], [8])
    assert alone[0].tobytes() == pair[1].tobytes()
    assert gen.generate(["a red circle"], [7])[0].tobytes() == pair[0].tobytes()
    assert gen.generate(["a red circle"], [9])[0].tobytes() != pair[0].tobytes()


def test_only_first_stage_and_samplers(cascade):
    gen = ImagenGenerator.from_cascade(cascade, stages=1, steps=3, sampler="ddim")
    (im,) = gen.generate(["a red circle"], [1])
    assert im.size == (16, 16)
    d = gen.describe()
    assert d["stages"] == 1 and d["stage_options"][0]["sampler"] == "ddim"


def test_check_options_validates_without_loading(tmp_path):
    with pytest.raises(ValueError, match="checkpoint is required"):
        ImagenGenerator.check_options()
    with pytest.raises(FileNotFoundError, match=r"config.json"):
        ImagenGenerator.check_options(checkpoint=tmp_path)
    with pytest.raises(ValueError, match="sampler must be one of"):
        ImagenGenerator.check_options(sampler="euler", _need_checkpoint=False)
    with pytest.raises(ValueError, match="guidance_weight: 2 value"):
        ImagenGenerator.check_options(stages=3, guidance_weight=[1.0, 2.0], _need_checkpoint=False)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        ImagenGenerator.check_options(steps=0, _need_checkpoint=False)


def test_save_and_from_pretrained_round_trip(cascade, tmp_path):
    cascade.save_pretrained(tmp_path)
    ImagenGenerator.check_options(checkpoint=tmp_path, stages=2)
    loaded = ImagenCascade.from_pretrained(tmp_path, text_encoder=cascade.text_encoder)
    for a, b in zip(cascade.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    gen = ImagenGenerator(checkpoint=tmp_path, **OPTS, cascade=loaded)
    ref = ImagenGenerator.from_cascade(cascade, **OPTS)
    assert (
        gen.generate(["a red circle"], [3])[0].tobytes()
        == ref.generate(["a red circle"], [3])[0].tobytes()
    )
    (tmp_path / "stage_1.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"stage_1.safetensors is missing"):
        ImagenGenerator.check_options(checkpoint=tmp_path)


def test_cpu_sampling_runs_channels_last_with_the_same_images(cascade):
    """On CPU the generator samples in channels-last format (faster oneDNN convolutions: see
    bench_imagen.py); the images match the default format's to within one level of 255."""
    import numpy as np

    from drawbench.images import tensor_to_pil

    gen = ImagenGenerator.from_cascade(cascade, steps=4)
    contiguous = cascade.to(memory_format=torch.contiguous_format)
    ref = tensor_to_pil(
        contiguous.sample(["a red circle", "a blue square"], [3, 4], gen.stage_options)
    )
    cascade.to(memory_format=torch.channels_last)  # as the generator left it
    conv = next(p for p in cascade.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert gen.describe()["memory_format"] == "channels_last"
    images = gen.generate(["a red circle", "a blue square"], [3, 4])
    for image, want in zip(images, ref, strict=True):
        diff = np.asarray(image, dtype=float) - np.asarray(want, dtype=float)
        assert np.abs(diff).max() <= 1.0
