"""``drawbench demo``: the main job on built-in defaults, offline, on 2 CPU cores in minutes.

What it does, and what its numbers are worth (every output says the same):

* prompts: the first ``prompts_per_category`` DrawBench prompts of each of the 11 categories;
* generators: two variants of a *random-weight* model (``DEMO_GENERATORS``); their images are
  noise-like and say nothing about any real model;
* metrics: CLIP score (open_clip ``DEMO_CLIP_MODEL``) and FID (clean-fid's Inception) with real
  weights when the resolver finds them (``$DRAWBENCH_WEIGHTS``, caches, --clip-weights), random
  weights otherwise (labelled "RANDOM WEIGHTS" in metrics.json and the report); the FID reference
  is a folder of synthetic toy-world renders made by the demo, not real photographs;
* a *simulated* rating study: seeded synthetic votes (``drawbench.report.simulate_votes``),
  labelled simulated; no human judged anything;
* the report (report.md, report.html, plots).
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

#: The demo's CLIP architecture: ViT-B-32 keeps a CPU run to seconds (the project default,
#: ViT-L-14 / openai, is what HEIM uses and what real evaluations should use).
DEMO_CLIP_MODEL = "ViT-B-32"
DEMO_CLIP_PRETRAINED = "openai"
#: Run name -> (generator, options). Random-weight stand-ins for two model variants.
DEMO_GENERATORS = {
    "variant-a": ("noise", {"width": 64, "height": 64, "variant": "a"}),
    "variant-b": ("noise", {"width": 64, "height": 64, "variant": "b"}),
}
#: Simulated rater strengths (Bradley-Terry log-odds) per run: variant-a is made slightly preferred.
DEMO_STRENGTHS = {"variant-a": 0.4, "variant-b": 0.0}
DEMO_REFERENCE_IMAGES = 64


def demo_prompt_ids(prompts_per_category: int) -> list[str]:
    """Ids of the first ``prompts_per_category`` DrawBench prompts of every category."""
    from drawbench.prompts import load_prompt_set

    taken: dict[str, int] = {}
    ids = []
    for p in load_prompt_set("drawbench"):
        if taken.get(p.category, 0) < prompts_per_category:
            taken[p.category] = taken.get(p.category, 0) + 1
            ids.append(p.id)
    return ids


def write_reference_images(folder: Path, n: int = DEMO_REFERENCE_IMAGES, seed: int = 0) -> Path:
    """Render ``n`` toy-world scenes as the demo's (synthetic) FID reference folder."""
    import numpy as np

    from drawbench.images import save_png_atomic
    from drawbench.toyworld import sample_scene
    from drawbench.toyworld_render import render_scene

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        path = folder / f"{i:04d}.png"
        if not path.exists():
            save_png_atomic(render_scene(sample_scene(rng, "train"), seed=i), path)
    return folder


def run_demo(
    out: str | Path,
    *,
    prompts_per_category: int = 2,
    images_per_prompt: int = 2,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Run the whole pipeline into ``out`` (resumable); returns the path of report.html."""
    from drawbench.pipeline.evaluate import EvaluateOptions, plan_evaluation, run_evaluation
    from drawbench.pipeline.generate import GenerateRequest, run_generation
    from drawbench.prompts import select_prompts
    from drawbench.report import simulate_votes, write_report

    out = Path(out)
    ids = demo_prompt_ids(prompts_per_category)
    prompts = select_prompts("drawbench", ids=ids)
    run_dirs = []
    for name, (generator, options) in DEMO_GENERATORS.items():
        request = GenerateRequest(
            generator=generator,
            prompts=prompts,
            images_per_prompt=images_per_prompt,
            seed=seed,
            out=out / "runs" / name,
            options=dict(options),
            batch_size=8,
            selection={"spec": "drawbench", "ids": ids},
        )
        run_generation(request, progress=progress)
        run_dirs.append(request.out)
    reference = write_reference_images(out / "reference-toyworld", seed=seed)
    options = EvaluateOptions(
        metrics=("clip", "fid"),
        reference=str(reference),
        batch_size=16,
        workers=1,
        device="cpu",
        clip_model=DEMO_CLIP_MODEL,
        clip_pretrained=DEMO_CLIP_PRETRAINED,
        allow_random_weights=True,
        offline=True,
        seed=seed,
    )
    for run_dir in run_dirs:
        run_evaluation(plan_evaluation(run_dir, options), progress=progress)
    votes = simulate_votes(
        [d.name for d in run_dirs], list(prompts), strengths=DEMO_STRENGTHS, raters=3, seed=seed
    )
    notes = [
        "DEMO: the generators are random-weight stand-ins; metrics use random weights unless real model "
        "files were found (see each metric's provenance); the FID reference is synthetic toy-world renders; "
        "the rating study is SIMULATED (seeded synthetic votes). None of these numbers describes a real model.",
    ]
    return write_report(
        run_dirs,
        out / "report",
        votes=votes,
        title="drawbench demo",
        notes=notes,
        votes_simulated=True,
        seed=seed,
    )
