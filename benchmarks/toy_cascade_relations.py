"""How often the toy Imagen cascade draws relations right, by the judge (issue 8).

For every held-out toy prompt that holds a relation (the ``toyworld`` set's Positional and
Composition prompts), the cascade draws ``--images`` images; the judge (``toyclip-judge``, which
sees left/right and above/below: 1.000 on relation flips of renders) scores each image against its
caption and against the caption with the relation mirrored. Relation accuracy = share of images
whose own caption scores higher (0.5 = chance: the cascade ignores the relation). The ground-truth
renderer is measured the same way as the ceiling. The last line is one JSON object of the figures.

    python benchmarks/toy_cascade_relations.py [--checkpoint trained] [--images 4] [--stages 2]
"""

from __future__ import annotations

import argparse
import json
import time


def relation_accuracy(images, captions, judge) -> list[bool]:
    """Per image: does the judge score its caption above the relation-mirrored caption?"""
    from generators.imagen.toy_generator import swap_relation_caption

    emb = judge.embed_pil(images)
    own = (emb * judge.embed_texts(captions)).sum(1)
    mirrored = (emb * judge.embed_texts([swap_relation_caption(c) for c in captions])).sum(1)
    return (own > mirrored).tolist()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--checkpoint", default="trained", help="imagen-toy checkpoint: trained or a folder"
    )
    p.add_argument("--images", type=int, default=4, help="images per relation prompt (default 4)")
    p.add_argument("--stages", type=int, default=2, help="cascade stages to run (1 = base only)")
    p.add_argument(
        "--guidance", type=float, default=None, help="guidance weight (default: imagen-toy's)"
    )
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import numpy as np
    import torch

    from drawbench.prompts import load_prompt_set
    from evaluators.toyclip_judge import ToyClipJudge
    from generators.imagen.toy_generator import ToyImagenGenerator, swap_relation_caption
    from generators.toyworld_truth import ToyWorldGenerator

    torch.set_num_threads(args.threads)
    prompts = [q for q in load_prompt_set("toyworld") if swap_relation_caption(q.text) != q.text]
    captions = [q.text for q in prompts for _ in range(args.images)]
    categories = [q.category for q in prompts for _ in range(args.images)]
    seeds = list(range(len(captions)))
    judge = ToyClipJudge.load("toyclip-judge")
    sampling = {"stages": args.stages}
    if args.guidance is not None:
        sampling["guidance_weight"] = args.guidance
    models = {
        "ground-truth": ToyWorldGenerator(),
        f"imagen-toy ({args.checkpoint})": ToyImagenGenerator(
            checkpoint=args.checkpoint, **sampling
        ),
    }
    out: dict[str, dict[str, float]] = {}
    for name, gen in models.items():
        start = time.perf_counter()
        right = np.array(relation_accuracy(gen.generate(captions, seeds), captions, judge))
        row = {"all": float(right.mean())}
        for cat in sorted(set(categories)):
            row[cat] = float(right[np.array(categories) == cat].mean())
        out[name] = row
        shown = " ".join(f"{k} {v:.3f}" for k, v in row.items())
        print(f"{name:28s} relation accuracy: {shown} ({len(captions)} images, "
              f"{time.perf_counter() - start:.0f} s)")  # fmt: skip
    print(json.dumps({"relation_accuracy": out, "images": len(captions),
                      "stages": args.stages}, sort_keys=True))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
