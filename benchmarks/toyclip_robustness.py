"""How the shipped toy CLIPs hold up on images that are not perfect renders (issue 8).

Generated images show nuisances renders never do (background level and tint, contrast shrunk by
dynamic thresholding, pixel noise). This scores every shipped toy CLIP on the same held-out scenes
twice, clean and through ``photometric_augment``, and prints top-1 of 32, the corruption figures
and the mean scores; the last line is one JSON object of every figure.

    python benchmarks/toyclip_robustness.py [--scenes 512] [--threads 1]
"""

from __future__ import annotations

import argparse
import json


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=512, help="held-out scenes (default 512)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch

    from evaluators.toyclip import SHIPPED_TOYCLIPS, load_toyclip, shipped_toyclip_dir
    from evaluators.toyclip_eval import evaluate_toyclip

    torch.set_num_threads(args.threads)
    out = {}
    for name in SHIPPED_TOYCLIPS:
        model, _ = load_toyclip(shipped_toyclip_dir(name))
        for mode in ("clean", "photometric"):
            f = evaluate_toyclip(model, n_scenes=args.scenes, photometric=mode == "photometric")
            out[f"{name}/{mode}"] = f
            kinds = " ".join(f"{k} {v:.3f}" for k, v in f["caption_wins"].items())
            print(f"{name:18s} {mode:11s} top-1 {f['top1_of_32']:.3f} match {f['score_match']:.1f} "
                  f"random {f['score_random']:.1f} | {kinds}")  # fmt: skip
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
