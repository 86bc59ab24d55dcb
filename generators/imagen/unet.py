"""The base 64x64 U-Net of Imagen (Saharia et al. 2022, App. F; after Nichol & Dhariwal 2021).

Per level: ``num_res_blocks`` residual blocks, each followed by optional self-attention and text
cross-attention; a strided-conv downsample *after* the level (classic ordering, unlike the
Efficient U-Net). Conditioning: noise level (log-SNR) + pooled text through FiLM, text tokens
through cross-attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from generators.imagen.config import UNetConfig
from generators.imagen.layers import (
    AttentionBlock,
    Conditioner,
    Downsample,
    ResBlock,
    Upsample,
    group_count,
)


class UNet(nn.Module):
    """Base U-Net: ``forward(x, log_snr, text, mask)`` -> prediction of the same shape as ``x``.

    Args of forward: ``x`` ``[B, 3, H, W]`` float (noisy image); ``log_snr`` ``[B]`` float;
    ``text`` ``[B, L, text_dim]`` float; ``mask`` ``[B, L]`` bool. ``low_res``/``aug_log_snr``
    (``[B, 3, H, W]`` upsampled conditioning image and ``[B]``) are required when built with
    ``super_resolution=True``. Returns ``[B, 3, H, W]`` (eps or v, per the stage config).
    """

    def __init__(self, config: UNetConfig, text_dim: int, super_resolution: bool = False) -> None:
        super().__init__()
        cfg = config
        chans = cfg.level_channels()
        self.super_resolution = super_resolution
        self.conditioner = Conditioner(
            text_dim, cfg.context_dim, cfg.cond_dim, super_resolution, cfg.text_pooling
        )
        self.coord_channels = cfg.coord_channels
        in_channels = (6 if super_resolution else 3) + (2 if cfg.coord_channels else 0)
        self.conv_in = nn.Conv2d(in_channels, chans[0], 3, padding=1)

        def attn(c: int, level: int) -> AttentionBlock:
            return AttentionBlock(
                c,
                cfg.attention_heads,
                cfg.attention_head_dim,
                cfg.context_dim,
                cfg.self_attention[level],
                cfg.cross_attention[level],
            )

        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        prev = chans[0]
        for i, c in enumerate(chans):
            blocks = nn.ModuleList()
            for j in range(cfg.num_res_blocks[i]):
                blocks.append(
                    nn.ModuleList(
                        [ResBlock(prev if j == 0 else c, c, cfg.cond_dim, cfg.dropout), attn(c, i)]
                    )
                )
            self.down.append(blocks)
            self.downsample.append(Downsample(c, c) if i < len(chans) - 1 else nn.Identity())
            prev = c
        last = len(chans) - 1
        self.mid = nn.ModuleList(
            [
                ResBlock(prev, prev, cfg.cond_dim, cfg.dropout),
                attn(prev, last),
                ResBlock(prev, prev, cfg.cond_dim, cfg.dropout),
            ]
        )
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(chans))):
            c = chans[i]
            blocks = nn.ModuleList(
                [
                    nn.ModuleList([ResBlock(2 * c, c, cfg.cond_dim, cfg.dropout), attn(c, i)])
                    for _ in range(cfg.num_res_blocks[i])
                ]
            )
            self.up.append(blocks)
            self.upsample.append(Upsample(c, chans[i - 1]) if i > 0 else nn.Identity())
        self.norm_out = nn.GroupNorm(group_count(chans[0]), chans[0])
        self.conv_out = nn.Conv2d(chans[0], 3, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(
        self,
        x: torch.Tensor,
        log_snr: torch.Tensor,
        text: torch.Tensor,
        mask: torch.Tensor,
        low_res: torch.Tensor | None = None,
        aug_log_snr: torch.Tensor | None = None,
    ) -> torch.Tensor:
        cond, context = self.conditioner(log_snr, text, mask, aug_log_snr)
        inputs = [x, low_res] if self.super_resolution else [x]
        if self.coord_channels:
            inputs.append(coordinate_grid(x))
        h = self.conv_in(torch.cat(inputs, dim=1))
        skips = []
        for blocks, down in zip(self.down, self.downsample, strict=True):
            for res, attn in blocks:
                h = attn(res(h, cond), context, mask)
                skips.append(h)
            h = down(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, cond), context, mask), cond)
        for blocks, up in zip(self.up, self.upsample, strict=True):
            for res, attn in blocks:
                h = attn(res(torch.cat([h, skips.pop()], dim=1), cond), context, mask)
            h = up(h)
        return self.conv_out(F.silu(self.norm_out(h)))


def coordinate_grid(x: torch.Tensor) -> torch.Tensor:
    """``[B, 2, H, W]`` channels holding each pixel's x (channel 0, left -1 to right 1) and y
    (channel 1, top -1 to bottom 1), in ``x``'s dtype and device."""
    b, _, h, w = x.shape
    ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y]).expand(b, 2, h, w)
