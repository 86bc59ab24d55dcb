"""Which count does each shipped toy CLIP read off a count scene, on seen and unseen combinations?

For freshly rendered count scenes ("three green triangles") of the train split and of the held-out
split (colour-shape-count combinations never trained on), every model scores the image against the
four captions that differ only in the count ("a green triangle" ... "four green triangles"). Count
accuracy = share of images whose own count scores highest, per true count. A model that reads the
image right but whose text side has not learnt to compose an unseen combination scores well on the
train split and badly on the held-out one; the render-side figure of train_toyclip.py (the true
render beats a render with another count, for a fixed caption) cannot show this. The last line is
one JSON object of the figures.

    python benchmarks/toyclip_counts.py [--scenes 600] [--threads 1]
"""

from __future__ import annotations

import argparse
import json

#: Scene stream seed (not the training seeds, not train_toyclip.py's evaluation seed).
SEED = 7
MAX_COUNT = 4


def count_accuracy(model, n_scenes: int, split: str, seed: int = SEED) -> dict[str, float | int]:
    """Count accuracy of ``model`` (a :class:`~evaluators.toyclip_judge.ToyClipJudge`) on
    ``n_scenes`` count scenes of ``split``: ``{"all": ..., "1": ..., "n_1": ..., ...}`` per true
    count (keys as strings; a count with no scene is left out)."""
    import dataclasses

    import numpy as np

    from drawbench.toyworld import caption_of, sample_scene
    from drawbench.toyworld_render import render_scene

    rng = np.random.default_rng(seed)
    scenes = []
    while len(scenes) < n_scenes:
        scene = sample_scene(rng, split)
        if scene.kind == "count":
            scenes.append(scene)
    images = [render_scene(s, int(rng.integers(1 << 30))) for s in scenes]
    image_emb = model.embed_pil(images)
    captions = [
        caption_of(dataclasses.replace(s, count=k)) for s in scenes for k in range(1, MAX_COUNT + 1)
    ]
    text_emb = model.embed_texts(captions).view(len(scenes), MAX_COUNT, -1)
    read = (text_emb @ image_emb[:, :, None]).squeeze(-1).argmax(dim=1) + 1
    truth = np.array([s.count for s in scenes])
    right = read.cpu().numpy() == truth
    out: dict[str, float | int] = {"all": round(float(right.mean()), 3), "n": len(scenes)}
    for k in range(1, MAX_COUNT + 1):
        if (truth == k).any():
            out[str(k)] = round(float(right[truth == k].mean()), 3)
            out[f"n_{k}"] = int((truth == k).sum())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=600, help="count scenes per split (default 600)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--models", default=None, help="comma-separated toy CLIP names (default: every shipped one)"
    )
    args = p.parse_args(argv)
    import torch

    from evaluators.toyclip import SHIPPED_TOYCLIPS
    from evaluators.toyclip_judge import ToyClipJudge

    torch.set_num_threads(args.threads)
    names = args.models.split(",") if args.models else list(SHIPPED_TOYCLIPS)
    figures = {}
    for name in names:
        model = ToyClipJudge.load(name)
        figures[name] = {
            split: count_accuracy(model, args.scenes, split) for split in ("train", "held_out")
        }
        for split, f in figures[name].items():
            per = "  ".join(
                f"{k}: {f[str(k)]:.3f} (n={f[f'n_{k}']})" for k in range(1, 5) if str(k) in f
            )
            print(f"{name:18s} {split:8s} count accuracy {f['all']:.3f}   {per}")
    print(json.dumps({"scenes_per_split": args.scenes, "seed": SEED, "count_accuracy": figures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
