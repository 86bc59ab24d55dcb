"""The ``python`` adapter: any callable ``f(prompts, seeds) -> images`` named ``module:function``.

Example::

    drawbench generate --generator python --option callable=my_pkg.sampling:generate ...

``f`` receives a list of prompt texts and a list of per-image seeds (same length) and returns one
PIL RGB image per pair, in order; ``kwargs`` (a JSON object) is passed on as keyword arguments.
The orchestrator checks count, mode and size of what comes back.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

from PIL import Image

from generators.base import GeneratorError

__all__ = ["PythonCallableGenerator", "resolve_callable"]


def resolve_callable(spec: Any) -> Callable[..., Any]:
    """Import ``module:attribute`` (dots allowed in the attribute) and return the callable.

    Raises:
        ValueError: the spec is malformed, the module or attribute is missing, or it is not callable.
    """
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ValueError(f"python: option callable must look like 'module:function', got {spec!r}")
    module_name, attr = spec.split(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ValueError(
            f"python: cannot import module {module_name!r} ({err}); is it on PYTHONPATH?"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"python: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"python: {spec!r} is a {type(obj).__name__}, not a callable")
    return obj


class PythonCallableGenerator:
    """Wrap a callable ``f(prompts: list[str], seeds: list[int], **kwargs) -> list[PIL.Image]``.

    Args:
        callable: ``"module:function"`` naming ``f``.
        kwargs: Extra keyword arguments for ``f`` (JSON-serialisable; recorded in describe()).
    """

    OPTIONS = ("callable", "kwargs")

    def __init__(self, callable: str, kwargs: Mapping[str, Any] | None = None):
        self.check_options(callable=callable, kwargs=kwargs)
        self.spec = callable
        self.kwargs = dict(kwargs or {})
        self.function = resolve_callable(callable)

    @classmethod
    def check_options(cls, **options: Any) -> None:
        """Validate options and that the callable resolves (imports its module, calls nothing)."""
        unknown = sorted(set(options) - set(cls.OPTIONS))
        if unknown:
            raise ValueError(
                f"python: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(cls.OPTIONS)}"
            )
        if "callable" not in options:
            raise ValueError(
                "python: missing option callable (e.g. --option callable=my_module:generate)"
            )
        kwargs = options.get("kwargs")
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise ValueError(f"python: option kwargs must be a JSON object, got {kwargs!r}")
        resolve_callable(options["callable"])

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        """Call ``f(prompts, seeds, **kwargs)`` and return its result as a list."""
        result = self.function(list(prompts), [int(s) for s in seeds], **self.kwargs)
        if isinstance(result, Image.Image) or not hasattr(result, "__iter__"):
            raise GeneratorError(
                f"python generator {self.spec!r} returned a {type(result).__name__}; it must return "
                "a list with one PIL image per prompt"
            )
        return list(result)

    def describe(self) -> dict[str, Any]:
        module = sys.modules.get(self.spec.split(":")[0])
        return {
            "name": "python",
            "callable": self.spec,
            "kwargs": self.kwargs,
            "module_file": getattr(module, "__file__", None),
        }
