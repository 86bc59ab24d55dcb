"""Image-caption folders of the toy world, for ``drawbench imagen train`` (issue 8).

``write_training_folder(folder, scenes, seed)`` renders ``scenes`` scenes of one split into
``folder/images/NNNNNN.png`` plus ``folder/captions.csv`` (columns ``file,caption``), the format
:mod:`generators.imagen.dataset` reads. Scene i is drawn with :func:`drawbench.toyworld.sample_scene`
from ``numpy.random.default_rng(seed)`` followed by its render seed from the same generator, so a
folder is a pure function of (scenes, seed, split, size) and a shorter folder is a prefix of a
longer one.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from drawbench.toyworld import SEED_HIGH, caption_of, sample_scene
from drawbench.toyworld_render import IMAGE_SIZE, render_scene

INFO_FILE = "toyworld.json"


def training_scenes(n: int, seed: int, split: str = "train"):
    """The first ``n`` (scene, render seed) pairs of the stream for ``(seed, split)``."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        scene = sample_scene(rng, split)
        out.append((scene, int(rng.integers(0, SEED_HIGH))))
    return out


def write_training_folder(
    folder: str | Path,
    scenes: int,
    seed: int = 0,
    split: str = "train",
    size: int = IMAGE_SIZE,
    progress: bool = False,
) -> Path:
    """Render ``scenes`` scenes into ``folder`` (created; existing files are overwritten).

    Raises ValueError for ``scenes < 1`` or an unknown split; returns the folder.
    """
    if scenes < 1:
        raise ValueError(f"scenes must be >= 1, got {scenes}")
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    rows = []
    pairs = training_scenes(scenes, seed, split)
    for i, (scene, render_seed) in enumerate(
        tqdm(pairs, desc="rendering", unit="img", disable=not progress)
    ):
        name = f"images/{i:06d}.png"
        render_scene(scene, render_seed, size).save(folder / name, compress_level=1)
        rows.append((name, caption_of(scene)))
    tmp = folder / "captions.csv.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "caption"])
        writer.writerows(rows)
    tmp.replace(folder / "captions.csv")
    info = {"world": "toyworld", "scenes": scenes, "seed": seed, "split": split, "size": size}
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return folder
