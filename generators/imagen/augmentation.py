"""Noise conditioning augmentation for the super-resolution stages (Saharia et al. 2022, Sec. 2.5).

The low-resolution conditioning image is upsampled to the stage's size, then corrupted with the
forward process at an augmentation level ``a`` in ``[0, 1]`` (a time of the same cosine
schedule): ``z = alpha_a * x_low + sigma_a * eps``. The network receives ``log_snr(a)`` as an extra
conditioning signal. Training draws ``a ~ U(0, a_max)`` per sample; sampling uses a fixed level.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from generators.imagen.diffusion import cosine_log_snr, q_sample

#: Augmentation level used at sampling time (imagen-pytorch's ``lowres_sample_noise_level``;
#: the paper tunes the sampling-time level per stage, Sec. 2.5).
DEFAULT_SAMPLE_AUG_LEVEL = 0.2


def resize_images(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``[B, 3, h, w]`` float in ``[-1, 1]`` to ``[B, 3, size, size]``: bilinear with
    antialiasing when shrinking, bilinear when enlarging; clamped to ``[-1, 1]``."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    shrink = size < x.shape[-1]
    out = F.interpolate(
        x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink
    )
    return out.clamp(-1.0, 1.0)


def noise_augment(
    low_res: torch.Tensor, level: torch.Tensor, noise: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt the (already upsampled) conditioning image at per-sample levels.

    ``low_res`` ``[B, 3, H, W]`` in ``[-1, 1]``; ``level`` ``[B]`` in ``[0, 1]``; ``noise`` like
    ``low_res``. Returns ``(alpha_a * low_res + sigma_a * noise, log_snr(a))``; level 0 gives the
    input (up to alpha = sqrt(sigmoid(20)) ~ 1 - 1e-9).
    """
    aug_log_snr = cosine_log_snr(level).to(low_res.device)
    return q_sample(low_res, noise, aug_log_snr), aug_log_snr


def sample_train_aug_levels(
    batch: int, max_level: float, generator: torch.Generator, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Training augmentation levels ``a ~ U(0, max_level)``, ``[batch]`` float32."""
    return torch.rand(batch, generator=generator, device=generator.device).to(device) * max_level
