"""FID / KID maths on feature arrays: sufficient statistics, Frechet distance, KID, guard-rails.

Pure numerics (numpy, scipy, and clean-fid's own ``frechet_distance`` / ``kernel_distance``);
no model loading here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: FID below this many images is computed from a rank-deficient covariance (Inception pool3
#: features have 2,048 dimensions); clean-fid and the FID paper use 50k, Imagen 30k.
FID_MIN_IMAGES = 2048
#: SciPy releases whose ``linalg.sqrtm`` regressed (wrong / slow results on FID-sized matrices;
#: scipy issue #18946, fixed in 1.13): first and last affected version.
SCIPY_SQRTM_BAD = ((1, 11, 2), (1, 12, 99))
#: KID defaults, clean-fid's ``kernel_distance``: subsets and their maximum size.
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


@dataclass
class FeatureStats:
    """Float64 sufficient statistics of a feature set: count, sum, sum of outer products.

    Merging is exact up to float64 summation order, so shards, batches and reference sets
    combine: ``a.merge(b)`` equals the statistics of the concatenated features.

    Attributes:
        count: number of feature vectors ``n``.
        total: ``[d]`` float64, ``sum_i x_i``.
        outer: ``[d, d]`` float64, ``sum_i x_i x_i^T``.
    """

    dim: int
    count: int = 0
    total: np.ndarray = field(default=None)  # type: ignore[assignment]
    outer: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.total is None:
            self.total = np.zeros(self.dim, dtype=np.float64)
        if self.outer is None:
            self.outer = np.zeros((self.dim, self.dim), dtype=np.float64)

    def update(self, features: np.ndarray) -> FeatureStats:
        """Add a ``[n, d]`` batch of features (any float dtype; accumulated in float64)."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected features of shape [n, {self.dim}], got {list(x.shape)}")
        self.count += x.shape[0]
        self.total += x.sum(axis=0)
        self.outer += x.T @ x
        return self

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Statistics of both sets together (a new object)."""
        if other.dim != self.dim:
            raise ValueError(f"cannot merge statistics of dimension {self.dim} and {other.dim}")
        return FeatureStats(
            self.dim, self.count + other.count, self.total + other.total, self.outer + other.outer
        )

    def mean(self) -> np.ndarray:
        """``mu = total / n``, ``[d]`` float64."""
        if self.count < 1:
            raise ValueError("no features: the statistics are empty")
        return self.total / self.count

    def covariance(self) -> np.ndarray:
        """Unbiased covariance ``(outer - n mu mu^T) / (n - 1)``, ``[d, d]`` float64 (as ``np.cov``)."""
        if self.count < 2:
            raise ValueError(f"a covariance needs at least 2 images, got {self.count}")
        mu = self.mean()
        cov = (self.outer - self.count * np.outer(mu, mu)) / (self.count - 1)
        return (cov + cov.T) / 2  # exact symmetry

    @classmethod
    def from_features(cls, features: np.ndarray) -> FeatureStats:
        x = np.asarray(features)
        return cls(x.shape[1]).update(x)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Frechet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2) (clean-fid's function).

    ``d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2})``, with the matrix
    square root from ``scipy.linalg.sqrtm`` (an ``eps = 1e-6`` diagonal offset is added when the
    product is singular; a tiny imaginary part is dropped). Delegates to
    ``cleanfid.fid.frechet_distance`` so numbers match clean-fid exactly. clean-fid 0.1.35 passes
    ``disp=False`` to ``sqrtm``, which newer SciPy releases no longer accept (a TypeError); then
    the same formula runs here (:func:`frechet_distance_scipy`: the same ``sqrtm``, the same
    numbers where both run).

    Args:
        mu1, mu2: ``[d]`` means. sigma1, sigma2: ``[d, d]`` covariances.
    """
    from cleanfid.fid import frechet_distance as _cleanfid_fd

    args = [np.asarray(a, np.float64) for a in (mu1, sigma1, mu2, sigma2)]
    try:
        return float(_cleanfid_fd(*args))
    except TypeError as err:
        if "disp" not in str(err):
            raise
        return frechet_distance_scipy(*args)


