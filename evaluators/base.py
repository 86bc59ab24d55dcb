"""The Evaluator contract and MetricResult (see DESIGN.md, "Evaluator").

metrics.json (written into a run by ``drawbench evaluate``) is::

    {"run": {...run.json identity...},
     "metrics": {"<metric name>": MetricResult.to_dict(), ...}}
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class MetricResult:
    """One metric over one run.

    Attributes:
        name: registry name, e.g. ``"clip_score"``, ``"fid"``, ``"kid"``.
        value: the headline number.
        higher_is_better: direction of the metric.
        n: number of images that went into ``value``.
        ci_low, ci_high, ci_method: 95% interval and how it was made (``None`` when not computed).
        per_prompt: prompt id -> value (empty when the metric is set-level only, like FID).
        per_category: category -> value.
        per_category_ci: category -> [low, high].
        settings: everything that changes the number (model, pretrained tag, resize mode, ...).
        provenance: implementation and versions, weights hash, reference hash, device, precision,
            and ``"random_weights": True`` when the model is untrained (the number means nothing).
        warnings: guard-rail messages (small n, scipy sqrtm regression, JPEG inputs, ...).
    """

    name: str
    value: float
    higher_is_better: bool
    n: int
    ci_low: float | None = None
    ci_high: float | None = None
    ci_method: str | None = None
    per_prompt: dict[str, float] = field(default_factory=dict)
    per_category: dict[str, float] = field(default_factory=dict)
    per_category_ci: dict[str, list[float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MetricResult:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class EvalBatch:
    """What every evaluator's ``update`` receives: decoded images and who they belong to.

    ``images`` is a list of PIL RGB images (decoded once, shared by every evaluator); per-metric
    preprocessing (clean-fid resize, CLIP transform) happens inside each evaluator or in the
    DataLoader workers through ``Evaluator.preprocess``. When every evaluator preprocesses in the
    workers, the decode pass does not ship the decoded images back and ``images`` holds ``None``
    placeholders (one per image). ``extras[evaluator.preprocess_key]`` holds the preprocessed
    images: a stacked ``[B, ...]`` tensor, or a list of tensors when their shapes differ.
    """

    images: list[Any]
    prompts: list[str]
    prompt_ids: list[str]
    categories: list[str]
    extras: dict[str, Any] = field(default_factory=dict)  # per-evaluator preprocessed tensors


class Evaluator(ABC):
    """Streaming metric: ``update`` with batches, ``compute`` the result, ``reset`` to reuse."""

    name: str = ""
    higher_is_better: bool = True

    @property
    def preprocess_key(self) -> str:
        """Key of this evaluator's preprocessed images in ``EvalBatch.extras``; evaluators sharing a
        key (FID and KID on the same Inception) share one preprocessing in the workers."""
        return self.name

    def preprocess(self, image: Any) -> Any | None:
        """Per-image preprocessing run in DataLoader workers (return None to do it in update)."""
        return None

    @abstractmethod
    def update(self, batch: EvalBatch) -> None: ...

    @abstractmethod
    def compute(self) -> MetricResult: ...

    @abstractmethod
    def reset(self) -> None: ...


def check_lengths(
    batch: EvalBatch, fields: Sequence[str] = ("prompts", "prompt_ids", "categories")
) -> None:
    n = len(batch.images)
    for f in fields:
        if len(getattr(batch, f)) != n:
            raise ValueError(f"EvalBatch.{f} has {len(getattr(batch, f))} entries for {n} images")
