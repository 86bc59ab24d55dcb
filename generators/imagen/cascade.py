"""The Imagen cascade: a frozen text encoder and a list of diffusion stages (base, then SR)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from generators.imagen import checkpoint
from generators.imagen.config import CascadeConfig
from generators.imagen.stage import ImagenStage, SamplingOptions
from generators.imagen.text_encoder import TextEncoder, load_text_encoder


class ImagenCascade(nn.Module):
    """``ImagenCascade(text_encoder, stages)``: injected components, no I/O.

    ``text_encoder`` follows :class:`TextEncoder` (it is not a submodule: it stays frozen and is
    never saved with the stages). ``stages[0]`` is the base model; stage k > 0 upsamples stage
    k-1's output.
    """

    def __init__(
        self,
        text_encoder: TextEncoder,
        stages: Sequence[ImagenStage],
        config: CascadeConfig | None = None,
    ) -> None:
        super().__init__()
        if not stages:
            raise ValueError("a cascade needs at least one stage")
        self.__dict__["text_encoder"] = text_encoder  # not registered as a submodule
        self.stages = nn.ModuleList(stages)
        self.config = config

    @classmethod
    def create(
        cls, config: CascadeConfig, text_encoder: TextEncoder, num_stages: int | None = None
    ) -> ImagenCascade:
        """Randomly initialised cascade of the first ``num_stages`` stages of ``config``."""
        k = len(config.stages) if num_stages is None else num_stages
        return cls(
            text_encoder, [ImagenStage(s, config.text_embed_dim) for s in config.stages[:k]], config
        )

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        text_encoder: TextEncoder | str | None = None,
        num_stages: int | None = None,
        device: str | torch.device = "cpu",
    ) -> ImagenCascade:
        """Load ``config.json`` and the EMA weights of the first ``num_stages`` stages (all by
        default) from a checkpoint folder. ``text_encoder``: an encoder object, a T5 name or
        folder, or None for the name in the config."""
        config = checkpoint.load_cascade_config(path)
        k = len(config.stages) if num_stages is None else num_stages
        if not 1 <= k <= len(config.stages):
            raise ValueError(
                f"num_stages must lie in [1, {len(config.stages)}] for {path}, got {k}"
            )
        for i in range(k):
            if not checkpoint.stage_weights_path(path, i).is_file():
                raise FileNotFoundError(
                    f"{checkpoint.stage_weights_path(path, i)} is missing: train stage {i} or ask for fewer stages"
                )
        if text_encoder is None or isinstance(text_encoder, str | Path):
            text_encoder = load_text_encoder(
                str(text_encoder or config.text_encoder),
                max_length=config.max_text_length,
                device=device,
            )
        if text_encoder.embed_dim != config.text_embed_dim:
            raise ValueError(
                f"text encoder width {text_encoder.embed_dim} != config text_embed_dim {config.text_embed_dim}"
            )
        cascade = cls.create(config, text_encoder, k).to(device)
        for i, stage in enumerate(cascade.stages):
            checkpoint.load_weights(stage.unet, checkpoint.stage_weights_path(path, i))
        return cascade.eval()

    def save_pretrained(self, path: str | Path) -> None:
        """Write ``config.json`` and every stage's weights (the current ones) as safetensors."""
        if self.config is None:
            raise ValueError("save_pretrained needs the cascade's config")
        checkpoint.save_config(path, self.config)
        for i, stage in enumerate(self.stages):
            checkpoint.save_weights(stage.unet, checkpoint.stage_weights_path(path, i))

    @torch.no_grad()
    def sample(
        self,
        prompts: list[str],
        seeds: list[int],
        options: Sequence[SamplingOptions] | None = None,
        num_stages: int | None = None,
    ) -> torch.Tensor:
        """Images for (prompt, seed) pairs through the first ``num_stages`` stages.

        Image i's noise comes from one CPU ``torch.Generator`` seeded with ``seeds[i]`` and used by
        every stage in turn, so an image depends only on (weights, options, prompt, seed).
        Returns ``[B, 3, S, S]`` float in ``[-1, 1]`` (S = last stage's size).
        """
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        k = len(self.stages) if num_stages is None else num_stages
        options = list(options) if options is not None else [SamplingOptions()] * k
        if len(options) < k:
            raise ValueError(f"need sampling options for {k} stages, got {len(options)}")
        device = next(self.parameters()).device
        text, mask = self.text_encoder.encode(prompts)
        text, mask = text.to(device), mask.to(device)
        generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        images = None
        for stage, opts in zip(list(self.stages)[:k], options, strict=False):
            images = stage.sample(text, mask, generators, opts, low_res=images)
        return images
