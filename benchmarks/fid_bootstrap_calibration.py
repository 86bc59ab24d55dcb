"""Is the toy FID's interval as wide as FID really varies? Paired vs fixed-reference bootstrap.

The toy world lets us draw as many independent experiments as we like. Each experiment draws
``--prompts`` distinct toy meanings (any split), renders ``--images`` ground-truth images per prompt
as the "run" and ``--reference-images`` other renders per prompt as the reference (the demo's
layout), and computes the toy FID of run vs reference plus its 95% interval over prompts both ways
(:func:`evaluators.fid_stats.bootstrap_frechet`): reference held fixed, and paired (each round
resamples the same prompts in run and reference). Over ``--experiments`` experiments it prints how
much the FID itself moves (its 2.5-97.5% range: what an interval should be about as wide as) and
the mean width of each interval, and how often each interval holds the median FID of all
experiments. The run and the reference come from the same distribution here, so this calibrates
the interval of a model that is as good as the truth; the last line is one JSON object.

    python benchmarks/fid_bootstrap_calibration.py [--experiments 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time


def _features(feature_set, images):
    """The FID features of PIL images, exactly as ``drawbench evaluate`` computes them."""
    from evaluators.base import EvalBatch

    n = len(images)
    return feature_set.features(EvalBatch(images, [""] * n, [""] * n, [""] * n, {}))


def experiment(rng, feature_set, pool, args) -> dict:
    """One experiment: FID of fresh renders vs a fresh reference, with both intervals."""

    from drawbench.toyworld import SEED_HIGH
    from drawbench.toyworld_render import render_scene
    from evaluators.fid_stats import FeatureStats, bootstrap_frechet, frechet_distance

    chosen = [pool[int(i)] for i in rng.choice(len(pool), size=args.prompts, replace=False)]

    def groups(per_prompt: int) -> list:
        out = []
        for scene in chosen:
            seeds = rng.integers(0, SEED_HIGH, size=per_prompt)
            images = [render_scene(scene, int(s)) for s in seeds]
            out.append(FeatureStats.from_features(_features(feature_set, images)))
        return out

    run, ref_groups = groups(args.images), groups(args.reference_images)
    run_all, ref = run[0], ref_groups[0]
    for g in run[1:]:
        run_all = run_all.merge(g)
    for g in ref_groups[1:]:
        ref = ref.merge(g)
    fid = frechet_distance(run_all.mean(), run_all.covariance(), ref.mean(), ref.covariance())
    seed = int(rng.integers(2**31))
    fixed = bootstrap_frechet(run, ref.mean(), ref.covariance(), fid, args.rounds, seed)
    paired = bootstrap_frechet(
        run, ref.mean(), ref.covariance(), fid, args.rounds, seed, ref_groups=ref_groups
    )
    return {"fid": float(fid), "fixed": list(fixed), "paired": list(paired)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiments", type=int, default=30)
    p.add_argument("--prompts", type=int, default=66, help="prompts per experiment (demo: 66)")
    p.add_argument("--images", type=int, default=2, help="run images per prompt (demo: 2)")
    p.add_argument("--reference-images", type=int, default=8, help="per prompt (demo: 8)")
    p.add_argument("--rounds", type=int, default=300, help="bootstrap rounds")
    p.add_argument("--features", default="toyclip", help="toy CLIP whose features FID uses")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import numpy as np
    import torch

    from drawbench.toyworld import all_meanings, converse
    from evaluators.fid import create_fid_features

    torch.set_num_threads(args.threads)
    feature_set = create_fid_features(args.features)
    pool = list(all_meanings()) + [converse(m) for m in all_meanings() if m.relation]
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    results = []
    for k in range(args.experiments):
        r = experiment(rng, feature_set, pool, args)
        results.append(r)
        print(
            f"experiment {k + 1}/{args.experiments}: FID {r['fid']:.2f}  fixed "
            f"[{r['fixed'][0]:.2f}, {r['fixed'][1]:.2f}]  paired "
            f"[{r['paired'][0]:.2f}, {r['paired'][1]:.2f}]",
            flush=True,
        )
    fids = np.array([r["fid"] for r in results])
    lo, med, hi = np.quantile(fids, [0.025, 0.5, 0.975])
    summary = {
        "features": args.features,
        "experiments": args.experiments,
        "prompts": args.prompts,
        "images_per_prompt": args.images,
        "reference_images_per_prompt": args.reference_images,
        "rounds": args.rounds,
        "fid_median": round(float(med), 3),
        "fid_range_95": round(float(hi - lo), 3),
        "seconds": round(time.perf_counter() - start, 1),
    }
    for how in ("fixed", "paired"):
        widths = [r[how][1] - r[how][0] for r in results]
        holds = [r[how][0] <= med <= r[how][1] for r in results]
        summary[f"{how}_mean_width"] = round(float(np.mean(widths)), 3)
        summary[f"{how}_holds_median"] = round(float(np.mean(holds)), 3)
    print(
        f"FID over {args.experiments} experiments: median {med:.2f}, 95% of them within a range "
        f"of {hi - lo:.2f}; mean interval width: fixed {summary['fixed_mean_width']:.2f}, paired "
        f"{summary['paired_mean_width']:.2f}; interval holds the median FID: fixed "
        f"{summary['fixed_holds_median']:.2f}, paired {summary['paired_holds_median']:.2f}"
    )
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
