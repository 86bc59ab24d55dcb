"""``--generator toyworld``: the toy world's ground truth as a "model" (issue 8).

Each prompt is parsed with the world's grammar (:func:`drawbench.toyworld.parse_caption`) and
rendered by the world's deterministic renderer with the image's seed, so an image is a pure function
of (prompt, seed, size, swap_relations). It is the upper bound every metric should rank first on toy
prompts. With ``swap_relations=true`` every relation is mirrored before rendering (left of <-> right
of, above <-> below) while the run keeps the original prompt: a model that gets positions wrong and
everything else right, by construction. Prompts outside the grammar fail with the grammar's error
naming the problem.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from generators.trivial import _check_unknown, check_image_size

__all__ = ["ToyWorldGenerator", "check_toy_run"]

#: Render seeds are taken modulo 2**63 (drawbench seeds already are below it).
_SEED_MOD = 2**63


def check_toy_run(prompts: list, who: str) -> None:
    """The ``bind_run`` check of the toy generators: every prompt must parse with the world's
    grammar, or GeneratorError names the generator, the prompt and the problem (before any image)."""
    from drawbench.toyworld import check_toy_captions
    from generators.base import GeneratorError

    try:
        check_toy_captions(prompts, who)
    except ValueError as err:
        raise GeneratorError(str(err)) from None


class ToyWorldGenerator:
    """Ground-truth renders of toy-world captions.

    Args:
        size: side of the square images (the world's native size is 64).
        swap_relations: render every relation mirrored (captions without a relation unchanged).
    """

    OPTIONS = ("size", "swap_relations")

    def __init__(self, size: int = 64, swap_relations: bool = False) -> None:
        self.check_options(size=size, swap_relations=swap_relations)
        self.size = size
        self.swap_relations = swap_relations

    @classmethod
    def check_options(cls, **options: Any) -> None:
        """Validate options without rendering anything (ValueError on a bad one)."""
        _check_unknown("toyworld", options, cls.OPTIONS)
        size = options.get("size", 64)
        check_image_size("toyworld", size, size)
        swap = options.get("swap_relations", False)
        if not isinstance(swap, bool):
            raise ValueError(f"toyworld: swap_relations must be true or false, got {swap!r}")

    def bind_run(self, prompts: list, images_per_prompt: int, run_seed: int) -> None:
        """Check every prompt parses before any image is made (a grammar error names the prompt)."""
        check_toy_run(prompts, "the toyworld generator")

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        """One ``size x size`` render per (prompt, seed), in order."""
        from drawbench.toyworld import parse_caption
        from drawbench.toyworld_corrupt import flip_relation
        from drawbench.toyworld_render import render_scene

        if len(prompts) != len(seeds):
            raise ValueError(f"toyworld: {len(prompts)} prompts but {len(seeds)} seeds")
        scenes = [parse_caption(p) for p in prompts]
        if self.swap_relations:
            scenes = [s if s.relation is None else flip_relation(s) for s in scenes]
        return [
            render_scene(scene, int(s) % _SEED_MOD, self.size)
            for scene, s in zip(scenes, seeds, strict=True)
        ]

    def describe(self) -> dict[str, Any]:
        return {
            "name": "toyworld",
            "size": self.size,
            "swap_relations": self.swap_relations,
            "what": "ground-truth renders of the toy world (drawbench.toyworld_render)"
            + (", every relation mirrored" if self.swap_relations else ""),
        }
