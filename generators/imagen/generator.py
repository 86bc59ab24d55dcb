"""``ImagenGenerator``: the reference cascade behind the Generator protocol (``--generator imagen``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from generators.imagen.augmentation import DEFAULT_SAMPLE_AUG_LEVEL
from generators.imagen.diffusion import SAMPLERS
from generators.imagen.guidance import DEFAULT_DYNAMIC_THRESHOLD_PERCENTILE, THRESHOLDS
from generators.imagen.stage import DEFAULT_GUIDANCE_WEIGHT, DEFAULT_SAMPLING_STEPS, SamplingOptions

#: Images sampled together per forward pass when no batch size is given.
DEFAULT_BATCH_SIZE = 8
#: On CPU the U-Nets sample in channels-last memory format: oneDNN's convolutions and nearest
#: upsampling are faster that way (the toy cascade 1.43x at batch 64: benchmarks/bench_imagen.py),
#: with the same weights; floats differ from the default format in the last bits only.
CPU_MEMORY_FORMAT = "channels_last"


def _per_stage(value: Any, k: int, name: str) -> list[Any]:
    values = list(value) if isinstance(value, list | tuple) else [value] * k
    if len(values) < k:
        raise ValueError(
            f"option {name}: {len(values)} value(s) for {k} stages; give one value or one per stage"
        )
    return values[:k]


def stage_sampling_options(
    k: int,
    steps: Any,
    sampler: Any,
    guidance_weight: Any,
    threshold: Any,
    percentile: Any,
    aug_level: Any,
) -> list[SamplingOptions]:
    """One validated SamplingOptions per stage from options given once or per stage (ValueError)."""
    per_stage = zip(
        *(
            _per_stage(v, k, n)
            for n, v in [
                ("steps", steps),
                ("sampler", sampler),
                ("guidance_weight", guidance_weight),
                ("threshold", threshold),
                ("percentile", percentile),
                ("aug_level", aug_level),
            ]
        ),
        strict=True,
    )
    out = []
    for s, sa, w, th, p, a in per_stage:
        if sa not in SAMPLERS or th not in THRESHOLDS:
            raise ValueError(
                f"sampler must be one of {SAMPLERS} and threshold one of {THRESHOLDS}; got {sa!r}, {th!r}"
            )
        if not (isinstance(w, int | float) and math.isfinite(w)):
            raise ValueError(f"guidance_weight must be a number, got {w!r}")
        out.append(
            SamplingOptions(
                steps=int(s) if isinstance(s, int | float) and float(s).is_integer() else s,
                sampler=sa,
                guidance_weight=float(w),
                threshold=th,
                percentile=float(p),
                aug_level=float(a),
            )
        )
    return out


class ImagenGenerator:
    """Sample a trained cascade. Per-stage options take one value or a list (one per stage).

    Options: ``checkpoint`` (folder written by ``drawbench imagen train``), ``stages`` (how many
    stages to run, e.g. 1 = 64 px only; default all in the config), ``steps``, ``sampler``
    (``ddpm``/``ddim``), ``guidance_weight`` (1 = none), ``threshold`` (``none``/``static``/
    ``dynamic``), ``percentile``, ``aug_level`` (SR conditioning noise), ``device``,
    ``batch_size``, ``text_encoder`` (T5 name or folder overriding the config's).
    """

    def __init__(
        self,
        checkpoint: str | Path,
        stages: int | None = None,
        steps: int | Sequence[int] = DEFAULT_SAMPLING_STEPS,
        sampler: str | Sequence[str] = "ddpm",
        guidance_weight: float | Sequence[float] = DEFAULT_GUIDANCE_WEIGHT,
        threshold: str | Sequence[str] = "dynamic",
        percentile: float | Sequence[float] = DEFAULT_DYNAMIC_THRESHOLD_PERCENTILE,
        aug_level: float | Sequence[float] = DEFAULT_SAMPLE_AUG_LEVEL,
        device: str = "cpu",
        batch_size: int = DEFAULT_BATCH_SIZE,
        text_encoder: str | None = None,
        cascade: Any = None,
    ) -> None:
        options = dict(
            checkpoint=checkpoint,
            stages=stages,
            steps=steps,
            sampler=sampler,
            guidance_weight=guidance_weight,
            threshold=threshold,
            percentile=percentile,
            aug_level=aug_level,
            device=device,
            batch_size=batch_size,
            text_encoder=text_encoder,
        )
        self.check_options(**options, _need_checkpoint=cascade is None)
        if cascade is None:
            from generators.imagen.cascade import ImagenCascade

            cascade = ImagenCascade.from_pretrained(
                checkpoint, text_encoder=text_encoder, num_stages=stages, device=device
            )
        self.cascade = cascade.eval()
        self._memory_format = "contiguous"
        if str(next(cascade.parameters()).device) == "cpu":
            import torch

            self.cascade.to(memory_format=getattr(torch, CPU_MEMORY_FORMAT))
            self._memory_format = CPU_MEMORY_FORMAT
        self.num_stages = stages or len(cascade.stages)
        if self.num_stages > len(cascade.stages):
            raise ValueError(f"stages={stages} but the cascade has {len(cascade.stages)}")
        k = self.num_stages
        self.stage_options = stage_sampling_options(
            k, steps, sampler, guidance_weight, threshold, percentile, aug_level
        )
        self.batch_size = batch_size
        self._options = options

    @classmethod
    def from_cascade(cls, cascade: Any, **options: Any) -> ImagenGenerator:
        """Wrap an in-memory :class:`ImagenCascade` (tests, notebooks); no checkpoint is read."""
        return cls(checkpoint=options.pop("checkpoint", "<in memory>"), cascade=cascade, **options)

    @classmethod
    def check_options(
        cls,
        checkpoint: str | Path | None = None,
        stages: int | None = None,
        steps: Any = DEFAULT_SAMPLING_STEPS,
        sampler: Any = "ddpm",
        guidance_weight: Any = DEFAULT_GUIDANCE_WEIGHT,
        threshold: Any = "dynamic",
        percentile: Any = DEFAULT_DYNAMIC_THRESHOLD_PERCENTILE,
        aug_level: Any = DEFAULT_SAMPLE_AUG_LEVEL,
        device: str = "cpu",
        batch_size: int = DEFAULT_BATCH_SIZE,
        text_encoder: str | None = None,
        _need_checkpoint: bool = True,
    ) -> None:
        """Validate every option (and the checkpoint's config and files) without loading a model."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if stages is not None and (not isinstance(stages, int) or stages < 1):
            raise ValueError(
                f"stages must be a positive integer (how many stages to run), got {stages!r}"
            )
        k = stages or 1
        if _need_checkpoint:
            from generators.imagen import checkpoint as ckpt

            if checkpoint is None:
                raise ValueError(
                    "option checkpoint is required: a folder written by `drawbench imagen train`"
                )
            config = ckpt.load_cascade_config(checkpoint)
            k = stages or len(config.stages)
            if k > len(config.stages):
                raise ValueError(f"stages={k} but {checkpoint} has {len(config.stages)} stage(s)")
            for i in range(k):
                if not ckpt.stage_weights_path(checkpoint, i).is_file():
                    raise FileNotFoundError(
                        f"{ckpt.stage_weights_path(checkpoint, i)} is missing: train stage {i} or pass stages={i}"
                    )
        stage_sampling_options(k, steps, sampler, guidance_weight, threshold, percentile, aug_level)
        if not (device == "cpu" or str(device).startswith(("cuda", "mps"))):
            raise ValueError(f"device must be 'cpu', 'cuda[:N]' or 'mps', got {device!r}")

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        """One RGB image per (prompt, seed), in order; batches of ``batch_size``. Each image's noise
        comes from its own generator seeded with its seed, so batching does not change an image's
        randomness; the arithmetic may differ in the last bits (oneDNN picks other kernels for
        other batch sizes: measured on CPU with the toy cascade, up to 5 of an image's 12,288
        values one level of 255 apart between batches of 1 and of 8)."""
        from drawbench.images import tensor_to_pil

        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        out: list[Image.Image] = []
        for i in range(0, len(prompts), self.batch_size):
            x = self.cascade.sample(
                prompts[i : i + self.batch_size],
                seeds[i : i + self.batch_size],
                self.stage_options,
                self.num_stages,
            )
            out.extend(tensor_to_pil(x))
        return out

    def describe(self) -> dict[str, Any]:
        from dataclasses import asdict

        cfg = self.cascade.config
        return {
            "generator": "imagen",
            "checkpoint": str(self._options["checkpoint"]),
            "stages": self.num_stages,
            "stage_options": [asdict(o) for o in self.stage_options],
            "batch_size": self.batch_size,
            "device": self._options["device"],
            "memory_format": self._memory_format,
            "text_encoder": getattr(
                self.cascade.text_encoder, "name", type(self.cascade.text_encoder).__name__
            ),
            "config": cfg.to_dict() if cfg is not None else None,
        }
