"""Generator registry: a plain dict of names to lazily imported factories.

Names resolve, in order: built-in names below, entry points in the group ``drawbench.generators``
(third-party packages), and ``module:attribute`` paths. Heavy imports happen only when a factory
is resolved.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "drawbench.generators"

#: Built-in generators: name -> "module:attribute" of a factory (class or function).
BUILTIN_GENERATORS: dict[str, str] = {
    "folder": "generators.folder:FolderGenerator",
    "diffusers": "generators.diffusers_adapter:DiffusersGenerator",
    "python": "generators.python_callable:PythonCallableGenerator",
    "solid": "generators.trivial:SolidColorGenerator",
    "noise": "generators.trivial:NoiseGenerator",
    "imagen": "generators.imagen.generator:ImagenGenerator",
    "imagen-toy": "generators.imagen.toy_generator:ToyImagenGenerator",
    "toyworld": "generators.toyworld_truth:ToyWorldGenerator",
}


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def list_generators() -> list[str]:
    """Names of every generator available: built-in and installed through entry points."""
    return sorted(set(BUILTIN_GENERATORS) | set(_entry_points()))


def _import_attribute(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ValueError(
            f"cannot import module {module_name!r} for generator {spec!r}: {err}"
        ) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(
                f"module {module_name!r} has no attribute {attr!r} (generator {spec!r})"
            ) from None
    return obj


def get_generator_factory(name: str) -> Callable[..., Any]:
    """Resolve a generator name to its factory without calling it (no model is loaded).

    Raises:
        ValueError: unknown name; the message lists the available ones.
    """
    if name in BUILTIN_GENERATORS:
        return _import_attribute(BUILTIN_GENERATORS[name])
    eps = _entry_points()
    if name in eps:
        return eps[name].load()
    if ":" in name:
        return _import_attribute(name)
    raise ValueError(
        f"unknown generator {name!r}; available: {', '.join(list_generators())} "
        "(or give a 'module:attribute' path)"
    )


def accepts_option(factory: Callable[..., Any], option: str) -> bool:
    """Whether ``factory`` takes a keyword argument ``option`` (explicitly or through ``**kwargs``)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return True
    return any(
        p.kind is p.VAR_KEYWORD or (p.name == option and p.kind is not p.POSITIONAL_ONLY)
        for p in params
    )


def check_generator_options(name: str, **options: Any) -> Callable[..., Any]:
    """Resolve ``name`` and validate ``options`` without loading any model; return the factory.

    Uses the factory's classmethod ``check_options(**options)`` when it has one; otherwise checks
    that the factory's signature accepts exactly these keyword arguments.

    Raises:
        ValueError: unknown generator (listing the available ones) or a bad option.
        ImportError: a missing optional dependency (the message names the pip extra).
    """
    factory = get_generator_factory(name)
    check = getattr(factory, "check_options", None)
    if callable(check):
        check(**options)
        return factory
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return factory
    try:
        signature.bind(**options)
    except TypeError as err:
        accepted = [p.name for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        raise ValueError(
            f"generator {name!r}: bad options ({err}); accepted: {', '.join(accepted) or 'none'}"
        ) from None
    return factory


def create_generator(name: str, **options: Any) -> Any:
    """Build a generator by name with its options (this may load models)."""
    factory = check_generator_options(name, **options)
    return factory(**options)
