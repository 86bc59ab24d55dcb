"""Continuous-time Gaussian diffusion in log-SNR form: schedule, parameterisations, loss, samplers.

Notation (Kingma et al. 2021, as used by Imagen): ``x_t = alpha_t * x0 + sigma_t * eps`` with
``alpha_t**2 + sigma_t**2 = 1`` (variance preserving) and ``log_snr = log(alpha**2 / sigma**2)``,
so ``alpha**2 = sigmoid(log_snr)`` and ``sigma**2 = sigmoid(-log_snr)``. Time ``t`` runs from 0
(data) to 1 (noise). Images are ``[B, 3, H, W]`` float in ``[-1, 1]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

#: log-SNR range the cosine schedule is clamped to (|log_snr| <= 20, as imagen-pytorch), so that
#: t = 0 and t = 1 stay finite.
LOG_SNR_CLAMP = 20.0
SAMPLERS = ("ddpm", "ddim")


def cosine_log_snr(t: torch.Tensor) -> torch.Tensor:
    """Cosine schedule (Nichol & Dhariwal 2021, no offset) in log-SNR form.

    ``alpha_t = cos(pi t / 2)``, ``sigma_t = sin(pi t / 2)``, hence
    ``log_snr(t) = -2 * log(tan(pi t / 2))``, clamped to ``[-20, 20]``. ``t``: any shape, float in
    ``[0, 1]``; returns the same shape, float32.
    """
    half_pi_t = (
        math.pi * t.double() / 2
    )  # float64, and cos/sin apart: tan(pi/2) overflows sign in float32
    log_snr = 2.0 * (
        torch.log(torch.cos(half_pi_t).clamp(min=1e-30))
        - torch.log(torch.sin(half_pi_t).clamp(min=1e-30))
    )
    return log_snr.clamp(-LOG_SNR_CLAMP, LOG_SNR_CLAMP).float()


def alpha_sigma(log_snr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``alpha = sqrt(sigmoid(log_snr))``, ``sigma = sqrt(sigmoid(-log_snr))``; same shape as input,
    with ``alpha**2 + sigma**2 == 1``."""
    return torch.sigmoid(log_snr).sqrt(), torch.sigmoid(-log_snr).sqrt()


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)


def q_sample(x0: torch.Tensor, noise: torch.Tensor, log_snr: torch.Tensor) -> torch.Tensor:
    """Forward process ``x_t = alpha * x0 + sigma * noise``; ``log_snr`` ``[B]``, images ``[B, ...]``."""
    alpha, sigma = alpha_sigma(log_snr)
    return _bcast(alpha, x0) * x0 + _bcast(sigma, x0) * noise


def prediction_target(
    x0: torch.Tensor, noise: torch.Tensor, log_snr: torch.Tensor, prediction: str
) -> torch.Tensor:
    """What the network is trained to output: ``eps`` -> ``noise``; ``v`` -> ``alpha*noise - sigma*x0``
    (Salimans & Ho 2022)."""
    if prediction == "eps":
        return noise
    alpha, sigma = alpha_sigma(log_snr)
    return _bcast(alpha, x0) * noise - _bcast(sigma, x0) * x0


def predict_x0(
    model_out: torch.Tensor, x_t: torch.Tensor, log_snr: torch.Tensor, prediction: str
) -> torch.Tensor:
    """Network output -> estimate of ``x0``: ``eps``: ``(x_t - sigma*eps)/alpha``; ``v``:
    ``alpha*x_t - sigma*v``."""
    alpha, sigma = (_bcast(a, x_t) for a in alpha_sigma(log_snr))
    if prediction == "eps":
        return (x_t - sigma * model_out) / alpha
    return alpha * x_t - sigma * model_out


def diffusion_loss(model_out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Simple loss: mean squared error over every element (scalar float32)."""
    return torch.mean((model_out.float() - target.float()) ** 2)


def ddim_step(
    x_t: torch.Tensor, x0: torch.Tensor, log_snr_t: torch.Tensor, log_snr_s: torch.Tensor
) -> torch.Tensor:
    """Deterministic DDIM step t -> s < t (Song et al. 2021, eta = 0):
    ``eps = (x_t - alpha_t*x0)/sigma_t``; ``x_s = alpha_s*x0 + sigma_s*eps``."""
    alpha_t, sigma_t = alpha_sigma(log_snr_t)
    alpha_s, sigma_s = alpha_sigma(log_snr_s)
    eps = (x_t - alpha_t * x0) / sigma_t
    return alpha_s * x0 + sigma_s * eps


def ddpm_step(
    x_t: torch.Tensor,
    x0: torch.Tensor,
    log_snr_t: torch.Tensor,
    log_snr_s: torch.Tensor,
    noise: torch.Tensor,
) -> torch.Tensor:
    """Ancestral step t -> s < t: a draw from ``q(x_s | x_t, x0)``.

    With ``alpha_ts = alpha_t/alpha_s`` and ``sigma_ts^2 = sigma_t^2 - alpha_ts^2 sigma_s^2``:
    mean ``= alpha_ts sigma_s^2/sigma_t^2 * x_t + alpha_s sigma_ts^2/sigma_t^2 * x0``, variance
    ``= sigma_ts^2 sigma_s^2 / sigma_t^2``; ``x_s = mean + sqrt(variance) * noise``.
    """
    alpha_t, sigma_t = alpha_sigma(log_snr_t)
    alpha_s, sigma_s = alpha_sigma(log_snr_s)
    alpha_ts = alpha_t / alpha_s
    var_ts = (sigma_t**2 - alpha_ts**2 * sigma_s**2).clamp(min=0.0)
    mean = alpha_ts * sigma_s**2 / sigma_t**2 * x_t + alpha_s * var_ts / sigma_t**2 * x0
    return mean + (var_ts * sigma_s**2 / sigma_t**2).sqrt() * noise


def sample_loop(
    denoise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    draw_noise: Callable[[], torch.Tensor],
    steps: int,
    sampler: str = "ddpm",
) -> torch.Tensor:
    """Run a sampler over ``steps`` equal time steps from t = 1 to t = 0.

    ``denoise(x_t [B,3,H,W], log_snr [B]) -> x0`` returns the (guided, thresholded) data estimate;
    ``draw_noise() -> [B,3,H,W]`` standard normal noise (the caller decides the generators). The
    last step returns ``x0`` itself. Returns ``[B, 3, H, W]`` float in ``[-1, 1]`` when ``denoise``
    thresholds.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {SAMPLERS}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    x = draw_noise()
    times = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    for i in range(steps):
        log_snr_t = cosine_log_snr(times[i]).to(x.device)
        x0 = denoise(x, log_snr_t.expand(x.shape[0]))
        if i == steps - 1:
            return x0
        log_snr_s = cosine_log_snr(times[i + 1]).to(x.device)
        if sampler == "ddim":
            x = ddim_step(x, x0, log_snr_t, log_snr_s)
        else:
            x = ddpm_step(x, x0, log_snr_t, log_snr_s, draw_noise())
    raise AssertionError("unreachable")
