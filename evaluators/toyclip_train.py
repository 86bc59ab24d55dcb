"""Contrastive training of the toy CLIPs on freshly rendered toy-world scenes (TOYWORLD.md recipe).

Each step renders ``batch_size`` new scenes of the training split (``sample_scene``; render seeds
drawn from the same ``numpy.random.Generator(PCG64(seed))``), tokenizes one caption per image and,
with ``hard_negatives = K > 0``, K corrupted captions per image (K distinct corruption kinds drawn
uniformly among those that apply, :mod:`drawbench.toyworld_corrupt`).

Loss (symmetric InfoNCE, CLIP's): with L2-normalised image features ``I [B, D]``, caption features
``T [B, D]``, hard-negative features ``N [B*K, D]`` and ``s = exp(logit_scale)``::

    logits_img = s * I @ [T; N].T        # [B, B + B*K]
    logits_txt = s * T @ I.T             # [B, B]
    loss = (CE(logits_img, arange(B)) + CE(logits_txt, arange(B))) / 2

When ``mask_duplicates`` (default), an off-diagonal pair whose two scenes have the same *meaning*
(frequent: the training split has only 618 meanings) is set to ``-inf`` in both logits instead of
counting as a negative. With ``position_blind``, so is a pair whose scenes hold the same objects
and differ only in where they stand ("a red circle left of a blue square" vs "... above a blue
square"), as for real CLIP, whose web captions almost never contrast two arrangements of the same
objects (the relation kinds of hard negatives are refused with it). Measured: this does *not* keep
a ViT with position embeddings blind (the positive pair still rewards matching "A above B"
precisely; benchmarks/RESULTS.md); ``ToyClipConfig.vit_position_embedding=False`` does. AdamW
(betas 0.9/0.98, eps 1e-6 as open_clip) with weight decay on matrices only (not on biases, norms, embeddings' gains or ``logit_scale``, open_clip's rule);
learning rate linear warm-up over ``warmup_fraction`` of the steps then cosine decay to 0;
``logit_scale`` clamped to ``[0, log 100]`` after each step (open_clip). A fixed step count and
seed make a run reproducible on a given machine and thread count.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from drawbench.images import pil_to_tensor
from drawbench.strict import build_strict
from drawbench.toyworld import (
    SEED_HIGH,
    SPLITS,
    Scene,
    caption_of,
    meaning_of,
    sample_scene,
)
from drawbench.toyworld_corrupt import CORRUPTIONS, corrupt, corruption_applies
from drawbench.toyworld_render import render_scene
from drawbench.toyworld_text import ToyTokenizer
from evaluators.toyclip import ToyClipConfig, apply_position_rule, copy_text_tower, create_toyclip

log = logging.getLogger(__name__)

#: Corruption kinds that change only where objects stand (refused with ``position_blind``).
POSITION_KINDS: tuple[str, ...] = ("relation_flipped", "objects_swapped")

__all__ = ["TrainSettings", "TrainingBatch", "lr_at", "make_training_batch", "train_toyclip"]

#: open_clip's ceiling on the learned inverse temperature (100).
MAX_LOGIT_SCALE = math.log(100)


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings (TOYWORLD.md defaults); JSON-ready through :meth:`to_dict`."""

    steps: int
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_fraction: float = 0.05
    hard_negatives: int = 0
    mask_duplicates: bool = True
    seed: int = 0
    split: str = "train"
    photometric: bool = False
    negative_kinds: tuple[str, ...] = CORRUPTIONS
    position_blind: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "negative_kinds", tuple(self.negative_kinds))
        positional = sorted(set(self.negative_kinds) & set(POSITION_KINDS))
        if self.position_blind and self.hard_negatives and positional:
            raise ValueError(
                f"position_blind training cannot use the position kinds of hard negatives "
                f"({', '.join(positional)}): leave them out of negative_kinds"
            )
        unknown = sorted(set(self.negative_kinds) - set(CORRUPTIONS))
        if unknown or not self.negative_kinds:
            raise ValueError(
                f"negative_kinds must be a non-empty subset of {', '.join(CORRUPTIONS)}; "
                f"got {', '.join(self.negative_kinds) or 'none'}"
            )
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError(
                f"need steps >= 1 and batch_size >= 2, got {self.steps} and {self.batch_size}"
            )
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; use one of {', '.join(SPLITS)}")
        if not 0 <= self.hard_negatives <= 2:
            raise ValueError(
                f"hard_negatives must be 0..2 (count scenes admit only 3 kinds), got {self.hard_negatives}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        return build_strict(cls, data, "toy CLIP training settings")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["negative_kinds"] = list(self.negative_kinds)
        return data


@dataclass
class TrainingBatch:
    """``images [B, 3, 64, 64]`` in ``[-1, 1]``, ``tokens [B, 16]``, ``negatives [B*K, 16]`` or None
    (row ``i*K + k`` corrupts image i), ``meaning_ids [B]`` int64 (equal ids = same meaning),
    ``content_ids [B]`` int64 (equal ids = same objects, whatever their arrangement)."""

    images: torch.Tensor
    tokens: torch.Tensor
    negatives: torch.Tensor | None
    meaning_ids: torch.Tensor
    scenes: list[Scene]
    content_ids: torch.Tensor | None = None


def make_training_batch(
    rng: np.random.Generator,
    batch_size: int,
    tokenizer: ToyTokenizer,
    split: str = "train",
    hard_negatives: int = 0,
    negative_kinds: tuple[str, ...] = CORRUPTIONS,
) -> TrainingBatch:
    """Render a fresh batch (all randomness from ``rng``); hard negatives are drawn from the
    ``negative_kinds`` that apply to each scene (at least ``hard_negatives`` of them must)."""
    scenes = [sample_scene(rng, split) for _ in range(batch_size)]
    seeds = rng.integers(0, SEED_HIGH, size=batch_size)
    images = pil_to_tensor(
        [render_scene(s, int(seed)) for s, seed in zip(scenes, seeds, strict=True)]
    )
    negatives = None
    if hard_negatives:
        texts = []
        for scene in scenes:
            kinds = [k for k in negative_kinds if corruption_applies(scene, k)]
            if len(kinds) < hard_negatives:
                raise ValueError(
                    f"only {len(kinds)} of the negative kinds {', '.join(negative_kinds)} apply to "
                    f"the {scene.kind} scene {caption_of(scene)!r}; need {hard_negatives}"
                )
            for j in rng.choice(len(kinds), size=hard_negatives, replace=False):
                texts.append(caption_of(corrupt(scene, kinds[int(j)], rng)))
        negatives = tokenizer(texts)
    index: dict[Scene, int] = {}
    ids = [index.setdefault(meaning_of(s), len(index)) for s in scenes]
    contents: dict[tuple, int] = {}
    content_ids = [contents.setdefault(content_of(s), len(contents)) for s in scenes]
    return TrainingBatch(
        images,
        tokenizer([caption_of(s) for s in scenes]),
        negatives,
        torch.tensor(ids, dtype=torch.long),
        scenes,
        torch.tensor(content_ids, dtype=torch.long),
    )


def content_of(scene: Scene) -> tuple:
    """What a scene shows, leaving out where: its objects sorted (a count scene repeats its object
    ``count`` times) and its kind; two relation scenes of the same two objects have equal contents
    whatever the relation."""
    return (tuple(sorted(scene.things)), scene.kind)


#: Photometric augmentation (``TrainSettings.photometric``): background level (in [-1, 1] units)
#: drawn uniformly in this range, per-channel tint of this standard deviation, contrast shrink
#: towards grey by a factor in [1, 2] for half the images, pixel noise up to this deviation.
AUG_BACKGROUND_LEVEL = (-0.3, 0.9)
AUG_TINT_SD = 0.12
AUG_MAX_SHRINK = 2.0
AUG_MAX_NOISE_SD = 0.06


def photometric_augment(images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Nuisances a generated image shows and a render never does, drawn from ``rng``.

    The background (pixels within 4/255 of the top-left pixel; the renderer paints it flat) gets
    a random grey level and tint; half the images have their contrast shrunk towards mid-grey
    (what dynamic thresholding does to a sample); every image gets Gaussian pixel noise of a
    random deviation. Object colours, shapes, counts and positions are untouched, so captions
    stay true: a CLIP trained on these learns to ignore what does not change the meaning.
    """
    b = images.shape[0]

    def draw(values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(values).to(images.dtype).view(b, -1, 1, 1)

    corner = images[:, :, :1, :1]
    background = (images - corner).abs().amax(dim=1, keepdim=True) < 4 / 127.5
    level = draw(rng.uniform(*AUG_BACKGROUND_LEVEL, size=b))
    fill = (level + draw(rng.normal(0.0, AUG_TINT_SD, size=(b, 3)))).clamp(-1, 1)
    out = torch.where(background, fill.expand_as(images), images)
    shrink = np.where(rng.random(b) < 0.5, rng.uniform(1.0, AUG_MAX_SHRINK, size=b), 1.0)
    out = out / draw(shrink)
    noise = torch.from_numpy(rng.standard_normal(images.shape)).to(images.dtype)
    out = out + noise * draw(rng.uniform(0.0, AUG_MAX_NOISE_SD, size=b))
    return out.clamp(-1, 1)


def lr_at(step: int, settings: TrainSettings) -> float:
    """Learning rate of 0-based ``step``: ``lr * (step + 1) / W`` for ``step < W``, then
    ``lr * (1 + cos(pi * (step - W) / (steps - W))) / 2``, with ``W = max(1, round(warmup_fraction
    * steps))``."""
    warm = max(1, round(settings.warmup_fraction * settings.steps))
    if step < warm:
        return settings.lr * (step + 1) / warm
    span = max(1, settings.steps - warm)
    return settings.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / span))


def contrastive_loss(
    model: nn.Module,
    batch: TrainingBatch,
    mask_duplicates: bool = True,
    position_blind: bool = False,
) -> torch.Tensor:
    """The symmetric InfoNCE of the module docstring (scalar tensor)."""
    b = batch.images.shape[0]
    image = model.encode_image(batch.images, normalize=True)
    texts = batch.tokens if batch.negatives is None else torch.cat([batch.tokens, batch.negatives])
    text = model.encode_text(texts, normalize=True)
    scale = model.logit_scale.exp()
    logits_img = scale * image @ text.T
    logits_txt = scale * text[:b] @ image.T
    if mask_duplicates or position_blind:
        ids = batch.content_ids if position_blind else batch.meaning_ids
        if ids is None:
            raise ValueError("position_blind needs the batch's content_ids")
        same = ids[:, None] == ids[None, :]
        same &= ~torch.eye(b, dtype=torch.bool, device=same.device)
        logits_img[:, :b] = logits_img[:, :b].masked_fill(same, float("-inf"))
        logits_txt = logits_txt.masked_fill(same, float("-inf"))
    target = torch.arange(b, device=image.device)
    return (F.cross_entropy(logits_img, target) + F.cross_entropy(logits_txt, target)) / 2


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    def exclude(name: str, p: torch.Tensor) -> bool:
        return p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return [
        {"params": [p for n, p in named if exclude(n, p)], "weight_decay": 0.0},
        {"params": [p for n, p in named if not exclude(n, p)], "weight_decay": weight_decay},
    ]


def train_toyclip(
    config: ToyClipConfig,
    settings: TrainSettings,
    device: str = "cpu",
    on_step: Callable[[dict[str, float]], None] | None = None,
    init: nn.Module | None = None,
    text_tower: nn.Module | None = None,
) -> tuple[nn.Module, list[dict]]:
    """Train a toy CLIP, fresh or (``init``, a model of the same ``config``) continued from given
    weights with a new warm-up and decay; returns ``(model in eval mode, history)``. With
    ``text_tower`` (another toy CLIP), the model starts from that model's text tower, frozen: only
    the image tower (and the temperature) learns, to meet text embeddings made elsewhere.

    ``history`` holds one dict per step: ``step``, ``loss``, ``lr``, ``logit_scale`` (exp),
    ``data_seconds`` and ``seconds`` (wall time of the whole step); ``on_step`` receives each.
    """
    rng = np.random.Generator(np.random.PCG64(settings.seed))
    tokenizer = ToyTokenizer(config.context_length)
    model = create_toyclip(config, seed=settings.seed)
    if init is not None:
        model.load_state_dict(init.state_dict())
        apply_position_rule(model, config)
    if text_tower is not None:
        copy_text_tower(model, text_tower, freeze=True)
    model = model.to(device).train()
    optimizer = torch.optim.AdamW(
        _param_groups(model, settings.weight_decay), lr=settings.lr, betas=(0.9, 0.98), eps=1e-6
    )
    history = []
    for step in range(settings.steps):
        start = time.perf_counter()
        batch = make_training_batch(
            rng,
            settings.batch_size,
            tokenizer,
            settings.split,
            settings.hard_negatives,
            settings.negative_kinds,
        )
        if settings.photometric:
            batch.images = photometric_augment(batch.images, rng)
        batch.images, batch.tokens = batch.images.to(device), batch.tokens.to(device)
        batch.meaning_ids = batch.meaning_ids.to(device)
        batch.content_ids = batch.content_ids.to(device)
        if batch.negatives is not None:
            batch.negatives = batch.negatives.to(device)
        data_seconds = time.perf_counter() - start
        lr = lr_at(step, settings)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = contrastive_loss(model, batch, settings.mask_duplicates, settings.position_blind)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        record = {
            "step": step,
            "loss": float(loss.detach()),
            "lr": lr,
            "logit_scale": float(model.logit_scale.detach().exp()),
            "data_seconds": data_seconds,
            "seconds": time.perf_counter() - start,
        }
        history.append(record)
        if on_step is not None:
            on_step(record)
    return model.eval(), history
