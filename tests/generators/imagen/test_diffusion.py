"""Schedule, parameterisations, samplers and noise-conditioning augmentation."""

import math

import pytest
import torch

from generators.imagen.augmentation import noise_augment, resize_images, sample_train_aug_levels
from generators.imagen.diffusion import (
    alpha_sigma,
    cosine_log_snr,
    ddim_step,
    ddpm_step,
    predict_x0,
    prediction_target,
    q_sample,
    sample_loop,
)


def test_schedule_is_variance_preserving_and_cosine():
    t = torch.linspace(0, 1, 101)
    alpha, sigma = alpha_sigma(cosine_log_snr(t))
    assert torch.allclose(alpha**2 + sigma**2, torch.ones_like(t), atol=1e-6)
    mid = torch.linspace(0.05, 0.95, 19)
    a, s = alpha_sigma(cosine_log_snr(mid))
    assert torch.allclose(a, torch.cos(math.pi * mid / 2), atol=1e-5)
    assert torch.allclose(s, torch.sin(math.pi * mid / 2), atol=1e-5)
    assert cosine_log_snr(torch.tensor(0.0)) == 20.0 and cosine_log_snr(torch.tensor(1.0)) == -20.0
    assert torch.all(cosine_log_snr(t)[1:] <= cosine_log_snr(t)[:-1])  # decreasing in t


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_perfect_prediction_recovers_x0(prediction):
    x0, noise = torch.rand(3, 3, 8, 8) * 2 - 1, torch.randn(3, 3, 8, 8)
    log_snr = torch.tensor([-3.0, 0.0, 4.0])
    x_t = q_sample(x0, noise, log_snr)
    target = prediction_target(x0, noise, log_snr, prediction)
    assert torch.allclose(predict_x0(target, x_t, log_snr, prediction), x0, atol=1e-5)


def test_samplers_with_exact_x0_stay_on_the_data():
    x0, noise = torch.rand(2, 3, 4, 4) * 2 - 1, torch.randn(2, 3, 4, 4)
    lt, ls = torch.tensor(-1.0), torch.tensor(2.0)
    x_t = q_sample(x0, noise, lt.expand(2))
    # DDIM with the true x0 moves exactly along the same noise: x_s = alpha_s x0 + sigma_s eps.
    assert torch.allclose(ddim_step(x_t, x0, lt, ls), q_sample(x0, noise, ls.expand(2)), atol=1e-5)
    # DDPM posterior mean with zero noise, at s -> t is x_t.
    assert torch.allclose(ddpm_step(x_t, x0, lt, lt, torch.zeros_like(x_t)), x_t, atol=1e-5)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_sample_loop_calls_denoise_steps_times(sampler):
    calls = []
    target = torch.full((1, 3, 4, 4), 0.5)

    def denoise(x, log_snr):
        calls.append(float(log_snr[0]))
        return target

    out = sample_loop(denoise, lambda: torch.randn(1, 3, 4, 4), steps=7, sampler=sampler)
    assert len(calls) == 7 and calls == sorted(calls) and torch.equal(out, target)
    with pytest.raises(ValueError, match="unknown sampler"):
        sample_loop(denoise, lambda: target, 3, "euler")


def test_noise_augmentation_levels():
    low, noise = torch.rand(3, 3, 8, 8) * 2 - 1, torch.randn(3, 3, 8, 8)
    out, aug_log_snr = noise_augment(low, torch.tensor([0.0, 0.5, 1.0]), noise)
    assert torch.allclose(
        out[0], low[0], atol=1e-3
    )  # level 0: untouched (sigma = sqrt(sigmoid(-20)) ~ 5e-5)
    assert torch.allclose(
        out[1], (low[1] + noise[1]) / math.sqrt(2), atol=1e-5
    )  # level 0.5: alpha = sigma
    assert torch.allclose(out[2], noise[2], atol=1e-3)  # level 1: pure noise
    assert aug_log_snr.tolist() == pytest.approx([20.0, 0.0, -20.0], abs=1e-4)
    g = torch.Generator().manual_seed(0)
    levels = sample_train_aug_levels(1000, 0.3, g)
    assert levels.min() >= 0 and levels.max() <= 0.3 and levels.std() > 0.05


def test_resize_images_range_and_shape():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    down = resize_images(x, 8)
    assert down.shape == (2, 3, 8, 8) and resize_images(down, 32).shape == (2, 3, 32, 32)
    assert resize_images(x, 32) is x


def test_offset_noise_adds_a_per_channel_constant_to_the_training_noise():
    import dataclasses

    from generators.imagen.config import load_config
    from generators.imagen.stage import ImagenStage

    base = load_config("imagen-tiny").stages[0]
    with pytest.raises(ValueError, match="offset_noise"):
        dataclasses.replace(base, offset_noise=1.5)
    seen = {}

    class Spy(torch.nn.Module):
        def forward(self, x_t, log_snr, *rest):
            seen["x_t"], seen["log_snr"] = x_t, log_snr
            return torch.zeros_like(x_t)

    images = torch.zeros(64, 3, 16, 16)
    text, mask = torch.zeros(64, 4, 8), torch.ones(64, 4, dtype=torch.bool)
    for offset in (0.0, 0.5):
        stage = ImagenStage(dataclasses.replace(base, offset_noise=offset), 8, unet=Spy())
        loss = stage.training_loss(images, text, mask, torch.Generator().manual_seed(0))
        sigma = torch.sigmoid(-seen["log_snr"]).sqrt()
        noise = seen["x_t"] / sigma[:, None, None, None]  # x0 = 0, so x_t = sigma * noise
        channel_means = noise.mean(dim=(2, 3))  # per image and channel: N(0, 1/256 + offset^2)
        assert abs(float(channel_means.std()) - math.sqrt(1 / 256 + offset**2)) < 0.15 * (
            math.sqrt(1 / 256 + offset**2)
        )
        assert abs(float(loss) - float((noise**2).mean())) < 1e-5  # eps target = the noise
