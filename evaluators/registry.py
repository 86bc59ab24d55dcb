"""The evaluator registry: a plain dict behind ``create_evaluator`` / ``list_evaluators``.

Registry names are what ``drawbench evaluate --metrics`` takes; ``METRIC_NAMES`` maps each to the
key its result has in metrics.json (``clip`` -> ``clip_score``). Heavy imports (torch, clean-fid,
open_clip) happen inside the factories.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evaluators.base import Evaluator


def _clip(**options: Any) -> Evaluator:
    from evaluators.clip_score import create_clip_score

    return create_clip_score(**options)


def _fid(**options: Any) -> Evaluator:
    from evaluators.fid import FidEvaluator

    return FidEvaluator(**options)


def _kid(**options: Any) -> Evaluator:
    from evaluators.fid import KidEvaluator

    return KidEvaluator(**options)


_REGISTRY: dict[str, Callable[..., Evaluator]] = {"clip": _clip, "fid": _fid, "kid": _kid}
#: registry name -> key of its result in metrics.json.
METRIC_NAMES: dict[str, str] = {"clip": "clip_score", "fid": "fid", "kid": "kid"}


def list_evaluators() -> list[str]:
    """Registered evaluator names, sorted."""
    return sorted(_REGISTRY)


def register_evaluator(
    name: str, factory: Callable[..., Evaluator], metric_name: str | None = None
) -> None:
    """Register ``factory(**options) -> Evaluator`` under ``name``."""
    _REGISTRY[name] = factory
    METRIC_NAMES[name] = metric_name or name


def check_evaluator_names(names: list[str]) -> list[str]:
    """Return ``names`` if all are registered; otherwise raise ValueError listing the available ones."""
    unknown = [n for n in names if n not in _REGISTRY]
    if unknown:
        raise ValueError(
            f"unknown metric(s) {', '.join(map(repr, unknown))}; available: "
            f"{', '.join(list_evaluators())}"
        )
    return names


def create_evaluator(name: str, **options: Any) -> Evaluator:
    """Build the evaluator registered as ``name`` (``clip``: create_clip_score options, whose
    ``model_name`` may be a toy CLIP name; ``fid`` / ``kid``: ``features=FeatureSet``, i.e.
    InceptionFeatures or ToyClipFeatures (see evaluators.fid.create_fid_features),
    ``reference=ReferenceStats``)."""
    check_evaluator_names([name])
    return _REGISTRY[name](**options)
