"""Parameter counts of a cascade config, computed on the meta device (nothing allocated)."""

from __future__ import annotations

import torch

from generators.imagen.config import CascadeConfig
from generators.imagen.stage import create_unet


def count_stage_parameters(config: CascadeConfig) -> list[int]:
    """Number of trainable parameters of each stage's U-Net (text encoder excluded)."""
    counts = []
    with torch.device("meta"):
        for stage in config.stages:
            counts.append(
                sum(p.numel() for p in create_unet(stage, config.text_embed_dim).parameters())
            )
    return counts
