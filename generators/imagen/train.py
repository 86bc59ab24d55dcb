"""Training one cascade stage on an image-caption folder (EMA, accumulation, bf16 on GPU, resume)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from generators.imagen import checkpoint
from generators.imagen.config import CascadeConfig
from generators.imagen.dataset import ImageCaptionDataset
from generators.imagen.stage import ImagenStage
from generators.imagen.text_encoder import TextEncoder

logger = logging.getLogger(__name__)

#: EMA decay of the sampling weights (Saharia et al. 2022, App. F: 0.9999).
DEFAULT_EMA_DECAY = 0.9999
#: Adam learning rate (Saharia et al. 2022, App. F: 1e-4 for the base model).
DEFAULT_LEARNING_RATE = 1e-4


@dataclass(frozen=True)
class TrainOptions:
    """Hyper-parameters of one training run. The effective batch is ``batch_size * grad_accum``.
    ``save_every``: steps between checkpoints (and always at the end)."""

    steps: int = 1000
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = DEFAULT_LEARNING_RATE
    ema_decay: float = DEFAULT_EMA_DECAY
    save_every: int = 500
    seed: int = 0
    device: str = "cpu"
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "grad_accum", "save_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")


def ema_decay_at(step: int, decay: float) -> float:
    """Warmed-up EMA decay ``min(decay, (1 + step) / (10 + step))`` so early averages are not
    dominated by the random initialisation."""
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * model`` for every parameter (buffers copied)."""
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p.detach(), 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers(), strict=True):
        e.copy_(b)


def _batches(
    dataset: ImageCaptionDataset, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, list[str]]]:
    while True:
        order = torch.randperm(len(dataset), generator=generator).tolist()
        for i in range(
            0, len(order) - batch_size + 1 if len(order) >= batch_size else 1, batch_size
        ):
            idx = order[i : i + batch_size]
            items = [dataset[j] for j in idx]
            yield torch.stack([x for x, _ in items]), [c for _, c in items]


def train_stage(
    config: CascadeConfig,
    stage_index: int,
    data_dir: str | Path,
    out_dir: str | Path,
    text_encoder: TextEncoder,
    options: TrainOptions,
    resume: bool = False,
) -> list[float]:
    """Train stage ``stage_index`` of ``config`` and write its checkpoint into ``out_dir``.

    Stage 0 learns 64px (``image_size``) images; an SR stage learns its size from pairs made of
    the same images (downsampled to ``low_res_size`` and upsampled back). Returns the loss of
    every optimizer step run here (mean over accumulation micro-batches).
    """
    if not 0 <= stage_index < len(config.stages):
        raise ValueError(f"stage must lie in [0, {len(config.stages) - 1}], got {stage_index}")
    if text_encoder.embed_dim != config.text_embed_dim:
        raise ValueError(
            f"text encoder width {text_encoder.embed_dim} != config text_embed_dim {config.text_embed_dim}"
        )
    device = torch.device(options.device)
    stage_cfg = config.stages[stage_index]
    dataset = ImageCaptionDataset(data_dir, stage_cfg.image_size)
    stage = ImagenStage(stage_cfg, config.text_embed_dim).to(device)
    ema = ImagenStage(stage_cfg, config.text_embed_dim).to(device).requires_grad_(False)
    ema.unet.load_state_dict(stage.unet.state_dict())
    optimizer = torch.optim.Adam(stage.parameters(), lr=options.lr)
    start = 0
    if resume and checkpoint.training_state_path(out_dir, stage_index).is_file():
        state = checkpoint.load_training_state(out_dir, stage_index, device)
        checkpoint.load_weights(
            stage.unet, checkpoint.stage_weights_path(out_dir, stage_index, train=True)
        )
        checkpoint.load_weights(ema.unet, checkpoint.stage_weights_path(out_dir, stage_index))
        optimizer.load_state_dict(state["optimizer"])
        start = int(state["step"])
        logger.info("resumed stage %d at step %d", stage_index, start)
    checkpoint.save_config(out_dir, config)
    gen = torch.Generator(device="cpu").manual_seed(options.seed * 1_000_003 + start)
    batches = _batches(dataset, min(options.batch_size, len(dataset)), gen)
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else torch.autocast("cpu", enabled=False)
    )
    losses: list[float] = []
    from tqdm.auto import tqdm

    bar = tqdm(
        range(start, options.steps),
        initial=start,
        total=options.steps,
        desc=f"stage {stage_index}",
        disable=not options.progress,
    )
    stage.train()
    for step in bar:
        total = 0.0
        for _ in range(options.grad_accum):
            images, captions = next(batches)
            text, mask = text_encoder.encode(captions)
            with autocast:
                loss = stage.training_loss(images.to(device), text.to(device), mask.to(device), gen)
            (loss / options.grad_accum).backward()
            total += loss.item() / options.grad_accum
        if not math.isfinite(total):
            raise FloatingPointError(
                f"stage {stage_index} step {step}: loss is {total}; lower --lr"
            )
        torch.nn.utils.clip_grad_norm_(stage.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        update_ema(ema, stage, ema_decay_at(step, options.ema_decay))
        losses.append(total)
        bar.set_postfix(loss=f"{total:.4f}")
        if (step + 1) % options.save_every == 0 or step + 1 == options.steps:
            _save(out_dir, stage_index, stage, ema, optimizer, step + 1)
    return losses


def _save(
    out_dir: str | Path,
    k: int,
    stage: ImagenStage,
    ema: ImagenStage,
    optimizer: torch.optim.Optimizer,
    step: int,
) -> None:
    checkpoint.save_weights(ema.unet, checkpoint.stage_weights_path(out_dir, k))
    checkpoint.save_weights(stage.unet, checkpoint.stage_weights_path(out_dir, k, train=True))
    checkpoint.save_training_state(out_dir, k, {"optimizer": optimizer.state_dict(), "step": step})
