"""FID and KID evaluators over a feature extractor: clean-fid's Inception, or a toy CLIP.

Both take a feature set (:class:`InceptionFeatures` or :class:`ToyClipFeatures`: the extractor
and its per-image preprocessing, shared so that FID and KID together run the network once per
image) and a reference (:class:`~evaluators.reference.ReferenceStats`). The extractor is
injected: any callable ``[B, 3, H, W] float tensor -> [B, d]`` works (tests pass a random-weight
network). Only the features change between extractors; the FID / KID maths is the float64
sufficient-statistics path of :mod:`evaluators.fid_stats` for all of them.

Feature names (``drawbench evaluate --fid-features``, ``drawbench reference build --features``):
``inception`` (default) or a toy CLIP name (:func:`evaluators.toyclip.is_toyclip_name`:
``toyclip``, ``toyclip-vit``, ``toyclip-coordconv``, ``toyclip:/path/to/folder``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
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

#: Default FID features: clean-fid's Inception-v3 pool3 (the FID of the literature).
INCEPTION_FEATURES = "inception"


class FeatureSet:
    """A feature extractor with its per-image preprocessing, shared by FID, KID and references.

    Attributes:
        name: what ``--fid-features`` calls it (``inception``, ``toyclip-vit``, ...).
        extractor: ``[B, 3, H, W] float tensor -> [B, d]`` (torch tensor or numpy).
        preprocess: picklable ``PIL RGB -> [3, H, W]`` tensor (run in the decode workers).
        mode: the preprocessing, recorded and checked against references (clean-fid resize mode).
        key: ``EvalBatch.extras`` key of the preprocessed images.
        description: ``settings["feature_extractor"]`` of the metrics.
        provenance: the extractor's provenance (implementation, weights sha256, random_weights).
    """

    name = ""
    description = ""

    def __init__(
        self,
        extractor: Callable,
        preprocess: Callable,
        mode: str,
        key: str,
        provenance: dict[str, Any] | None = None,
    ):
        self.extractor, self.preprocess, self.mode, self.key = extractor, preprocess, mode, key
        self.provenance = dict(provenance or getattr(extractor, "provenance", {}) or {})
        self._last: tuple[EvalBatch, np.ndarray] | None = None

    @property
    def file_tag(self) -> str:
        """Tag of the run's own statistics file, ``fid_stats_<tag>.npz``."""
        return self.mode

    def settings(self) -> dict[str, Any]:
        """What FID/KID record about the features in ``settings``."""
        return {"features": self.name, "mode": self.mode, "feature_extractor": self.description}

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


class InceptionFeatures(FeatureSet):
    """clean-fid's preprocessing for ``mode`` plus an Inception extractor.

    Args:
        extractor: ``[B, 3, H, W] float32 in [0, 255] -> [B, d]`` (torch tensor or numpy).
        mode: clean-fid resize mode (``clean``, ``legacy_tensorflow``, ``legacy_pytorch``).
        provenance: the extractor's provenance (implementation, weights sha256, random_weights).
    """

    name = INCEPTION_FEATURES
    description = "inception_v3 pool3"

    def __init__(
        self,
        extractor: Callable,
        mode: str = DEFAULT_FID_MODE,
        provenance: dict[str, Any] | None = None,
    ):
        mode = check_mode(mode)
        super().__init__(extractor, FidPreprocess(mode), mode, f"inception:{mode}", provenance)


class ToyClipImageEmbedding:
    """Callable ``[B, 3, S, S] float in [-1, 1] -> [B, embed_dim] float32 numpy``: the toy CLIP's
    ``encode_image`` output as it is (projected into the joint space, *not* L2-normalised)."""

    def __init__(self, model: Any, device: str = "cpu"):
        self.model, self.device = model.to(device).eval(), device

    def __call__(self, x):
        import torch

        with torch.no_grad():
            return self.model.encode_image(x.to(self.device)).float().cpu().numpy()


