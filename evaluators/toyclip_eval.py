"""Held-out figures of a toy CLIP (the TOYWORLD.md table), on freshly rendered scenes.

``evaluate_toyclip(model, n_scenes=2048, seed=EVAL_SEED)`` draws ``n_scenes`` scenes of the
held-out split (:func:`drawbench.toyworld.sample_scene`), renders each with a seed from the same
generator, and reports, with ``score(image, caption) = 100 * cos(E_img, E_txt)`` (*not* clamped at
0, unlike the project's CLIP score, so the random-pair mean can be negative as in TOYWORLD.md):

* ``top1_of_32``: share of images whose true caption scores strictly above 31 distractors, the
  captions of 31 other held-out meanings drawn without replacement (random surface forms);
* ``caption_wins[kind]``: share of images whose true caption scores strictly above a corrupted
  caption (:func:`drawbench.toyworld_corrupt.corrupt`), over the images the kind applies to;
  ``relation_flipped`` is reported as ``left_right_flip`` and ``above_below_flip``;
* ``render_wins[kind]``: for the true caption, share of cases where the true render scores
  strictly above the render of the corrupted scene with the same seed (what a text-to-image
  benchmark sees);
* ``score_match`` / ``score_random``: mean score of (image, true caption) and of (image, the
  caption of a uniformly drawn other meaning of the whole world).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from drawbench.images import pil_to_tensor
from drawbench.toyworld import (
    all_meanings,
    caption_of,
    converse,
    meaning_of,
    meanings,
    sample_scene,
)
from drawbench.toyworld_corrupt import CORRUPTIONS, corrupt, corruption_applies
from drawbench.toyworld_render import render_scene
from drawbench.toyworld_text import ToyTokenizer

__all__ = ["EVAL_SCENES", "EVAL_SEED", "compute_scores", "evaluate_toyclip"]

#: Held-out scenes per evaluation (TOYWORLD.md measured on 2,048) and the evaluation seed.
EVAL_SCENES = 2048
EVAL_SEED = 20240808
N_CANDIDATES = 32
SCORE_SCALE = 100.0


def compute_scores(image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """``100 * cos`` of every pair: ``[N, D] x [M, D] -> [N, M]`` float (no clamp)."""
    a = image_emb / image_emb.norm(dim=-1, keepdim=True)
    b = text_emb / text_emb.norm(dim=-1, keepdim=True)
    return SCORE_SCALE * a @ b.T


@torch.no_grad()
def _embed_images(
    model: nn.Module,
    images: list,
    batch_size: int,
    device: str,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    out = []
    for i in range(0, len(images), batch_size):
        x = pil_to_tensor(images[i : i + batch_size])
        x = augment(x) if augment is not None else x
        out.append(model.encode_image(x.to(device)).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def _embed_captions(
    model: nn.Module, captions: list[str], tokenizer: ToyTokenizer, device: str
) -> torch.Tensor:
    return model.encode_text(tokenizer(captions).to(device)).float().cpu()


def _kind_label(scene, kind: str) -> str:
    if kind != "relation_flipped":
        return kind
    return "left_right_flip" if scene.relation in ("left of", "right of") else "above_below_flip"


def evaluate_toyclip(
    model: nn.Module,
    n_scenes: int = EVAL_SCENES,
    seed: int = EVAL_SEED,
    split: str = "held_out",
    batch_size: int = 256,
    device: str = "cpu",
    renders: bool = True,
    photometric: bool = False,
) -> dict[str, Any]:
    """The figures of the module docstring as a JSON-ready dict (shares in [0, 1]).

    ``photometric=True`` measures robustness: every image (true and corrupted renders) first
    goes through :func:`evaluators.toyclip_train.photometric_augment` (its own seeded stream), the
    nuisances generated images show and renders never do.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    augment = None
    if photometric:
        from evaluators.toyclip_train import photometric_augment

        aug_rng = np.random.Generator(np.random.PCG64(seed + 1))

        def augment(x: torch.Tensor) -> torch.Tensor:
            return photometric_augment(x, aug_rng)

    tokenizer = ToyTokenizer(getattr(model, "context_length", 16))
    model = model.eval()
    scenes = [sample_scene(rng, split) for _ in range(n_scenes)]
    seeds = [int(s) for s in rng.integers(0, 2**63, size=n_scenes)]
    image_emb = _embed_images(
        model,
        [render_scene(s, k) for s, k in zip(scenes, seeds, strict=True)],
        batch_size,
        device,
        augment,
    )
    every_caption = sorted({caption_of(s) for m in all_meanings() for s in (m, converse(m))})
    column = {c: i for i, c in enumerate(every_caption)}
    text_emb = _embed_captions(model, every_caption, tokenizer, device)
    scores = compute_scores(image_emb, text_emb)  # [n_scenes, 1296]

    pool = meanings(split)
    everything = all_meanings()
    wins: dict[str, list[bool]] = defaultdict(list)
    top1, match, random_scores = [], [], []
    corrupted_renders: list[tuple[int, str, Any]] = []
    for i, scene in enumerate(scenes):
        truth = scores[i, column[caption_of(scene)]]
        match.append(float(truth))
        others = [m for m in pool if m != meaning_of(scene)]
        picks = rng.choice(len(others), size=min(N_CANDIDATES - 1, len(others)), replace=False)
        distractors = [others[int(j)] for j in picks]
        distractors = [converse(m) if rng.random() < 0.5 else m for m in distractors]
        top1.append(bool(all(truth > scores[i, column[caption_of(d)]] for d in distractors)))
        other = everything[int(rng.integers(len(everything)))]
        while other == meaning_of(scene):
            other = everything[int(rng.integers(len(everything)))]
        random_scores.append(float(scores[i, column[caption_of(other)]]))
        for kind in CORRUPTIONS:
            if corruption_applies(scene, kind):
                bad = corrupt(scene, kind, rng)
                wins[_kind_label(scene, kind)].append(
                    bool(truth > scores[i, column[caption_of(bad)]])
                )
                corrupted_renders.append((i, _kind_label(scene, kind), bad))

    result: dict[str, Any] = {
        "n_scenes": n_scenes,
        "split": split,
        "seed": seed,
        "top1_of_32": float(np.mean(top1)),
        "caption_wins": {k: float(np.mean(v)) for k, v in sorted(wins.items())},
        "caption_n": {k: len(v) for k, v in sorted(wins.items())},
        "score_match": float(np.mean(match)),
        "score_random": float(np.mean(random_scores)),
    }
    if renders:
        bad_emb = _embed_images(
            model,
            [render_scene(bad, seeds[i]) for i, _, bad in corrupted_renders],
            batch_size,
            device,
            augment,
        )
        true_text = _embed_captions(
            model, [caption_of(scenes[i]) for i, _, _ in corrupted_renders], tokenizer, device
        )
        good = compute_scores(image_emb[[i for i, _, _ in corrupted_renders]], true_text).diagonal()
        bad = compute_scores(bad_emb, true_text).diagonal()
        render_wins: dict[str, list[bool]] = defaultdict(list)
        for (_, label, _), g, b in zip(corrupted_renders, good, bad, strict=True):
            render_wins[label].append(bool(g > b))
        result["render_wins"] = {k: float(np.mean(v)) for k, v in sorted(render_wins.items())}
    return result
