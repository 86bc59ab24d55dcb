"""Speed of the FID interval's bootstrap rounds: drawbench's sqrtm-free distance vs clean-fid's.

Every bootstrap round of ``bootstrap_frechet`` computes one Frechet distance between freshly merged
Gaussians. clean-fid's ``frechet_distance`` takes ``scipy.linalg.sqrtm`` of the non-symmetric product
of the two covariances; drawbench's rounds use ``frechet_distance_eigh`` (two symmetric
eigendecompositions, the same distance). This script runs the same paired bootstrap (the demo's
design: per-prompt groups for the run and for a prompt-matched reference) with each distance in
turn, at the toy FID's 128 dimensions and at Inception's 2,048, and reports seconds per round and
the largest relative difference of the interval bounds. Random Gaussian features (what is timed is
linear algebra; the values only have to be realistic in rank). The last line is one JSON object.

BLAS uses its default threads (every core).

    python benchmarks/bench_fid_bootstrap.py [--rounds-128 200] [--rounds-2048 3]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _groups(rng, prompts: int, per_prompt: int, dim: int, shift: float):
    from evaluators.fid_stats import FeatureStats

    mix = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    return [
        FeatureStats.from_features(rng.normal(shift, 1.0, size=(per_prompt, dim)) @ mix)
        for _ in range(prompts)
    ]


def _merge(groups):
    out = groups[0]
    for g in groups[1:]:
        out = out.merge(g)
    return out


def measure(dim: int, prompts: int, per_prompt: int, ref_per_prompt: int, rounds: int) -> dict:
    import evaluators.fid_stats as fs

    rng = np.random.default_rng(dim)
    run = _groups(rng, prompts, per_prompt, dim, 0.2)
    ref = _groups(rng, prompts, ref_per_prompt, dim, 0.0)
    a, b = _merge(run), _merge(ref)
    estimate = fs.frechet_distance(a.mean(), a.covariance(), b.mean(), b.covariance())
    out: dict[str, float | int] = {"dim": dim, "prompts": prompts, "rounds": rounds}
    intervals = {}
    for name, distance in (
        ("drawbench", fs.frechet_distance_eigh),
        ("cleanfid_sqrtm", fs.frechet_distance),
    ):
        t = time.perf_counter()
        intervals[name] = fs.bootstrap_frechet(
            run, None, None, estimate, rounds, seed=0, ref_groups=ref, distance=distance
        )
        out[f"{name}_s_per_round"] = round((time.perf_counter() - t) / rounds, 4)
    out["speedup"] = round(out["cleanfid_sqrtm_s_per_round"] / out["drawbench_s_per_round"], 2)
    out["interval_max_rel_diff"] = float(
        max(
            abs(x - y) / max(abs(y), 1e-12)
            for x, y in zip(intervals["drawbench"], intervals["cleanfid_sqrtm"], strict=True)
        )
    )
    out["fid"] = round(estimate, 4)
    out["interval"] = [round(v, 4) for v in intervals["drawbench"]]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds-128", type=int, default=200)
    p.add_argument("--rounds-2048", type=int, default=3, help="0 skips the 2,048-d case")
    args = p.parse_args(argv)
    import os

    # the toy FID in the demo: 66 prompts, 2 images each, 8 reference renders each
    results = [measure(128, 66, 2, 8, args.rounds_128)]
    if args.rounds_2048:
        # Inception's dimension; 24 prompts keep the per-prompt outer products (32 MB each, run
        # and reference) within a few GB: the time per round does not depend on the prompts
        results.append(measure(2048, 24, 100, 200, args.rounds_2048))
    for r in results:
        print(
            f"{r['dim']:>5}-d, {r['prompts']} prompts: clean-fid sqrtm "
            f"{r['cleanfid_sqrtm_s_per_round']} s/round, drawbench {r['drawbench_s_per_round']} "
            f"s/round ({r['speedup']}x); interval bounds differ by {r['interval_max_rel_diff']:.1e}"
        )
    print(json.dumps({"cpus": os.cpu_count(), "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
