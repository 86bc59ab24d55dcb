"""FID and KID evaluators over clean-fid's Inception features.

Both take an :class:`InceptionFeatures` (the feature extractor and its clean-fid preprocessing,
shared so that FID and KID together run Inception once per image) and a reference
(:class:`~evaluators.reference.ReferenceStats`). The feature extractor is injected: any callable
``[B, 3, H, W] float32 in [0, 255] -> [B, d]`` works (tests pass a random-weight network).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from evaluators.base import EvalBatch, Evaluator, MetricResult
from evaluators.fid_stats import (
    KID_SUBSET_SIZE,
    KID_SUBSETS,
    FeatureStats,
    frechet_distance,
    kernel_inception_distance,
    non_finite_warning,
    scipy_sqrtm_warning,
    small_sample_warning,
)
from evaluators.inception import DEFAULT_FID_MODE, FidPreprocess, check_mode
from evaluators.reference import ReferenceStats

log = logging.getLogger(__name__)


class InceptionFeatures:
    """Feature extraction shared by FID and KID: clean-fid preprocessing plus an extractor.

    Args:
        extractor: ``[B, 3, H, W] float32 in [0, 255] -> [B, d]`` (torch tensor or numpy).
        mode: clean-fid resize mode (``clean``, ``legacy_tensorflow``, ``legacy_pytorch``).
        provenance: the extractor's provenance (implementation, weights sha256, random_weights).
    """

    def __init__(
        self,
        extractor: Callable,
        mode: str = DEFAULT_FID_MODE,
        provenance: dict[str, Any] | None = None,
    ):
        self.extractor = extractor
        self.mode = check_mode(mode)
        self.provenance = dict(provenance or getattr(extractor, "provenance", {}) or {})
        self.preprocess = FidPreprocess(mode)
        self.key = f"inception:{mode}"
        self._last: tuple[EvalBatch, np.ndarray] | None = None

    def features(self, batch: EvalBatch) -> np.ndarray:
        """``[B, d]`` float32 features of a batch (computed once per batch object)."""
        if self._last is not None and self._last[0] is batch:
            return self._last[1]
        x = batch.extras.get(self.key)
        if x is None:
            x = [self.preprocess(im) for im in batch.images]
        feats = self._run(x)
        self._last = (batch, feats)
        return feats

    def _run(self, x) -> np.ndarray:
        import torch

        if isinstance(x, list):  # different shapes (legacy_tensorflow, mixed sizes): one by one
            shapes = {tuple(t.shape) for t in x}
            if len(shapes) == 1:
                x = torch.stack(x)
            else:
                return np.concatenate([self._run(t[None]) for t in x])
        with torch.no_grad():
            out = self.extractor(x)
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().numpy()
        return np.asarray(out)


class _InceptionEvaluator(Evaluator):
    def __init__(
        self,
        features: InceptionFeatures,
        reference: ReferenceStats | None = None,
        settings: dict[str, Any] | None = None,
    ):
        self.inception = features
        # the preprocessing object itself (not a bound method), so workers never pickle the model
        self.preprocess = features.preprocess  # type: ignore[method-assign]
        self.reference = reference
        self.extra_settings = dict(settings or {})
        self.reset()

    @property
    def preprocess_key(self) -> str:
        return self.inception.key

    def preprocess(self, image: Any) -> Any:
        return self.inception.preprocess(image)

    def _settings(self) -> dict[str, Any]:
        return {
            "mode": self.inception.mode,
            "feature_extractor": "inception_v3 pool3",
            **self.extra_settings,
        }

    def _provenance(self) -> dict[str, Any]:
        import cleanfid

        prov = {
            **self.inception.provenance,
            "implementation_metric": "clean-fid",
            "clean_fid_version": getattr(cleanfid, "__version__", "0.1.35"),
        }
        if self.reference is not None:
            prov["reference"] = {
                "path": str(self.reference.path) if self.reference.path else None,
                "sha256": self.reference.sha256,
                "provenance": self.reference.provenance,
            }
        return prov

    def _need_reference(self) -> ReferenceStats:
        if self.reference is None:
            raise ValueError(
                f"{self.name} needs reference statistics: pass --reference STATS.npz|DIR"
            )
        return self.reference


class FidEvaluator(_InceptionEvaluator):
    """Frechet Inception Distance of the run's images against reference statistics.

    ``FID = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^{1/2})`` (see
    :func:`evaluators.fid_stats.frechet_distance`), with the run's ``mu_g``, ``S_g`` from float64
    sufficient statistics accumulated batch by batch (:class:`FeatureStats`). Lower is better.
    """

    name = "fid"
    higher_is_better = False

    def reset(self) -> None:
        self.stats: FeatureStats | None = None

    def update(self, batch: EvalBatch) -> None:
        feats = self.inception.features(batch)
        if self.stats is None:
            self.stats = FeatureStats(feats.shape[1])
        self.stats.update(feats)

    def compute(self) -> MetricResult:
        ref = self._need_reference()
        if self.stats is None or self.stats.count < 2:
            raise ValueError(
                f"FID needs at least 2 images, got {0 if self.stats is None else self.stats.count}"
            )
        try:
            value = frechet_distance(
                self.stats.mean(), self.stats.covariance(), ref.stats.mean(), ref.stats.covariance()
            )
        except ValueError as err:  # clean-fid: "Imaginary component ..." of sqrtm
            log.warning("FID is not a real number: %s", err)
            value = float("nan")
        warnings = [
            w
            for w in (
                small_sample_warning(self.stats.count, self.stats.dim),
                scipy_sqrtm_warning(),
                non_finite_warning(value),
            )
            if w
        ]
        return MetricResult(
            self.name,
            value,
            self.higher_is_better,
            self.stats.count,
            settings={**self._settings(), "reference_count": ref.stats.count},
            provenance=self._provenance(),
            warnings=warnings,
        )


class KidEvaluator(_InceptionEvaluator):
    """Kernel Inception Distance against the reference's stored features (clean-fid's
    ``kernel_distance``: cubic polynomial kernel, 100 subsets of up to 1,000, seeded). Unscaled
    (multiply by 1,000 for the "KID x 10^3" some papers quote). Lower is better.
    """

    name = "kid"
    higher_is_better = False

    def __init__(
        self,
        features: InceptionFeatures,
        reference: ReferenceStats | None = None,
        settings: dict[str, Any] | None = None,
        seed: int = 0,
    ):
        self.seed = seed
        super().__init__(features, reference, settings)

    def reset(self) -> None:
        self.feats: list[np.ndarray] = []

    def update(self, batch: EvalBatch) -> None:
        self.feats.append(self.inception.features(batch))

    def compute(self) -> MetricResult:
        ref = self._need_reference()
        if ref.features is None:
            raise ValueError(
                "KID needs the reference's features, but the reference file stores only "
                "statistics; rebuild it with 'drawbench reference build' (features are kept "
                "unless --no-features)"
            )
        feats = np.concatenate(self.feats)
        value = kernel_inception_distance(ref.features, feats, seed=self.seed)
        return MetricResult(
            self.name,
            value,
            self.higher_is_better,
            len(feats),
            settings={
                **self._settings(),
                "seed": self.seed,
                "subsets": KID_SUBSETS,
                "max_subset_size": KID_SUBSET_SIZE,
                "reference_count": len(ref.features),
            },
            provenance=self._provenance(),
            warnings=[w for w in (non_finite_warning(value),) if w],
        )


class ReferenceCollector(_InceptionEvaluator):
    """Collects statistics (and optionally features) of a reference image set in the decode pass."""

    name = "reference"
    higher_is_better = False

    def __init__(self, features: InceptionFeatures, keep_features: bool = True):
        self.keep_features = keep_features
        super().__init__(features)

    def reset(self) -> None:
        self.stats: FeatureStats | None = None
        self.feats: list[np.ndarray] = []

    def update(self, batch: EvalBatch) -> None:
        feats = self.inception.features(batch)
        if self.stats is None:
            self.stats = FeatureStats(feats.shape[1])
        self.stats.update(feats)
        if self.keep_features:
            self.feats.append(feats.astype(np.float32))

    def compute(self) -> MetricResult:
        n = 0 if self.stats is None else self.stats.count
        return MetricResult(
            self.name, float(n), True, n, settings=self._settings(), provenance=self._provenance()
        )

    def to_reference(self, provenance: dict[str, Any]) -> ReferenceStats:
        """The collected set as ReferenceStats with ``provenance``."""
        if self.stats is None or self.stats.count < 2:
            raise ValueError("reference statistics need at least 2 images")
        feats = np.concatenate(self.feats) if self.keep_features else None
        return ReferenceStats(self.stats, provenance, feats)
