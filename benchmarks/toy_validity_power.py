"""How many images per prompt does the demo's validity check need to part ground truth from the
trained toy cascade? Measured, not assumed.

Generates (resumable, into ``--out``) the ground truth (``toyworld``) and the trained cascade
(``imagen-toy``) on the demo's held-out prompts with ``--images`` images per prompt and the demo's
seed, so samples 0-3 are the demo's own images (it makes 4 per prompt). Every image is scored with the demo's
CLIP-score model (toyclip-vit; CLIP score = 100 * max(cos, 0), as ``drawbench evaluate``). Then,
for k = 2, 4, ... images per prompt (each prompt's first k samples), at full size (66 prompts) and
at the CI test's reduced size (``--reduced`` prompts per category), per scope (overall and the four
categories) as the demo's validity check does:

- each run's mean CLIP score and its 95% interval (bootstrap over prompts, 1000 rounds, seed 0,
  as metrics.json), and whether ground truth's interval lies wholly above the cascade's;
- the paired difference ground truth - cascade over the same prompts and its 95% interval (paired
  bootstrap over prompts, as validity.json), and whether it lies wholly above 0.

More images narrow only the within-prompt part of an interval; what prompts themselves spread (the
CLIP model reads some captions higher than others; the cascade fails some prompts more often) stays.
The last line printed is one JSON object of the figures.

    python benchmarks/toy_validity_power.py [--out toy-validity-power] [--images 8] [--reduced 6]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RUNS = {"ground-truth": ("toyworld", {}), "imagen-toy": ("imagen-toy", {})}
SCOPES = ("overall", "Colors", "Counting", "Positional", "Composition")
N_BOOT = 1000


def per_image_scores(
    run_dir: Path, model: str = "toyclip-vit"
) -> list[tuple[str, str, int, float]]:
    """(prompt id, category, sample, CLIP score) of every image of a run, in manifest order.
    The scores come through the judge's loader (same model, same embeddings as the CLIP-score
    evaluator); its warning that a ViT judges relations poorly does not apply here."""
    import logging

    from drawbench.runs import RunDirectory
    from drawbench.toyworld import load_toyworld_prompts
    from evaluators.toyclip_judge import ToyClipJudge

    text = {p.id: p.text for p in load_toyworld_prompts()}
    records = RunDirectory.open(run_dir).read_manifest().records
    logging.getLogger("evaluators.toyclip_judge").setLevel(logging.ERROR)
    judge = ToyClipJudge.load(model)
    images = judge.embed_images([run_dir / r.path for r in records])
    texts = judge.embed_texts([text[r.prompt_id] for r in records])
    scores = (100 * (images * texts).sum(dim=1)).clamp(min=0).tolist()
    return [(r.prompt_id, r.category, r.sample, s) for r, s in zip(records, scores, strict=True)]


def _interval(values, index, seed: int = 0) -> tuple[float, float]:
    import numpy as np

    from drawbench.stats.preference import bootstrap_prompt_means

    boot = bootstrap_prompt_means(values, index, N_BOOT, np.random.default_rng(seed))
    low, high = np.quantile(boot, [0.025, 0.975])
    return float(low), float(high)


def compare(truth, cascade, k: int, scope: str, keep: set[str] | None) -> dict:
    """Ground truth vs cascade on one scope with each prompt's first ``k`` samples."""
    import numpy as np

    def select(rows):
        return [
            r
            for r in rows
            if r[2] < k and (scope == "overall" or r[1] == scope) and (keep is None or r[0] in keep)
        ]

    out = {}
    prompt_means = {}
    for name, rows in (("truth", select(truth)), ("cascade", select(cascade))):
        ids = sorted({r[0] for r in rows})
        index = np.array([ids.index(r[0]) for r in rows])
        values = np.array([r[3] for r in rows])
        # A pooled mean over prompts with k images each = the mean of the prompt means.
        out[name] = round(float(values.mean()), 2)
        out[f"{name}_ci"] = [round(v, 2) for v in _interval(values, index)]
        prompt_means[name] = {i: float(values[index == j].mean()) for j, i in enumerate(ids)}
    shared = sorted(prompt_means["truth"])
    diff = np.array([prompt_means["truth"][p] - prompt_means["cascade"][p] for p in shared])
    out["prompts"] = len(shared)
    out["apart"] = out["truth_ci"][0] > out["cascade_ci"][1]
    out["gap"] = round(out["truth_ci"][0] - out["cascade_ci"][1], 2)  # < 0: overlap
    out["paired_diff"] = round(float(diff.mean()), 2)
    out["paired_ci"] = [round(v, 2) for v in _interval(diff, np.arange(diff.size))]
    out["paired_apart"] = out["paired_ci"][0] > 0
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("toy-validity-power"))
    p.add_argument("--images", type=int, default=8, help="images per prompt to generate (>= 2)")
    p.add_argument("--reduced", type=int, default=6, help="prompts per category at reduced size")
    p.add_argument("--seed", type=int, default=0, help="run seed (the demo's: 0)")
    args = p.parse_args(argv)
    if args.images < 2:
        p.error("--images must be at least 2")

    import torch

    from drawbench.pipeline.demo import demo_prompts, generate_run

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    prompts, _ = demo_prompts(None)
    dirs = {
        name: generate_run(name, gen, opts, prompts, None, args.images, args.seed, args.out, True)
        for name, (gen, opts) in RUNS.items()
    }
    seconds_generate = time.perf_counter() - t0
    truth, cascade = (per_image_scores(dirs[name]) for name in RUNS)
    _, reduced_ids = demo_prompts(args.reduced)
    sizes = {"full": None, "reduced": set(reduced_ids)}
    ks = sorted({2, *range(2, args.images + 1, 2), args.images})
    table: dict[str, dict[str, dict[str, dict]]] = {}
    for size, keep in sizes.items():
        for k in ks:
            rows = {scope: compare(truth, cascade, k, scope, keep) for scope in SCOPES}
            table.setdefault(size, {})[str(k)] = rows
            print(f"\n{size} size, {k} images per prompt (ground truth vs imagen-toy, CLIP score):")
            for scope, r in rows.items():
                sep = "apart" if r["apart"] else f"overlap {-r['gap']:.2f}"
                print(
                    f"  {scope:<11} {r['prompts']:>2} prompts  {r['truth']:.2f} "
                    f"[{r['truth_ci'][0]:.2f}, {r['truth_ci'][1]:.2f}] vs {r['cascade']:.2f} "
                    f"[{r['cascade_ci'][0]:.2f}, {r['cascade_ci'][1]:.2f}]  "
                    f"{sep}  paired "
                    f"{r['paired_diff']:.2f} [{r['paired_ci'][0]:.2f}, {r['paired_ci'][1]:.2f}]"
                    f"{' apart' if r['paired_apart'] else ''}"
                )
    summary = {
        size: {
            k: {
                "apart": sum(r["apart"] for r in rows.values()),
                "paired_apart": sum(r["paired_apart"] for r in rows.values()),
            }
            for k, rows in by_k.items()
        }
        for size, by_k in table.items()
    }
    print(
        json.dumps(
            {
                "images_per_prompt": ks,
                "scopes": len(SCOPES),
                "summary": summary,
                "table": table,
                "seconds_generate": round(seconds_generate, 1),
                "seconds_total": round(time.perf_counter() - t0, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
