"""Building blocks shared by the base U-Net and the Efficient U-Net.

All image tensors are ``[B, C, H, W]`` float; ``cond`` is the per-sample conditioning vector
``[B, cond_dim]`` (noise level + pooled text [+ augmentation level]); ``context`` is the projected
text ``[B, L, context_dim]`` with its boolean mask ``[B, L]`` (True = real token).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def group_count(channels: int) -> int:
    """GroupNorm groups: 32 where the width allows (gcd with 32 otherwise)."""
    return math.gcd(32, channels)


def sinusoidal_embedding(x: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Transformer-style embedding of a real scalar per sample.

    ``x``: ``[B]`` float (here log-SNR values, any range). Returns ``[B, dim]`` float32:
    ``[sin(x * f_k), cos(x * f_k)]`` with ``f_k = max_period ** (-k / (dim/2))``, k < dim/2.
    """
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, device=x.device, dtype=torch.float32) / half
    )
    args = x.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class ScalarEmbedding(nn.Module):
    """log-SNR (or augmentation log-SNR) ``[B]`` -> ``[B, cond_dim]`` via sinusoids and an MLP."""

    def __init__(self, cond_dim: int, freq_dim: int = 256) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(
            nn.Linear(freq_dim, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim)
        )

    def forward(self, value: torch.Tensor) -> torch.Tensor:
        # log-SNR spans roughly [-20, 20]; scaling by 1/4 keeps the sinusoid phases well spread.
        return self.mlp(
            sinusoidal_embedding(value / 4.0, self.freq_dim).to(self.mlp[0].weight.dtype)
        )


class TextConditioning(nn.Module):
    """T5 token embeddings -> cross-attention context and a pooled conditioning vector.

    ``context = Linear(LayerNorm(text))`` ``[B, L, context_dim]``; ``pooled = Linear(masked mean of
    context)`` ``[B, cond_dim]`` (``pooling="mean"``) or ``Linear(context at the last real token)``
    (``pooling="last"``, for causal text encoders); a sample with no valid token (the
    unconditional half of classifier-free guidance) gets a learned null pooled vector instead.
    """

    def __init__(
        self, text_dim: int, context_dim: int, cond_dim: int, pooling: str = "mean"
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "last"):
            raise ValueError(f"text pooling must be 'mean' or 'last', got {pooling!r}")
        self.pooling = pooling
        self.norm = nn.LayerNorm(text_dim)
        self.proj = nn.Linear(text_dim, context_dim)
        self.to_pooled = nn.Linear(context_dim, cond_dim)
        self.null_pooled = nn.Parameter(torch.zeros(cond_dim))

    def forward(self, text: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        context = self.proj(self.norm(text))
        m = mask[..., None].to(context.dtype)
        count = m.sum(1)
        if self.pooling == "last":
            # index of the last True in each row (0 for an all-False row, replaced by null below)
            positions = torch.arange(mask.shape[1], device=mask.device)
            last = (mask.long() * positions).argmax(dim=1)
            pooled = self.to_pooled(context[torch.arange(context.shape[0]), last])
        else:
            pooled = self.to_pooled((context * m).sum(1) / count.clamp(min=1.0))
        pooled = torch.where(count > 0, pooled, self.null_pooled.to(pooled.dtype))
        return context, pooled


class ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv3x3, FiLM from ``cond`` (``h * (1 + scale) + shift``), GroupNorm-SiLU-
    Dropout-Conv3x3 (zero-initialised), plus a 1x1-projected residual. Shape ``[B, c_in, H, W]`` ->
    ``[B, c_out, H, W]``."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(group_count(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(cond_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(group_count(c_out), c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(F.silu(cond))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return h + self.skip(x)


class Attention(nn.Module):
    """Multi-head attention of image positions over themselves (self) or over text (cross).

    Queries come from ``GroupNorm(x)`` flattened to ``[B, H*W, C]``. Keys/values come from the
    same positions (self-attention) or from ``[null token; context]`` (cross-attention; the learned
    null token is always attendable, so a fully masked caption is well defined). The output is
    projected back and added to ``x`` (residual). Shape preserved.
    """

    def __init__(
        self, channels: int, heads: int, head_dim: int, context_dim: int | None = None
    ) -> None:
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.norm = nn.GroupNorm(group_count(channels), channels)
        self.to_q = nn.Linear(channels, inner, bias=False)
        kv_dim = channels if context_dim is None else context_dim
        self.to_kv = nn.Linear(kv_dim, 2 * inner, bias=False)
        self.null_context = (
            nn.Parameter(torch.randn(1, 1, context_dim) * 0.02) if context_dim else None
        )
        self.out = nn.Linear(inner, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape
        return t.view(b, n, self.heads, -1).transpose(1, 2)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, c, hgt, wid = x.shape
        h = self.norm(x).flatten(2).transpose(1, 2)
        attn_mask = None
        if self.null_context is not None:
            null = self.null_context.to(context.dtype).expand(b, -1, -1)
            source = torch.cat([null, context], dim=1)
            keep = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
            attn_mask = keep[:, None, None, :]
        else:
            source = h
        k, v = self.to_kv(source).chunk(2, dim=-1)
        q, k, v = self._split(self.to_q(h)), self._split(k), self._split(v)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        o = self.out(o.transpose(1, 2).reshape(b, hgt * wid, -1))
        return x + o.transpose(1, 2).view(b, c, hgt, wid)


class AttentionBlock(nn.Module):
    """Optional self-attention followed by optional text cross-attention (identity if neither)."""

    def __init__(
        self,
        channels: int,
        heads: int,
        head_dim: int,
        context_dim: int,
        self_attn: bool,
        cross_attn: bool,
    ) -> None:
        super().__init__()
        self.self_attn = Attention(channels, heads, head_dim) if self_attn else None
        self.cross_attn = Attention(channels, heads, head_dim, context_dim) if cross_attn else None

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.self_attn is not None:
            x = self.self_attn(x)
        if self.cross_attn is not None:
            x = self.cross_attn(x, context, mask)
        return x


class Downsample(nn.Module):
    """Strided 3x3 convolution: ``[B, c_in, H, W]`` -> ``[B, c_out, H/2, W/2]``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour x2 then 3x3 convolution: ``[B, c_in, H, W]`` -> ``[B, c_out, 2H, 2W]``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Conditioner(nn.Module):
    """Everything a U-Net is conditioned on, except the low-resolution image.

    ``cond = time(log_snr) + pooled(text) [+ aug(aug_log_snr)]`` ``[B, cond_dim]`` and the
    cross-attention ``context`` ``[B, L, context_dim]``. ``aug_log_snr`` is the log-SNR of the noise
    added to the low-resolution image (noise conditioning augmentation, super-resolution only).
    """

    def __init__(
        self,
        text_dim: int,
        context_dim: int,
        cond_dim: int,
        super_resolution: bool,
        text_pooling: str = "mean",
    ) -> None:
        super().__init__()
        self.time = ScalarEmbedding(cond_dim)
        self.text = TextConditioning(text_dim, context_dim, cond_dim, text_pooling)
        self.aug = ScalarEmbedding(cond_dim) if super_resolution else None

    def forward(
        self,
        log_snr: torch.Tensor,
        text: torch.Tensor,
        mask: torch.Tensor,
        aug_log_snr: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        context, pooled = self.text(text, mask)
        cond = self.time(log_snr) + pooled
        if self.aug is not None:
            if aug_log_snr is None:
                raise ValueError(
                    "a super-resolution U-Net needs aug_log_snr (the augmentation level)"
                )
            cond = cond + self.aug(aug_log_snr)
        return cond, context
