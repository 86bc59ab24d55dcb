"""Orchestration overhead of ``drawbench generate``.

Compares, on the same images (the trivial ``solid`` generator, 512x512 by default):

* orchestrated: ``drawbench.pipeline.generate.run_generation`` in-process (validation, run.json,
  resume scan, per-image seeds, output checks, atomic PNG writes with fsync, sha256, manifest
  lines under flock, progress bar), into a fresh run directory;
* bare: the same generator called in a plain loop over the same batches, each image saved with
  ``PIL.Image.save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL)`` (same encoder settings).

overhead_fraction = t_orchestrated / t_bare - 1 with each t the fastest of the repeats (the
timeit convention: on a shared machine the minimum is the least disturbed run); target < 0.10.
The same ratio on process CPU time (``overhead_fraction_cpu``) and on medians is printed too, since
wall-clock figures on a busy machine are noisy. The last line printed is one JSON object.

    python benchmarks/bench_generate.py [--prompts 75] [--images-per-prompt 4] [--size 512]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from drawbench.images import PNG_COMPRESS_LEVEL
from drawbench.pipeline.generate import GenerateRequest, run_generation, select_prompts, work_list
from generators.trivial import SolidColorGenerator


def timed(fn, *args) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``fn(*args)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def bare_loop(out: Path, prompts, per_prompt: int, seed: int, size: int, batch_size: int) -> None:
    """Generate and save every image with no orchestration."""
    generator = SolidColorGenerator(width=size, height=size)
    items = work_list(prompts, per_prompt, seed)
    for pos in range(0, len(items), batch_size):
        batch = items[pos : pos + batch_size]
        images = generator.generate([it.prompt.text for it in batch], [it.seed for it in batch])
        for item, image in zip(batch, images, strict=True):
            folder = out / "images" / item.prompt.id
            folder.mkdir(parents=True, exist_ok=True)
            image.save(
                folder / f"{item.sample}.png", format="PNG", compress_level=PNG_COMPRESS_LEVEL
            )


def orchestrated(
    out: Path, prompts, per_prompt: int, seed: int, size: int, batch_size: int, progress: bool
) -> None:
    """run_generation producing the same images into a fresh run directory."""
    request = GenerateRequest(
        "solid",
        prompts,
        per_prompt,
        seed,
        out,
        options={"width": size, "height": size},
        batch_size=batch_size,
        command_line=["bench_generate"],
    )
    result = run_generation(request, progress=progress)
    assert result.generated == len(prompts) * per_prompt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prompts", type=int, default=75, help="first K DrawBench prompts")
    parser.add_argument("--images-per-prompt", type=int, default=4)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--progress", action="store_true", help="show the progress bar while timing"
    )
    args = parser.parse_args(argv)

    prompts, _ = select_prompts("drawbench", limit=args.prompts)
    n = len(prompts) * args.images_per_prompt
    shape = (prompts, args.images_per_prompt, 0, args.size, args.batch_size)
    bare, orch = [], []  # (wall, cpu) per repeat
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        bare_loop(Path(tmp) / "warmup", *shape)  # warm caches and imports
        orchestrated(Path(tmp) / "warmup-orch", *shape, False)
        for r in range(args.repeats):  # alternate, so drift hits both alike
            bare.append(timed(bare_loop, Path(tmp) / f"bare-{r}", *shape))
            orch.append(timed(orchestrated, Path(tmp) / f"orch-{r}", *shape, args.progress))
            print(
                f"repeat {r}: bare {n / bare[-1][0]:6.1f} images/s ({bare[-1][1]:.2f} s CPU), "
                f"orchestrated {n / orch[-1][0]:6.1f} images/s ({orch[-1][1]:.2f} s CPU)"
            )

    def ratio(pick, k):
        return pick(t[k] for t in orch) / pick(t[k] for t in bare) - 1

    best_bare, best_orch = min(t[0] for t in bare), min(t[0] for t in orch)
    figures = {
        "images": n,
        "size": args.size,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "bare_images_per_s": round(n / best_bare, 2),
        "orchestrated_images_per_s": round(n / best_orch, 2),
        "overhead_fraction": round(ratio(min, 0), 4),
        "overhead_fraction_median": round(ratio(statistics.median, 0), 4),
        "overhead_fraction_cpu": round(ratio(min, 1), 4),
    }
    print(
        f"{n} images of {args.size}x{args.size}, batch {args.batch_size}, best of {args.repeats} runs:"
    )
    print(f"  bare loop (generate + PIL PNG save):  {figures['bare_images_per_s']:8.1f} images/s")
    print(
        f"  drawbench generate (run_generation):  {figures['orchestrated_images_per_s']:8.1f} images/s"
    )
    print(
        f"  overhead, wall clock (best / median): {100 * figures['overhead_fraction']:7.1f} % / "
        f"{100 * figures['overhead_fraction_median']:.1f} %  (target < 10 %)"
    )
    print(
        f"  overhead, process CPU time (best):    {100 * figures['overhead_fraction_cpu']:7.1f} %"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