class ToyClipFeatures(FeatureSet):
    """A toy CLIP's image embeddings as FID/KID features (toy-world images only).

    The recipe is clean-fid's CLIP features (``model_name="clip_vit_b_32"``): in
    ``cleanfid/clip_features.py`` (GaParmar/clean-fid, also clean-fid 0.1.35 as installed),
    ``CLIP_fx.__call__`` divides the ``[0, 255]`` image by 255, applies CLIP's per-channel
    ``Normalize(mean, std)`` and returns ``model.encode_image(x)`` as it is: the projected
    joint-space embedding, with **no L2 normalisation** of the features (the only normalisation
    is of the input pixels). This class does the same with the toy CLIP: ``ToyClipTransform``
    (PIL bicubic to ``S`` px when not already ``S`` x ``S``, then ``(x / 255 - 0.5) / 0.5``, the toy
    CLIP's own input normalisation, instead of clean-fid's 224 px resize and CLIP mean/std), then
    ``encode_image(x, normalize=False)`` -> ``[B, embed_dim]`` (128 for the shipped models).

    Args:
        model: a toy CLIP (``encode_image``), see :mod:`evaluators.toyclip`.
        name: its canonical name (``settings["features"]``), e.g. ``toyclip-coordconv``.
        image_size: the model's input side ``S`` (``ToyClipConfig.image_size``).
        provenance: :func:`evaluators.toyclip.toyclip_provenance` of the model.
    """

    description = (
        "toy CLIP image embedding (encode_image, not L2-normalised; clean-fid's CLIP recipe)"
    )

    def __init__(
        self,
        model: Any,
        name: str,
        image_size: int = 64,
        provenance: dict[str, Any] | None = None,
        device: str = "cpu",
    ):
        from evaluators.toyclip import ToyClipTransform

        self.name = name
        mode = toyclip_fid_mode(image_size)
        super().__init__(
            ToyClipImageEmbedding(model, device),
            ToyClipTransform(image_size),
            mode,
            f"{mode}:{name}",
            provenance,
        )

    @property
    def file_tag(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name.replace(":", "-")).strip("_")[-60:]

    @classmethod
    def from_name(cls, name: str, device: str = "cpu") -> ToyClipFeatures:
        """Load the toy CLIP ``name`` (see :func:`evaluators.toyclip.resolve_toyclip`)."""
        from evaluators.toyclip import load_named_toyclip, toyclip_label

        model, config, provenance = load_named_toyclip(name)
        return cls(model, toyclip_label(name), config.image_size, provenance, device)


def toyclip_fid_mode(image_size: int) -> str:
    """The ``mode`` recorded for toy CLIP features: ToyClipTransform at ``image_size`` px."""
    return f"toyclip-{image_size}px"


def check_fid_features(name: str) -> str:
    """``name`` if it names FID features (``inception`` or a toy CLIP name); else ValueError."""
    from evaluators.toyclip import available_toyclips, is_toyclip_name

    if name == INCEPTION_FEATURES or is_toyclip_name(name):
        return name
    raise ValueError(
        f"unknown FID features {name!r}; use {INCEPTION_FEATURES} or a toy CLIP: "
        f"{', '.join(available_toyclips())}"
    )


def check_toyclip_feature_options(
    name: str, mode: str = DEFAULT_FID_MODE, inception_weights: Any = None
) -> None:
    """Refuse the Inception-only options with toy CLIP features ``name``: an Inception weights file
    or a clean-fid mode other than the default ``clean`` (which stands for "not set"), since toy
    features preprocess with ToyClipTransform.

    Raises:
        ValueError: says which option to drop.
    """
    if inception_weights:
        raise ValueError(
            f"Inception weights ({inception_weights}) are meaningless with toy CLIP features "
            f"{name!r}; drop --inception-weights, or use --fid-features inception"
        )
    if mode != DEFAULT_FID_MODE:
        raise ValueError(
            f"FID mode {mode!r} is a clean-fid Inception resize; toy CLIP features {name!r} "
            "preprocess with ToyClipTransform instead: drop --fid-mode (reference build: --mode)"
        )


def describe_toyclip_features(name: str) -> tuple[str, dict[str, Any], str]:
    """``(features label, provenance, mode)`` of toy CLIP features ``name``, without building the
    model (reads its config.json and hashes its weights).

    Raises:
        ValueError: the name is unknown or not shipped (lists the available ones).
        FileNotFoundError: the toy CLIP's folder lacks a file.
    """
    from evaluators.toyclip import read_toyclip_config, resolve_toyclip, toyclip_provenance

    config, _ = read_toyclip_config(resolve_toyclip(name))
    provenance = toyclip_provenance(name)
    return provenance["model"], provenance, toyclip_fid_mode(config.image_size)


