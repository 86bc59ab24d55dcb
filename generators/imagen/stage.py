"""One cascade stage: a U-Net plus its diffusion training loss and its guided sampler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from generators.imagen.augmentation import (
    DEFAULT_SAMPLE_AUG_LEVEL,
    noise_augment,
    resize_images,
    sample_train_aug_levels,
)
from generators.imagen.config import StageConfig
from generators.imagen.diffusion import (
    SAMPLERS,
    cosine_log_snr,
    diffusion_loss,
    predict_x0,
    prediction_target,
    q_sample,
    sample_loop,
)
from generators.imagen.efficient_unet import EfficientUNet
from generators.imagen.guidance import (
    DEFAULT_DYNAMIC_THRESHOLD_PERCENTILE,
    THRESHOLDS,
    apply_threshold,
    classifier_free_guidance,
)
from generators.imagen.unet import UNet

#: Sampling steps per stage when none are given (a speed/quality middle ground; the paper's
#: samplers used up to 1000 DDPM steps, imagen-pytorch defaults to 1000 too).
DEFAULT_SAMPLING_STEPS = 64
#: Classifier-free guidance weight when none is given (inside the 1-10 range the paper sweeps, Fig. 4).
DEFAULT_GUIDANCE_WEIGHT = 5.0


@dataclass(frozen=True)
class SamplingOptions:
    """How one stage is sampled: steps, sampler ("ddpm" | "ddim"), guidance weight w (1 = none),
    thresholding ("none" | "static" | "dynamic") with its percentile, and the noise-augmentation
    level of the conditioning image (super-resolution stages only)."""

    steps: int = DEFAULT_SAMPLING_STEPS
    sampler: str = "ddpm"
    guidance_weight: float = DEFAULT_GUIDANCE_WEIGHT
    threshold: str = "dynamic"
    percentile: float = DEFAULT_DYNAMIC_THRESHOLD_PERCENTILE
    aug_level: float = DEFAULT_SAMPLE_AUG_LEVEL

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.threshold not in THRESHOLDS:
            raise ValueError(f"threshold must be one of {THRESHOLDS}, got {self.threshold!r}")
        if int(self.steps) != self.steps or self.steps < 1:
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        if not 0.0 < self.percentile <= 1.0:
            raise ValueError(f"percentile must lie in (0, 1], got {self.percentile}")
        if not 0.0 <= self.aug_level <= 1.0:
            raise ValueError(f"aug_level must lie in [0, 1], got {self.aug_level}")


def create_unet(config: StageConfig, text_dim: int) -> nn.Module:
    """Build the stage's U-Net (random weights) from its config."""
    cls = UNet if config.unet.architecture == "base" else EfficientUNet
    return cls(config.unet, text_dim, super_resolution=config.is_super_resolution)


class ImagenStage(nn.Module):
    """A stage = config + U-Net. ``training_loss`` trains it; ``sample`` generates with it."""

    def __init__(self, config: StageConfig, text_dim: int, unet: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        self.text_dim = text_dim
        self.unet = unet if unet is not None else create_unet(config, text_dim)

    def training_loss(
        self,
        images: torch.Tensor,
        text: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Diffusion loss on a batch.

        ``images`` ``[B, 3, S, S]`` float in ``[-1, 1]`` at this stage's size; ``text``/``mask`` from
        the text encoder. Per sample: ``t ~ U(0, 1)``; caption dropped (mask all False) with
        probability ``cond_drop_prob``; for super-resolution, the conditioning image is the batch
        downsampled to ``low_res_size``, upsampled back and noise-augmented at ``a ~ U(0, a_max)``.
        With ``offset_noise`` > 0 the noise gets a per-image, per-channel constant of that
        standard deviation. Returns the scalar MSE between the network output and its eps/v target.
        """
        cfg, b, dev = self.config, images.shape[0], images.device

        def rand(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator, device=generator.device).to(dev)

        def randn_like(x: torch.Tensor) -> torch.Tensor:
            return torch.randn(x.shape, generator=generator, device=generator.device).to(
                dev, x.dtype
            )

        log_snr = cosine_log_snr(rand(b))
        keep = rand(b) >= cfg.cond_drop_prob
        mask = mask & keep[:, None]
        low_res = aug_log_snr = None
        if cfg.is_super_resolution:
            low = resize_images(resize_images(images, cfg.low_res_size), cfg.image_size)
            levels = sample_train_aug_levels(b, cfg.train_aug_level_max, generator, dev)
            low_res, aug_log_snr = noise_augment(low, levels, randn_like(low))
        noise = randn_like(images)
        if cfg.offset_noise:
            noise = noise + cfg.offset_noise * randn_like(images[:, :, :1, :1])
        x_t = q_sample(images, noise, log_snr)
        out = self.unet(x_t, log_snr, text, mask, low_res, aug_log_snr)
        return diffusion_loss(out, prediction_target(images, noise, log_snr, cfg.prediction))

    def guided_x0(
        self,
        x_t: torch.Tensor,
        log_snr: torch.Tensor,
        text: torch.Tensor,
        mask: torch.Tensor,
        options: SamplingOptions,
        low_res: torch.Tensor | None = None,
        aug_log_snr: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x0 estimate with classifier-free guidance (conditional and unconditional halves in one
        batch of 2B; skipped when w = 1) and thresholding. Shapes as in ``UNet.forward``."""
        pred = self.config.prediction
        if options.guidance_weight == 1.0:
            out = self.unet(x_t, log_snr, text, mask, low_res, aug_log_snr)
        else:

            def two(t: torch.Tensor | None) -> torch.Tensor | None:
                return None if t is None else torch.cat([t, t])

            both = self.unet(
                two(x_t),
                two(log_snr),
                two(text),
                torch.cat([mask, torch.zeros_like(mask)]),
                two(low_res),
                two(aug_log_snr),
            )
            cond, uncond = both.chunk(2)
            out = classifier_free_guidance(cond, uncond, options.guidance_weight)
        return apply_threshold(
            predict_x0(out, x_t, log_snr, pred), options.threshold, options.percentile
        )

    @torch.no_grad()
    def sample(
        self,
        text: torch.Tensor,
        mask: torch.Tensor,
        generators: list[torch.Generator],
        options: SamplingOptions,
        low_res: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Generate ``[B, 3, S, S]`` in ``[-1, 1]``. Image i's noise (initial, ancestral and
        augmentation) comes only from ``generators[i]`` (CPU), so it never depends on the batch
        (the arithmetic may, in the last bits: see ImagenGenerator.generate).
        ``low_res``: ``[B, 3, s, s]`` output of the previous stage (super-resolution only)."""
        cfg, dev = self.config, text.device
        size = cfg.image_size

        def draw(shape: tuple[int, ...]) -> Callable[[], torch.Tensor]:
            return lambda: torch.stack([torch.randn(shape, generator=g) for g in generators]).to(
                dev
            )

        aug_log_snr = None
        if cfg.is_super_resolution:
            if low_res is None:
                raise ValueError("a super-resolution stage needs the previous stage's images")
            up = resize_images(low_res, size)
            levels = torch.full((len(generators),), float(options.aug_level))
            low_res, aug_log_snr = noise_augment(up, levels, draw((3, size, size))())
        dtype = next(self.unet.parameters()).dtype

        def denoise(x_t: torch.Tensor, log_snr: torch.Tensor) -> torch.Tensor:
            return self.guided_x0(
                x_t, log_snr, text.to(dtype), mask, options, low_res, aug_log_snr
            ).float()

        return sample_loop(denoise, draw((3, size, size)), options.steps, options.sampler)
