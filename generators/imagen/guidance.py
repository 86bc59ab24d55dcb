"""Classifier-free guidance and thresholding of the x0 estimate (Saharia et al. 2022, Sec. 2.2-2.3)."""

from __future__ import annotations

import torch

#: Dynamic-thresholding percentile p (Saharia et al. 2022, Sec. 2.3 "dynamic thresholding"; 99.5%
#: is the value used for Imagen's samples). Note: imagen-pytorch's default is 0.95.
DEFAULT_DYNAMIC_THRESHOLD_PERCENTILE = 0.995
THRESHOLDS = ("none", "static", "dynamic")


def classifier_free_guidance(
    pred_cond: torch.Tensor, pred_uncond: torch.Tensor, weight: float
) -> torch.Tensor:
    """Guided prediction ``pred_uncond + w * (pred_cond - pred_uncond)``.

    This is the paper's convention (Sec. 2.2: ``eps~ = w * eps(z, c) + (1 - w) * eps(z)``): ``w = 1``
    is no guidance and returns ``pred_cond`` exactly (not recomputed, so bit-identical);
    ``w = 0`` is unconditional. Linear, so it applies equally to eps, v or x0 predictions. Tensors
    of any equal shape.
    """
    if weight == 1.0:
        return pred_cond
    return pred_uncond + weight * (pred_cond - pred_uncond)


def static_threshold(x0: torch.Tensor) -> torch.Tensor:
    """Static thresholding: ``clip(x0, -1, 1)`` elementwise."""
    return x0.clamp(-1.0, 1.0)


def dynamic_threshold(
    x0: torch.Tensor, percentile: float = DEFAULT_DYNAMIC_THRESHOLD_PERCENTILE
) -> torch.Tensor:
    """Dynamic thresholding, per sample.

    ``s = max(quantile_p(|x0|), 1)`` over all elements of the sample (``torch.quantile``, linear
    interpolation), then ``x0 <- clip(x0, -s, s) / s``. ``x0``: ``[B, ...]`` float, any range;
    returns the same shape in ``[-1, 1]``; a sample whose p-quantile of ``|x0|`` is ``<= 1`` is
    only clipped to ``[-1, 1]`` (identity where already inside).
    """
    if not 0.0 < percentile <= 1.0:
        raise ValueError(f"percentile must lie in (0, 1], got {percentile}")
    flat = x0.detach().abs().flatten(1).float()
    s = torch.quantile(flat, percentile, dim=1).clamp(min=1.0).to(x0.dtype)
    s = s.view(-1, *([1] * (x0.dim() - 1)))
    return torch.maximum(torch.minimum(x0, s), -s) / s


def apply_threshold(
    x0: torch.Tensor, mode: str, percentile: float = DEFAULT_DYNAMIC_THRESHOLD_PERCENTILE
) -> torch.Tensor:
    """Apply ``mode`` in ``("none", "static", "dynamic")`` to an x0 estimate."""
    if mode == "static":
        return static_threshold(x0)
    if mode == "dynamic":
        return dynamic_threshold(x0, percentile)
    if mode == "none":
        return x0
    raise ValueError(f"unknown threshold {mode!r}; choose one of {THRESHOLDS}")