def resolve_fid_features_weights(
    name: str,
    mode: str = DEFAULT_FID_MODE,
    inception_weights: str | None = None,
    offline: bool | None = None,
) -> Path:
    """The weights file of features ``name``: Inception's for ``mode`` (explicit file,
    $DRAWBENCH_WEIGHTS, caches, download), or the toy CLIP's ``model.safetensors``.

    Raises:
        ValueError: unknown features or mode, or an Inception-only option with toy features.
        FileNotFoundError: a toy CLIP folder lacks a file. WeightsNotFoundError: no Inception
            file (names the flag).
    """
    from evaluators.inception import resolve_inception_weights

    if check_fid_features(name) == INCEPTION_FEATURES:
        return resolve_inception_weights(check_mode(mode), inception_weights, offline)
    from evaluators.toyclip import WEIGHTS_FILE, resolve_toyclip

    check_toyclip_feature_options(name, mode, inception_weights)
    return resolve_toyclip(name) / WEIGHTS_FILE


def create_fid_features(
    name: str,
    device: str = "cpu",
    mode: str = DEFAULT_FID_MODE,
    inception_weights: Any = None,
    random_seed: int | None = None,
) -> FeatureSet:
    """Build the features ``name``: Inception for ``mode`` from its resolved file (or random
    weights with ``random_seed``), or the toy CLIP ``name``."""
    if check_fid_features(name) == INCEPTION_FEATURES:
        from evaluators.inception import create_inception

        extractor = create_inception(mode, device, inception_weights, random_seed)
        return InceptionFeatures(extractor, mode)
    return ToyClipFeatures.from_name(name, device)


