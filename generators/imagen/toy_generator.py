"""``--generator imagen-toy``: the reference cascade trained on the toy world, shipped with the
package (issue 8).

The cascade is ``generators/imagen/configs/imagen-toy.json``: a 32x32 base U-Net and a 32->64
Efficient U-Net, conditioned on the frozen text tower of the shipped CoordConv toy CLIP
(``toyclip-coordconv``, :class:`~generators.imagen.text_encoder.ToyClipTextEncoder`)
standing in for Imagen's frozen T5. It was trained by ``drawbench imagen train`` on toy-world
renders of the training split, the base stage on one GPU (12,000 steps at batch 256: it draws
relations right for about 95% of images by the judge), the SR stage on CPU (the commands and seeds
are in the weights folder's TRAINING.json and in benchmarks/RESULTS.md). Only toy-world captions
can be sampled (27-word vocabulary).

``checkpoint`` picks the weights: ``trained`` (the shipped EMA weights), ``untrained`` (the
same cascade with seeded random initial weights: the lower bound in the demo's comparison), or a
folder written by ``drawbench imagen train``.
``swap_relations=True`` samples every relation caption with its relation mirrored (left of <->
right of, above <-> below) while the run still records the original prompt: a model variant that
gets positions wrong on purpose, which relation-blind metrics cannot see.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

__all__ = ["TOY_CHECKPOINTS", "ToyImagenGenerator", "swap_relation_caption", "toy_checkpoint_dir"]

#: Shipped checkpoints: name -> folder under generators/imagen/toy_weights/.
TOY_CHECKPOINTS = {"trained": "imagen-toy"}
CHOICES = (*TOY_CHECKPOINTS, "untrained")
#: Sampling defaults for the toy cascade (per stage: base 32 px, SR 64 px): ancestral (DDPM)
#: sampling, which gave visibly cleaner toy scenes than DDIM at these step counts, few enough
#: steps to keep the demo to minutes on two CPU cores; guidance 3 is inside the paper's range.
TOY_STEPS = (32, 12)
TOY_SAMPLER = "ddpm"
TOY_GUIDANCE = 3.0
TOY_BATCH_SIZE = 64
#: The sampling options imagen-toy sets differently from ImagenGenerator's defaults.
TOY_SAMPLING = {"steps": TOY_STEPS, "sampler": TOY_SAMPLER, "guidance_weight": TOY_GUIDANCE,
                "batch_size": TOY_BATCH_SIZE}  # fmt: skip
#: Seed of the random initial weights of ``checkpoint="untrained"``.
UNTRAINED_SEED = 0


def toy_checkpoint_dir(name: str) -> Path:
    """Folder of a shipped toy cascade checkpoint (``trained``)."""
    from importlib import resources

    if name not in TOY_CHECKPOINTS:
        raise ValueError(
            f"unknown toy Imagen checkpoint {name!r}; use one of {', '.join(CHOICES)} or a folder"
        )
    return Path(
        str(resources.files("generators.imagen").joinpath("toy_weights", TOY_CHECKPOINTS[name]))
    )


def swap_relation_caption(text: str) -> str:
    """The caption with its relation mirrored; captions without a relation come back unchanged."""
    from drawbench.toyworld import caption_of, parse_caption
    from drawbench.toyworld_corrupt import flip_relation

    scene = parse_caption(text)
    return text if scene.relation is None else caption_of(flip_relation(scene))


class ToyImagenGenerator:
    """The toy-world Imagen cascade behind the Generator protocol.

    Options: ``checkpoint`` (trained | untrained | FOLDER), ``swap_relations``, and the
    sampling options of :class:`~generators.imagen.generator.ImagenGenerator` (``steps``,
    ``sampler``, ``guidance_weight``, ``threshold``, ``percentile``, ``aug_level``, ``stages``,
    ``batch_size``, ``device``) with toy defaults.
    """

    OWN_OPTIONS = ("checkpoint", "swap_relations")

    def __init__(
        self, checkpoint: str = "trained", swap_relations: bool = False, **sampling: Any
    ) -> None:
        from generators.imagen.generator import ImagenGenerator

        sampling = {**TOY_SAMPLING, **sampling}
        self.check_options(checkpoint=checkpoint, swap_relations=swap_relations, **sampling)
        self.checkpoint = checkpoint
        self.swap_relations = bool(swap_relations)
        if checkpoint == "untrained":
            self.inner = ImagenGenerator.from_cascade(
                _untrained_cascade(sampling.get("device", "cpu")),
                checkpoint="untrained",
                **sampling,
            )
        else:
            self.inner = ImagenGenerator(checkpoint=str(self._folder(checkpoint)), **sampling)

    @staticmethod
    def _folder(checkpoint: str) -> Path:
        return toy_checkpoint_dir(checkpoint) if checkpoint in TOY_CHECKPOINTS else Path(checkpoint)

    @classmethod
    def check_options(
        cls, checkpoint: str = "trained", swap_relations: bool = False, **sampling: Any
    ) -> None:
        """Validate every option without loading a model (ValueError naming the bad one)."""
        from generators.imagen.generator import ImagenGenerator

        if not isinstance(swap_relations, bool):
            raise ValueError(
                f"imagen-toy: swap_relations must be true or false, got {swap_relations!r}"
            )
        if not isinstance(checkpoint, str | Path):
            raise ValueError(
                f"imagen-toy: checkpoint must be one of {', '.join(CHOICES)} or a folder"
            )
        sampling = {**TOY_SAMPLING, **sampling}
        unknown = set(sampling) - set(_SAMPLING_OPTIONS)
        if unknown:
            raise ValueError(
                f"imagen-toy: unknown option(s) {', '.join(sorted(unknown))}; accepted: "
                f"{', '.join((*cls.OWN_OPTIONS, *_SAMPLING_OPTIONS))}"
            )
        if checkpoint == "untrained":
            ImagenGenerator.check_options(**sampling, _need_checkpoint=False)
            return
        folder = cls._folder(str(checkpoint))
        if not folder.is_dir():
            raise ValueError(
                f"imagen-toy: checkpoint {str(checkpoint)!r} is neither one of "
                f"{', '.join(CHOICES)} nor a folder"
            )
        ImagenGenerator.check_options(checkpoint=str(folder), **sampling)

    @classmethod
    def weights_identity(cls, checkpoint: str = "trained", **_: Any) -> dict[str, str]:
        """sha256 of the weight files the images depend on (part of a run's identity, so a run
        directory made with other weights is not resumed): each stage's sampling weights (none
        for ``untrained``: seeded from the config) and, as ``text_encoder:<name>``, the toy CLIP
        whose frozen text tower conditions the cascade (for ``untrained`` too)."""
        from generators.imagen.checkpoint import load_cascade_config
        from generators.imagen.config import load_config

        if checkpoint == "untrained":
            return _text_encoder_sha256(load_config("imagen-toy").text_encoder)
        folder = cls._folder(str(checkpoint))
        return {
            **_weights_sha256(folder),
            **_text_encoder_sha256(load_cascade_config(folder).text_encoder),
        }

    def bind_run(self, prompts: list, images_per_prompt: int, run_seed: int) -> None:
        """Refuse, before any image, prompts the toy cascade cannot read (naming the prompt)."""
        from generators.toyworld_truth import check_toy_run

        check_toy_run(prompts, "imagen-toy")

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        """One 64x64 RGB image per (prompt, seed); relation captions mirrored if swap_relations."""
        if self.swap_relations:
            prompts = [swap_relation_caption(p) for p in prompts]
        return self.inner.generate(prompts, seeds)

    def describe(self) -> dict[str, Any]:
        out = self.inner.describe()
        out["generator"] = "imagen-toy"
        out["checkpoint"] = str(self.checkpoint)
        out["swap_relations"] = self.swap_relations
        if self.checkpoint == "untrained":
            out["weights"] = f"untrained: random initial weights (torch seed {UNTRAINED_SEED})"
        else:
            out["weights_sha256"] = _weights_sha256(self._folder(str(self.checkpoint)))
        return out


def _text_encoder_sha256(name: str) -> dict[str, str]:
    """``{"text_encoder:<name>": sha256 of its weights}`` for a toy CLIP text encoder; empty for
    any other (a T5 is identified by its name alone)."""
    from drawbench.images import sha256_file
    from evaluators.toyclip import WEIGHTS_FILE, is_toyclip_name, resolve_toyclip

    if not is_toyclip_name(str(name)):
        return {}
    return {f"text_encoder:{name}": sha256_file(resolve_toyclip(str(name)) / WEIGHTS_FILE)}


def _weights_sha256(folder: Path) -> dict[str, str]:
    """sha256 of each stage's sampling weights in a cascade checkpoint folder."""
    from drawbench.images import sha256_file

    return {
        p.name: sha256_file(p)
        for p in sorted(folder.glob("stage_*.safetensors"))
        if ".train." not in p.name
    }


_SAMPLING_OPTIONS = ("stages", "steps", "sampler", "guidance_weight", "threshold", "percentile",
                     "aug_level", "device", "batch_size")  # fmt: skip


def _untrained_cascade(device: str):
    """The toy cascade with seeded random initial weights (same config and text encoder)."""
    import torch

    from generators.imagen.cascade import ImagenCascade
    from generators.imagen.config import load_config
    from generators.imagen.text_encoder import load_text_encoder

    config = load_config("imagen-toy")
    encoder = load_text_encoder(config.text_encoder, config.max_text_length, device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        cascade = ImagenCascade.create(config, encoder)
    return cascade.to(device).eval()
