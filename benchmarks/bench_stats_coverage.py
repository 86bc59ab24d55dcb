"""Coverage of preference intervals across seeded simulated studies with prompt heterogeneity.

Each study draws fresh prompts (per-prompt preference from a scaled Beta with mean TRUE_PREFERENCE
and SD PROMPT_SD, see ``drawbench.stats.simulate_preference_study``) and RATERS ratings per prompt;
the true preference is the population mean TRUE_PREFERENCE. For every method of
``compute_preference`` we count how often its 95% interval contains it.

    python benchmarks/bench_stats_coverage.py [--studies 1000] [--n-boot 1000]

Prints a human-readable line per method, then ONE JSON object as the final line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from drawbench.stats import (
    DEFAULT_BOOTSTRAP_ROUNDS,
    PREFERENCE_METHODS,
    compute_preference,
    simulate_preference_study,
)

#: The simulated design: 50 prompts x 5 raters, a real preference of 0.6 with prompts that differ
#: (SD 0.15 of per-prompt preference) and 20% "indifferent" answers.
N_PROMPTS = 50
RATERS = 5
TRUE_PREFERENCE = 0.6
PROMPT_SD = 0.15
TIE_SHARE = 0.2


def run_coverage(n_studies: int, n_boot: int, seed: int = 20240601) -> dict:
    """Simulate ``n_studies`` studies; return per-method coverage, mean width and the settings."""
    hits = dict.fromkeys(PREFERENCE_METHODS, 0)
    widths = dict.fromkeys(PREFERENCE_METHODS, 0.0)
    root = np.random.SeedSequence(seed)
    for child in root.spawn(n_studies):
        sim_rng, boot_rng = (np.random.default_rng(s) for s in child.spawn(2))
        scores, prompts, raters = simulate_preference_study(
            sim_rng,
            n_prompts=N_PROMPTS,
            raters_per_prompt=RATERS,
            preference=TRUE_PREFERENCE,
            prompt_sd=PROMPT_SD,
            tie_share=TIE_SHARE,
        )
        for method in PREFERENCE_METHODS:
            res = compute_preference(
                scores, prompts, raters, method=method, n_boot=n_boot, seed=boot_rng
            )
            hits[method] += res.ci_low <= TRUE_PREFERENCE <= res.ci_high
            widths[method] += res.ci_high - res.ci_low
    return {
        "studies": n_studies,
        "n_boot": n_boot,
        "seed": seed,
        "design": {
            "prompts": N_PROMPTS,
            "raters_per_prompt": RATERS,
            "true_preference": TRUE_PREFERENCE,
            "prompt_sd": PROMPT_SD,
            "tie_share": TIE_SHARE,
        },
        "coverage": {m: hits[m] / n_studies for m in PREFERENCE_METHODS},
        "mean_width": {m: widths[m] / n_studies for m in PREFERENCE_METHODS},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--n-boot", type=int, default=DEFAULT_BOOTSTRAP_ROUNDS)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = run_coverage(args.studies, args.n_boot, args.seed)
    result["seconds"] = round(time.perf_counter() - start, 2)
    for m in PREFERENCE_METHODS:
        print(
            f"{m:>20}: coverage {result['coverage'][m]:.3f}  mean width {result['mean_width'][m]:.4f}"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