class _FeatureEvaluator(Evaluator):
    def __init__(
        self,
        features: FeatureSet,
        reference: ReferenceStats | None = None,
        settings: dict[str, Any] | None = None,
    ):
        self.feature_set = features
        # the preprocessing object itself (not a bound method), so workers never pickle the model
        self.preprocess = features.preprocess  # type: ignore[method-assign]
        self.reference = reference
        self.extra_settings = dict(settings or {})
        self.reset()

    @property
    def preprocess_key(self) -> str:
        return self.feature_set.key

    def preprocess(self, image: Any) -> Any:
        return self.feature_set.preprocess(image)

    def _settings(self) -> dict[str, Any]:
        return {**self.feature_set.settings(), **self.extra_settings}

    def _provenance(self) -> dict[str, Any]:
        import cleanfid

        prov = {
            **self.feature_set.provenance,
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


class FidEvaluator(_FeatureEvaluator):
    """Frechet distance of the run's features against reference statistics (Frechet Inception
    Distance with ``inception`` features; the same formula on toy CLIP features).

    ``FID = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^{1/2})`` (see
    :func:`evaluators.fid_stats.frechet_distance`), with the run's ``mu_g``, ``S_g`` from float64
    sufficient statistics accumulated batch by batch (:class:`FeatureStats`). Lower is better.
    """

    name = "fid"
    higher_is_better = False

    def __init__(
        self,
        features: FeatureSet,
        reference: ReferenceStats | None = None,
        settings: dict[str, Any] | None = None,
        bootstrap_rounds: int = 0,
        seed: int = 0,
        reference_labels: Sequence[str] | None = None,
    ):
        """``bootstrap_rounds`` > 0 adds a 95% interval by resampling prompts
        (:func:`evaluators.fid_stats.bootstrap_frechet`); it keeps float64 statistics per prompt
        (``d x d`` each: 128 KiB for 128-d toy features, 32 MiB for Inception's 2048).

        ``reference_labels``: the prompt id of each row of ``reference.features`` (a reference made
        per prompt, e.g. ground truth per caption). When given, and the labels are exactly the
        run's prompt ids, the bootstrap is *paired*: every round resamples the same prompts in the
        run and in the reference. Otherwise the reference is held fixed (said in ``ci_method``).
        """
        if bootstrap_rounds < 0:
            raise ValueError(f"bootstrap_rounds must be >= 0, got {bootstrap_rounds}")
        self.bootstrap_rounds, self.seed = bootstrap_rounds, seed
        self.reference_labels = list(reference_labels) if reference_labels is not None else None
        super().__init__(features, reference, settings)

    def reset(self) -> None:
        self.stats: FeatureStats | None = None
        self.by_prompt: dict[str, FeatureStats] = {}

    def update(self, batch: EvalBatch) -> None:
        feats = self.feature_set.features(batch)
        if self.stats is None:
            self.stats = FeatureStats(feats.shape[1])
        self.stats.update(feats)
        if self.bootstrap_rounds:
            self._update_groups(feats, batch.prompt_ids)

    def _update_groups(self, feats: np.ndarray, prompt_ids: list[str]) -> None:
        from evaluators.fid_stats import FID_BOOTSTRAP_MAX_BYTES

        dim = feats.shape[1]
        for pid in dict.fromkeys(prompt_ids):
            if pid not in self.by_prompt:
                if (len(self.by_prompt) + 1) * dim * dim * 8 > FID_BOOTSTRAP_MAX_BYTES:
                    raise ValueError(
                        f"the FID bootstrap keeps {dim}x{dim} float64 statistics per prompt: more "
                        f"than {FID_BOOTSTRAP_MAX_BYTES >> 30} GiB for {len(self.by_prompt) + 1} "
                        "prompts; turn it off (--fid-bootstrap 0)"
                    )
                self.by_prompt[pid] = FeatureStats(dim)
            rows = [i for i, p in enumerate(prompt_ids) if p == pid]
            self.by_prompt[pid].update(feats[rows])

    def _interval(
        self, ref: ReferenceStats, value: float
    ) -> tuple[float | None, float | None, str | None]:
        from evaluators.fid_stats import bootstrap_frechet

        if not self.bootstrap_rounds or len(self.by_prompt) < 2 or not np.isfinite(value):
            return None, None, None
        ref_groups = self._paired_reference_groups(ref)
        low, high = bootstrap_frechet(
            list(self.by_prompt.values()),
            ref.stats.mean(),
            ref.stats.covariance(),
            value,
            self.bootstrap_rounds,
            self.seed,
            ref_groups=ref_groups,
        )
        how = (
            "paired: each round resamples the same prompts in the run and in the reference"
            if ref_groups is not None
            else "reference fixed"
        )
        method = (
            f"bootstrap over prompts ({how}; spread of the replicates centred on the estimate), "
            f"{self.bootstrap_rounds} rounds, seed {self.seed}"
        )
        return low, high, method

    def paired_with(self, prompt_ids: Sequence[str]) -> bool:
        """Whether the bootstrap over these run prompts would be paired with the reference."""
        return self.reference_labels is not None and set(self.reference_labels) == set(prompt_ids)

    def _paired_reference_groups(self, ref: ReferenceStats) -> list[FeatureStats] | None:
        """The reference's statistics per prompt, in ``by_prompt`` order, or None (fixed)."""
        if not self.paired_with(list(self.by_prompt)) or ref.features is None:
            return None
        feats = np.asarray(ref.features, dtype=np.float64)
        if len(feats) != len(self.reference_labels):
            raise ValueError(
                f"reference labels: {len(self.reference_labels)} labels for {len(feats)} features"
            )
        labels = np.asarray(self.reference_labels)
        return [FeatureStats(feats.shape[1]).update(feats[labels == pid]) for pid in self.by_prompt]

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
        low, high, method = self._interval(ref, value)
        return MetricResult(
            self.name,
            value,
            self.higher_is_better,
            self.stats.count,
            low,
            high,
            method,
            settings={**self._settings(), "reference_count": ref.stats.count},
            provenance=self._provenance(),
            warnings=warnings,
        )


class KidEvaluator(_FeatureEvaluator):
    """Kernel Inception Distance (the same on toy CLIP features) against the reference's stored
    features (clean-fid's ``kernel_distance``: cubic polynomial kernel, 100 subsets of up to
    1,000, seeded). Unscaled (multiply by 1,000 for the "KID x 10^3" some papers quote). Lower is
    better.
    """

    name = "kid"
    higher_is_better = False

    def __init__(
        self,
        features: FeatureSet,
        reference: ReferenceStats | None = None,
        settings: dict[str, Any] | None = None,
        seed: int = 0,
    ):
        self.seed = seed
        super().__init__(features, reference, settings)

    def reset(self) -> None:
        self.feats: list[np.ndarray] = []

    def update(self, batch: EvalBatch) -> None:
        self.feats.append(self.feature_set.features(batch))

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


class ReferenceCollector(_FeatureEvaluator):
    """Collects statistics (and optionally features) of a reference image set in the decode pass."""

    name = "reference"
    higher_is_better = False

    def __init__(self, features: FeatureSet, keep_features: bool = True):
        self.keep_features = keep_features
        super().__init__(features)

    def reset(self) -> None:
        self.stats: FeatureStats | None = None
        self.feats: list[np.ndarray] = []

    def update(self, batch: EvalBatch) -> None:
        feats = self.feature_set.features(batch)
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