def frechet_distance_scipy(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """:func:`frechet_distance` computed here, for SciPy releases clean-fid 0.1.35 cannot call:
    ``scipy.linalg.sqrtm`` of ``sigma1 @ sigma2``; when that is not finite, of the product with
    ``eps`` added to both diagonals; a complex result must have a diagonal imaginary part within
    1e-3 of 0 (ValueError otherwise) and keeps its real part."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(
            f"mismatched statistics: means {mu1.shape} vs {mu2.shape}, "
            f"covariances {sigma1.shape} vs {sigma2.shape}"
        )
    root = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(root).all():
        offset = np.eye(sigma1.shape[0]) * eps
        root = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(root):
        imaginary = np.abs(np.diagonal(root).imag).max()
        if imaginary > 1e-3:
            raise ValueError(f"matrix square root has an imaginary part of {imaginary:.3g}")
        root = root.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(root))


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``Tr((sigma1 sigma2)^{1/2})`` for symmetric positive semi-definite matrices, without a
    general matrix square root.

    ``sigma1 sigma2`` is similar to ``R^T sigma2 R`` with ``R = U diag(sqrt(s))`` from
    ``sigma1 = U diag(s) U^T``; that matrix is symmetric PSD, so its eigenvalues are real and
    non-negative and the trace of the principal square root is the sum of their square roots. Two
    symmetric eigendecompositions replace ``scipy.linalg.sqrtm`` of a non-symmetric product: a
    bootstrap round 11.5x faster at 128 dimensions and 4.6x at 2,048 (bench_fid_bootstrap.py,
    benchmarks/RESULTS.md), equal to float64 precision where ``sqrtm`` is accurate, and with no
    imaginary part to drop when the product is singular (rounding's tiny negative eigenvalues are
    clipped to 0).
    """
    s, u = np.linalg.eigh(np.asarray(sigma1, np.float64))
    r = u * np.sqrt(np.clip(s, 0.0, None))
    m = r.T @ np.asarray(sigma2, np.float64) @ r
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def frechet_distance_eigh(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """The Frechet distance of :func:`frechet_distance` with its trace term from
    :func:`trace_sqrt_product`: for the many distances of a bootstrap (the reported estimate
    itself always comes from clean-fid's function)."""
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    return float(
        diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2)
    )


#: Largest memory (bytes) the per-prompt statistics of a FID bootstrap may take.
FID_BOOTSTRAP_MAX_BYTES = 2 * 1024**3


def bootstrap_frechet(
    groups: list[FeatureStats],
    ref_mu: np.ndarray,
    ref_sigma: np.ndarray,
    estimate: float,
    rounds: int,
    seed: int = 0,
    level: float = 0.95,
    ref_groups: list[FeatureStats] | None = None,
    distance=None,
) -> tuple[float, float]:
    """Bootstrap interval of the Frechet distance over resampled prompts, around ``estimate``.

    Each round draws ``len(groups)`` prompts with replacement (a prompt keeps all its images) and
    merges their sufficient statistics (count, sum, sum of outer products, weighted by how often a
    prompt was drawn) into one Gaussian, whose distance to the reference is computed with
    ``distance`` (default :func:`frechet_distance_eigh`: the same distance as clean-fid's, without
    ``sqrtm``; comparisons pass :func:`frechet_distance`). Rounds with fewer than 2 images or a
    distance that is not finite are skipped.

    The reference is either held fixed at ``N(ref_mu, ref_sigma)`` or, with ``ref_groups`` (the
    reference's statistics per prompt, aligned with ``groups``: reference images made for the same
    prompts, as ground truth per caption is), *paired*: each round merges the reference groups of
    the same draw with the same weights, so run and reference always describe the same prompts.
    Pairing is the right resampling when the reference is prompt-matched: FID then measures how
    far the images are from the truth *for these prompts*, and a fixed reference would add, to
    every round, the mismatch between a resampled prompt mix and the original one (for a run
    drawn from the reference's own distribution this mismatch, not the images, set the width:
    measured in benchmarks/RESULTS.md). Neither version covers the reference images' own noise.

    A resample repeats images, which shrinks the covariance's effective sample size, so FID's
    bootstrap replicates sit *above* the estimate (FID is biased upward in small samples). The
    interval therefore keeps the spread of the replicates but centres it on the estimate:
    ``[estimate - (median - q_low), estimate + (q_high - median)]``, floored at 0. It says how much
    the number moves with the prompts drawn, not where the infinite-sample FID lies.

    Args:
        groups: one FeatureStats per prompt. estimate: the FID of all groups together.
        rounds: resamples (> 0). seed: numpy Generator seed.
    """
    if rounds < 1 or len(groups) < 2:
        raise ValueError(
            f"a FID bootstrap needs rounds >= 1 and >= 2 prompts, got {rounds}, {len(groups)}"
        )
    if ref_groups is not None and len(ref_groups) != len(groups):
        raise ValueError(
            f"paired FID bootstrap: {len(ref_groups)} reference groups for {len(groups)} prompts"
        )
    run_side = _GroupStats(groups)
    ref_side = _GroupStats(ref_groups) if ref_groups is not None else None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        w = rng.multinomial(len(groups), np.full(len(groups), 1.0 / len(groups))).astype(np.float64)
        gaussian = run_side.merged(w)
        ref = (ref_mu, ref_sigma) if ref_side is None else ref_side.merged(w)
        if gaussian is None or ref is None:
            continue
        try:
            value = (distance or frechet_distance_eigh)(*gaussian, *ref)
        except (np.linalg.LinAlgError, ValueError):  # no convergence; sqrtm's imaginary part
            continue
        if np.isfinite(value):
            values.append(value)
    if not values:
        raise ValueError("every bootstrap round of the FID interval was degenerate")
    alpha = (1 - level) / 2
    low, mid, high = np.quantile(values, [alpha, 0.5, 1 - alpha])
    return max(0.0, float(estimate - (mid - low))), float(estimate + (high - mid))


class _GroupStats:
    """Per-prompt sufficient statistics stacked for weighted merging (bootstrap rounds)."""

    def __init__(self, groups: list[FeatureStats]) -> None:
        self.counts = np.array([g.count for g in groups], dtype=np.float64)
        self.totals = np.stack([g.total for g in groups])
        self.outers = np.stack([g.outer for g in groups]).reshape(len(groups), -1)
        self.dim = self.totals.shape[1]

    def merged(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Mean and (symmetrised) covariance of the groups repeated ``weights`` times; None when
        fewer than 2 images are drawn."""
        n = float(weights @ self.counts)
        if n < 2:
            return None
        mu = (weights @ self.totals) / n
        cov = ((weights @ self.outers).reshape(self.dim, self.dim) - n * np.outer(mu, mu)) / (n - 1)
        return mu, (cov + cov.T) / 2


def kernel_inception_distance(
    features1: np.ndarray,
    features2: np.ndarray,
    seed: int = 0,
    num_subsets: int = KID_SUBSETS,
    max_subset_size: int = KID_SUBSET_SIZE,
) -> float:
    """KID (unscaled, as clean-fid reports it) between two ``[n, d]`` feature sets.

    Unbiased MMD^2 with the polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over
    ``num_subsets`` random subsets of size ``m = min(n1, n2, max_subset_size)``: clean-fid's
    ``kernel_distance``, run under a seeded NumPy RNG (the global state is restored afterwards).
    """
    from cleanfid.fid import kernel_distance

    m = min(len(features1), len(features2), max_subset_size)
    if m < 2:
        raise ValueError(
            f"KID needs at least 2 images in each set, got {len(features1)} and {len(features2)}"
        )
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        return float(
            kernel_distance(
                np.asarray(features1),
                np.asarray(features2),
                num_subsets=num_subsets,
                max_subset_size=max_subset_size,
            )
        )
    finally:
        np.random.set_state(state)


# --------------------------------------------------------------------------- guard-rails


def small_sample_warning(n: int, dim: int = FID_MIN_IMAGES) -> str | None:
    """Warning when ``n`` images are too few for a stable FID of ``dim``-dimensional features.

    Fewer than FID_MIN_IMAGES images always warn (FID is biased upwards, more so for small ``n``);
    the message says whether the covariance is also rank-deficient (``n <= dim``: Inception's
    2,048 dimensions; toy CLIP features have 128).
    """
    if n <= dim:
        return (
            f"FID from {n} images: no more images than the {dim} feature dimensions gives a "
            "rank-deficient covariance; FID is biased upwards and not comparable with FIDs from "
            f"other sample sizes (use 10k-50k images, at least {FID_MIN_IMAGES})"
        )
    if n < FID_MIN_IMAGES:
        return (
            f"FID from {n} images (fewer than {FID_MIN_IMAGES}): FID is biased upwards and not "
            "comparable with FIDs from other sample sizes (use 10k-50k images)"
        )
    return None


def scipy_sqrtm_warning(version: str | None = None) -> str | None:
    """Warning for SciPy versions with the ``linalg.sqrtm`` regression (1.11.2 to 1.12.x)."""
    import scipy

    version = version or scipy.__version__
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    parts = (*parts, 0, 0, 0)[:3]
    low, high = SCIPY_SQRTM_BAD
    if low <= parts <= high:
        return (
            f"SciPy {version} has the linalg.sqrtm regression (1.11.2 to 1.12.x) that can make "
            "FID wrong or very slow; install scipy>=1.13 (or <=1.11.1)"
        )
    return None


def non_finite_warning(value: float) -> str | None:
    if not np.isfinite(value):
        return (
            f"FID is {value}: the covariance product has no real square root (too few images, "
            "or non-finite features); do not report this number"
        )
    return None
