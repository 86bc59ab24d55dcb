"""The ``diffusers`` adapter: any diffusers text-to-image pipeline, by hub id or local path.

Needs the optional extra: ``pip install 'drawbench[diffusers]'`` (torch, diffusers, transformers).
torch and diffusers are imported only when a generator is built, never by ``check_options``.

Seeding: image ``i`` of a batch gets its own ``torch.Generator(device).manual_seed(seeds[i])``, and
the list is handed to the pipeline, so each image's initial latents come from its own seed and do
not depend on the batch. (Batched GPU kernels may still differ in the last bits between batch
sizes; on CPU the tests see identical images.)
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
from pathlib import Path
from typing import Any

from PIL import Image

from generators.base import GeneratorError

__all__ = ["DTYPES", "EXTRA_HINT", "DiffusersGenerator", "default_device"]

log = logging.getLogger(__name__)

#: Accepted ``dtype`` option values; ``auto`` is float16 on CUDA, float32 elsewhere.
DTYPES = ("auto", "float32", "float16", "bfloat16")
EXTRA_HINT = "pip install 'drawbench[diffusers]'"
_REQUIRED_MODULES = ("torch", "diffusers", "transformers")


def default_device() -> str:
    """``cuda:<LOCAL_RANK>`` (torchrun) or ``cuda`` when CUDA is available, else ``cpu``."""
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    local_rank = os.environ.get("LOCAL_RANK")
    return f"cuda:{int(local_rank)}" if local_rank is not None else "cuda"


def _positive_int(name: str, value: Any, multiple_of: int = 1) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or value % multiple_of:
        rule = f"a positive multiple of {multiple_of}" if multiple_of > 1 else "a positive integer"
        raise ValueError(f"diffusers: option {name} must be {rule}, got {value!r}")


def _dtype_keyword() -> str:
    """``dtype`` where diffusers has renamed ``torch_dtype`` (it then warns on the old name)."""
    try:
        from diffusers.utils import deprecation_utils
    except ImportError:  # older diffusers: only torch_dtype
        return "torch_dtype"
    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


class DiffusersGenerator:
    """Wrap ``DiffusionPipeline.from_pretrained(model)`` as a drawbench Generator.

    Args:
        model: Hub id (``org/name``) or local folder saved with ``save_pretrained``.
        guidance_scale: Classifier-free guidance scale (pipeline default when None).
        steps: ``num_inference_steps`` (pipeline default when None).
        height: Image height in pixels, a multiple of 8 (pipeline default when None).
        width: Image width in pixels, a multiple of 8 (pipeline default when None).
        dtype: One of DTYPES.
        device: torch device (default: see default_device()).
        negative_prompt: Used for every image when given.
        safety_checker: Keep the pipeline's safety checker (default False: it blacks out images,
            which biases FID and human ratings).
    """

    OPTIONS = (
        "model",
        "guidance_scale",
        "steps",
        "height",
        "width",
        "dtype",
        "device",
        "negative_prompt",
        "safety_checker",
    )

    def __init__(
        self,
        model: str,
        guidance_scale: float | None = None,
        steps: int | None = None,
        height: int | None = None,
        width: int | None = None,
        dtype: str = "auto",
        device: str | None = None,
        negative_prompt: str | None = None,
        safety_checker: bool = False,
    ):
        self.check_options(
            model=model,
            guidance_scale=guidance_scale,
            steps=steps,
            height=height,
            width=width,
            dtype=dtype,
            device=device,
            negative_prompt=negative_prompt,
            safety_checker=safety_checker,
        )
        import torch

        self.model = model
        self.guidance_scale, self.steps = guidance_scale, steps
        self.height, self.width = height, width
        self.negative_prompt = negative_prompt
        self.safety_checker = safety_checker
        self.device = device or default_device()
        if dtype == "auto":
            dtype = "float16" if self.device.startswith("cuda") else "float32"
        self.dtype = dtype
        self.pipe = self._load(getattr(torch, dtype))

    @classmethod
    def check_options(cls, **options: Any) -> None:
        """Validate options and that the optional dependencies are installed (imports nothing).

        Raises:
            ImportError: torch, diffusers or transformers missing (names the pip extra).
            ValueError: a bad option.
        """
        missing = [m for m in _REQUIRED_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            raise ImportError(f"the diffusers generator needs {', '.join(missing)}: {EXTRA_HINT}")
        unknown = sorted(set(options) - set(cls.OPTIONS))
        if unknown:
            raise ValueError(
                f"diffusers: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(cls.OPTIONS)}"
            )
        model = options.get("model")
        if not isinstance(model, str) or not model:
            raise ValueError(
                "diffusers: option model is required: a hub id or a local folder (--option model=PATH)"
            )
        if model.startswith(("/", "./", "../", "~")) and not Path(model).expanduser().is_dir():
            raise ValueError(f"diffusers: model folder {model!r} does not exist")
        _positive_int("steps", options.get("steps"))
        _positive_int("height", options.get("height"), multiple_of=8)
        _positive_int("width", options.get("width"), multiple_of=8)
        scale = options.get("guidance_scale")
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))):
            raise ValueError(f"diffusers: option guidance_scale must be a number, got {scale!r}")
        if options.get("dtype", "auto") not in DTYPES:
            raise ValueError(
                f"diffusers: option dtype must be one of {', '.join(DTYPES)}, got {options['dtype']!r}"
            )
        for key in ("device", "negative_prompt"):
            if options.get(key) is not None and not isinstance(options[key], str):
                raise ValueError(f"diffusers: option {key} must be a string, got {options[key]!r}")
        if not isinstance(options.get("safety_checker", False), bool):
            raise ValueError(
                f"diffusers: option safety_checker must be true or false, got {options['safety_checker']!r}"
            )

    def _load(self, torch_dtype: Any) -> Any:
        from diffusers import DiffusionPipeline

        source = (
            str(Path(self.model).expanduser())
            if Path(self.model).expanduser().is_dir()
            else self.model
        )
        try:
            pipe = DiffusionPipeline.from_pretrained(source, **{_dtype_keyword(): torch_dtype})
        except (OSError, ValueError) as err:
            raise GeneratorError(
                f"diffusers: cannot load pipeline {self.model!r} ({type(err).__name__}: {err}). Offline "
                "or without access to the Hugging Face hub, download it elsewhere (e.g. `hf download "
                f"{self.model} --local-dir DIR`) and pass the local path: --option model=DIR"
            ) from err
        if not self.safety_checker and getattr(pipe, "safety_checker", None) is not None:
            pipe.safety_checker = None
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(self.device)

    def _call_defaults(self) -> dict[str, Any]:
        """The pipeline's own defaults for the options left as None (for describe())."""
        params = inspect.signature(self.pipe.__call__).parameters
        names = {
            "steps": "num_inference_steps",
            "guidance_scale": "guidance_scale",
            "height": "height",
            "width": "width",
        }
        return {
            key: params[name].default
            if name in params and params[name].default is not inspect.Parameter.empty
            else None
            for key, name in names.items()
        }

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        """Run the pipeline on a batch with one seeded ``torch.Generator`` per image."""
        import torch

        kwargs: dict[str, Any] = {
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "height": self.height,
            "width": self.width,
            "negative_prompt": [self.negative_prompt] * len(prompts)
            if self.negative_prompt
            else None,
        }
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        generators = [torch.Generator(device=self.device).manual_seed(int(s)) for s in seeds]
        with torch.inference_mode():
            output = self.pipe(
                prompt=list(prompts), generator=generators, output_type="pil", **kwargs
            )
        return [im if im.mode == "RGB" else im.convert("RGB") for im in output.images]

    def describe(self) -> dict[str, Any]:
        import diffusers
        import torch

        defaults = self._call_defaults()
        chosen = {
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "height": self.height,
            "width": self.width,
        }
        return {
            "name": "diffusers",
            "model": self.model,
            "pipeline_class": type(self.pipe).__name__,
            "scheduler": type(self.pipe.scheduler).__name__
            if hasattr(self.pipe, "scheduler")
            else None,
            **{k: (v if v is not None else defaults[k]) for k, v in chosen.items()},
            "dtype": self.dtype,
            "device": self.device,
            "negative_prompt": self.negative_prompt,
            "safety_checker": self.safety_checker,
            "seeding": "one torch.Generator(device).manual_seed(seed) per image",
            "diffusers_version": diffusers.__version__,
            "torch_version": torch.__version__,
        }
