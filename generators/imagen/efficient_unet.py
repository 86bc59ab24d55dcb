"""Efficient U-Net for Imagen's super-resolution stages (Saharia et al. 2022, Sec. 2.6, App. B).

Differences from the base U-Net, as in the paper:
* more residual blocks at lower resolutions (``num_res_blocks`` grows with depth in the configs);
* the skip connection of each level is scaled by ``1/sqrt(2)`` before it is concatenated;
* down blocks downsample *before* their convolutions, up blocks upsample *after* theirs;
* attention per level is configurable; the 256->1024 config has no self-attention at all, only
  text cross-attention at the lowest resolution.
The (noise-augmented, upsampled) low-resolution image is concatenated to the input as channels.
"""

from __future__ import annotations

import math

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

#: Scale applied to U-Net skip connections (Saharia et al. 2022, App. B: "scale skip connections by 1/sqrt(2)").
SKIP_SCALE = 1.0 / math.sqrt(2.0)


class EfficientUNet(nn.Module):
    """Efficient U-Net; same forward contract as :class:`generators.imagen.unet.UNet`.

    ``forward(x [B,3,H,W], log_snr [B], text [B,L,D], mask [B,L] bool, low_res [B,3,H,W],
    aug_log_snr [B])`` -> ``[B, 3, H, W]``. One skip per level, taken after the level's blocks.
    """

    def __init__(self, config: UNetConfig, text_dim: int, super_resolution: bool = True) -> None:
        super().__init__()
        cfg = config
        chans = cfg.level_channels()
        self.super_resolution = super_resolution
        self.conditioner = Conditioner(
            text_dim, cfg.context_dim, cfg.cond_dim, super_resolution, cfg.text_pooling
        )
        self.conv_in = nn.Conv2d(6 if super_resolution else 3, chans[0], 3, padding=1)

        def attn(c: int, level: int) -> AttentionBlock:
            return AttentionBlock(
                c,
                cfg.attention_heads,
                cfg.attention_head_dim,
                cfg.context_dim,
                cfg.self_attention[level],
                cfg.cross_attention[level],
            )

        def res_stack(c_first: int, c: int, n: int) -> nn.ModuleList:
            return nn.ModuleList(
                [ResBlock(c_first if j == 0 else c, c, cfg.cond_dim, cfg.dropout) for j in range(n)]
            )

        self.downsample, self.down, self.down_attn = (
            nn.ModuleList(),
            nn.ModuleList(),
            nn.ModuleList(),
        )
        for i, c in enumerate(chans):
            self.downsample.append(Downsample(chans[i - 1], c) if i > 0 else nn.Identity())
            self.down.append(res_stack(c, c, cfg.num_res_blocks[i]))
            self.down_attn.append(attn(c, i))
        last = len(chans) - 1
        self.mid = nn.ModuleList(
            [
                ResBlock(chans[-1], chans[-1], cfg.cond_dim),
                attn(chans[-1], last),
                ResBlock(chans[-1], chans[-1], cfg.cond_dim),
            ]
        )
        self.up, self.up_attn, self.upsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(chans))):
            c = chans[i]
            self.up.append(res_stack(2 * c, c, cfg.num_res_blocks[i]))
            self.up_attn.append(attn(c, i))
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
        h = self.conv_in(torch.cat([x, low_res], dim=1) if self.super_resolution else x)
        skips = []
        for down, blocks, attn in zip(self.downsample, self.down, self.down_attn, strict=True):
            h = down(h)  # downsample before the convolutions
            for res in blocks:
                h = res(h, cond)
            h = attn(h, context, mask)
            skips.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, cond), context, mask), cond)
        for blocks, attn, up in zip(self.up, self.up_attn, self.upsample, strict=True):
            h = torch.cat([h, skips.pop() * SKIP_SCALE], dim=1)
            for res in blocks:
                h = res(h, cond)
            h = up(attn(h, context, mask))  # upsample after the convolutions
        return self.conv_out(F.silu(self.norm_out(h)))
