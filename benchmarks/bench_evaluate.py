"""Benchmark: one-pass FID + CLIP evaluation against clean-fid's compute_fid plus a separate CLIP pass.

(a) drawbench: decode each image once (DataLoader workers apply clean-fid's resize and CLIP's
    transform), feed Inception and CLIP.
(b) peers: ``cleanfid.fid.compute_fid(run, reference, custom_feat_extractor=<same Inception>)``,
    then a separate CLIP pass that decodes the images again with open_clip's transform.

Same models (clean-fid's Inception-v3 and open_clip ViT-B-32, real weights when found through
drawbench's resolver, otherwise random weights: labelled in the output), same device, same
workers and batch size. Prints progress to stderr and one JSON line to stdout (last line).

    python benchmarks/bench_evaluate.py --images 200 --reference-images 50
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from drawbench.pipeline.evaluate import ImageItem, compute_reference, decode_pass, default_workers
from drawbench.prompts import load_prompt_set
from drawbench.runs import RunDirectory
from drawbench.weights import WeightsNotFoundError
from evaluators.clip_score import (
    clip_score_from_embeddings,
    create_clip_score,
    resolve_clip_weights,
)
from evaluators.fid import FidEvaluator, InceptionFeatures
from evaluators.inception import create_inception, resolve_inception_weights

CLIP_MODEL, CLIP_TAG = "ViT-B-32", "openai"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_images(folder: Path, n: int, seed: int, run: bool) -> list[ImageItem]:
    """``n`` 512x512 PNGs (smooth colour fields plus noise, like generator output)."""
    rng = np.random.default_rng(seed)
    prompts = load_prompt_set("drawbench").prompts
    rd = (
        RunDirectory.create(
            folder,
            {
                "generator": {"name": "bench"},
                "prompt_set": {"name": "drawbench"},
                "seed": seed,
                "images_per_prompt": 1,
            },
        )
        if run
        else None
    )
    items = []
    for i in range(n):
        low = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        img = np.asarray(Image.fromarray(low).resize((512, 512), Image.BICUBIC), dtype=np.int16)
        img = np.clip(img + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
        p = prompts[i % len(prompts)]
        if rd is not None:
            rec = rd.write_image(p.id, p.category, i // len(prompts), i, Image.fromarray(img), 0.0)
            path = folder / rec.path
        else:
            path = folder / f"{i:05d}.png"
            Image.fromarray(img).save(path)
        items.append(ImageItem(path, p.id, p.text, p.category))
    return items


def load_models(device: str):
    random = {}
    try:
        inc_w = resolve_inception_weights("clean", offline=True)
    except WeightsNotFoundError:
        inc_w, random["inception"] = None, True
    try:
        clip_w = resolve_clip_weights(CLIP_MODEL, CLIP_TAG, offline=True)
    except WeightsNotFoundError:
        clip_w, random["clip"] = None, True
    inception = create_inception("clean", device, inc_w, random_seed=0)
    clip = create_clip_score(
        CLIP_MODEL, CLIP_TAG, clip_w, device, random_seed=0, bootstrap_rounds=200
    )
    return inception, clip, random


def run_ours(items, ref_files, ref_root, inception, clip, batch, workers):
    clip.reset()
    features = InceptionFeatures(inception, "clean")
    t0 = time.perf_counter()
    ref = compute_reference(
        ref_files, ref_root, features, batch_size=batch, workers=workers, progress=False
    )
    log(f"(a) reference statistics: {time.perf_counter() - t0:.1f}s")
    fid = FidEvaluator(features, ref)
    t_pass = time.perf_counter()
    decode_pass(items, [fid, clip], batch, workers, progress=True, desc="(a) drawbench")
    t_pass = time.perf_counter() - t_pass
    value = fid.compute().value  # set-level: one sqrtm of a 2048x2048 matrix, whatever n
    scores = np.array([s for _, _, s in clip.scores])
    return time.perf_counter() - t0, value, scores, t_pass


class _ClipFiles(torch.utils.data.Dataset):
    def __init__(self, paths, transform):
        self.paths, self.transform = paths, transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.transform(Image.open(self.paths[i]).convert("RGB"))


def run_peers(items, run_images, ref_root, inception, clip, batch, workers, device):
    from cleanfid.fid import compute_fid

    t0 = time.perf_counter()
    value = compute_fid(
        str(run_images),
        str(ref_root),
        mode="clean",
        custom_feat_extractor=inception.model_fn,
        num_workers=workers,
        batch_size=batch,
        device=torch.device(device),
        verbose=False,
    )
    loader = torch.utils.data.DataLoader(
        _ClipFiles([it.path for it in items], clip.transform), batch_size=batch, num_workers=workers
    )
    tokens = clip.tokenizer([it.prompt for it in items]).to(device)
    img_emb = []
    with torch.no_grad():
        txt_emb = clip.model.encode_text(tokens).float().cpu()
        for x in loader:
            img_emb.append(clip.model.encode_image(x.to(device)).float().cpu())
    scores = clip_score_from_embeddings(torch.cat(img_emb), txt_emb)
    return time.perf_counter() - t0, value, scores


def model_bound(items, inception, clip, batch, device):
    """Seconds of the bare forwards on already-preprocessed inputs: Inception and the CLIP image
    tower for every image, and the CLIP text tower for the prompts of the run's images (CLIP score
    cannot be computed without it)."""
    from evaluators.inception import FidPreprocess

    fid_pre = FidPreprocess("clean")
    t_pre = time.perf_counter()
    inc_x = [fid_pre(Image.open(it.path).convert("RGB")) for it in items]
    clip_x = [clip.transform(Image.open(it.path).convert("RGB")) for it in items]
    decode_s = time.perf_counter() - t_pre
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(items), batch):
            inception(torch.stack(inc_x[i : i + batch]))
            clip.model.encode_image(torch.stack(clip_x[i : i + batch]).to(device))
        prompts = [it.prompt for it in items if it.prompt]
        for i in range(0, len(prompts), batch):
            clip.model.encode_text(clip.tokenizer(prompts[i : i + batch]).to(device))
    return time.perf_counter() - t0, decode_s


def warm_up(inception, clip, sizes: set[int], device: str) -> None:
    """One forward per model and batch size (oneDNN / cuDNN pick kernels on first use)."""
    with torch.no_grad():
        for b in sorted(sizes):
            inception(torch.rand(b, 3, 299, 299, device=device) * 255)
            clip.model.encode_image(torch.rand(b, 3, 224, 224, device=device))
            clip.model.encode_text(clip.tokenizer(["warm up"] * b).to(device))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--reference-images", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument(
        "--repeats", type=int, default=2, help="alternating (a)/(b) rounds; min is reported"
    )
    ap.add_argument("--workers", type=int, default=None, help="default: drawbench's for the device")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    if args.workers is None:
        args.workers = default_workers(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        log(f"writing {args.images} + {args.reference_images} 512x512 PNGs")
        items = make_images(tmp / "run", args.images, 0, run=True)
        (tmp / "ref").mkdir()
        ref_items = make_images(tmp / "ref", args.reference_images, 1, run=False)
        ref_files = [it.path for it in ref_items]
        inception, clip, random = load_models(args.device)
        log(f"models on {args.device}; random weights: {random or 'none'}")
        # first-call costs (kernel selection per batch shape) out of both timings
        sizes = {
            args.batch_size,
            args.images % args.batch_size,
            args.reference_images % args.batch_size,
        }
        warm_up(inception, clip, sizes - {0}, args.device)
        times_a, times_b, times_pass = [], [], []
        for _ in range(args.repeats):  # alternate (a) and (b); report the fastest of each
            t_a, fid_a, clip_a, t_pass = run_ours(
                items, ref_files, tmp / "ref", inception, clip, args.batch_size, args.workers
            )
            log(f"(a) {t_a:.1f}s FID {fid_a:.6f}")
            t_b, fid_b, clip_b = run_peers(
                items,
                tmp / "run" / "images",
                tmp / "ref",
                inception,
                clip,
                args.batch_size,
                args.workers,
                args.device,
            )
            log(f"(b) {t_b:.1f}s FID {fid_b:.6f}")
            times_a.append(t_a)
            times_pass.append(t_pass)
            times_b.append(t_b)
        t_a, t_b, t_pass = min(times_a), min(times_b), min(times_pass)
        all_items = items + ref_items
        t_model, t_decode = model_bound(all_items, inception, clip, args.batch_size, args.device)
        # the decode pass over the run's images alone, against the same models' bare forwards
        t_model_pass, _ = model_bound(items, inception, clip, args.batch_size, args.device)
    n_all = len(items) + len(ref_items)
    out = {
        "benchmark": "evaluate",
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "workers": args.workers,
        "batch_size": args.batch_size,
        "n_images": args.images,
        "n_reference_images": args.reference_images,
        "models": f"clean-fid Inception-v3 + open_clip {CLIP_MODEL}",
        "random_weights": random,
        "a_seconds": round(t_a, 3),
        "a_seconds_all": [round(t, 2) for t in times_a],
        "b_seconds_all": [round(t, 2) for t in times_b],
        "b_seconds": round(t_b, 3),
        "speedup_b_over_a": round(t_b / t_a, 3),
        "a_images_per_s": round(n_all / t_a, 3),
        "b_images_per_s": round(n_all / t_b, 3),
        "model_bound_images_per_s": round(n_all / t_model, 3),
        "a_fraction_of_model_bound": round(t_model / t_a, 3),
        "a_pass_images_per_s": round(len(items) / t_pass, 3),
        "model_bound_pass_images_per_s": round(len(items) / t_model_pass, 3),
        "a_pass_fraction_of_model_bound": round(t_model_pass / t_pass, 3),
        "decode_resize_seconds_1core": round(t_decode, 3),
        "decode_resize_share_of_a": round(t_decode / t_a, 3),
        "fid_a": fid_a,
        "fid_b": float(fid_b),
        "fid_rel_diff": abs(fid_a - fid_b) / max(abs(fid_b), 1e-300),
        "clip_max_abs_diff": float(np.max(np.abs(clip_a - clip_b))),
    }
    out["results_equal"] = out["fid_rel_diff"] < 1e-6 and out["clip_max_abs_diff"] < 1e-4
    print(json.dumps(out))


if __name__ == "__main__":
    main()
