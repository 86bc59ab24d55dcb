"""FID/KID maths: Frechet distance against scipy, exact merging of sufficient statistics, guard-rails."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from evaluators.fid_stats import (
    FeatureStats,
    frechet_distance,
    frechet_distance_eigh,
    kernel_inception_distance,
    scipy_sqrtm_warning,
    small_sample_warning,
)


def _spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + np.eye(d) * 0.1


def test_frechet_distance_matches_direct_scipy_formula():
    rng = np.random.default_rng(0)
    d = 16
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = _spd(rng, d), _spd(rng, d)
    direct = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(direct, rel=1e-9)


@pytest.mark.parametrize("d, n", [(16, 400), (64, 300), (32, 12)])  # the last: rank 11 of 32
def test_eigh_distance_equals_clean_fids_sqrtm_distance(d, n):
    """The bootstrap's sqrtm-free distance equals clean-fid's, full rank or rank-deficient (fewer
    images than dimensions, as a small FID sample is)."""
    rng = np.random.default_rng(d)
    a = FeatureStats.from_features(rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) / d)
    b = FeatureStats.from_features(rng.normal(0.3, 1.2, size=(4 * n, d)))
    args = (a.mean(), a.covariance(), b.mean(), b.covariance())
    assert frechet_distance_eigh(*args) == pytest.approx(frechet_distance(*args), rel=1e-8)
    itself = (a.mean(), a.covariance(), a.mean(), a.covariance())  # exactly 0: rounding only
    assert abs(frechet_distance_eigh(*itself)) <= max(abs(frechet_distance(*itself)), 1e-12)


def test_own_formula_equals_clean_fid_where_clean_fid_runs():
    from cleanfid.fid import frechet_distance as cleanfid_fd

    from evaluators.fid_stats import frechet_distance_scipy

    rng = np.random.default_rng(3)
    for d in (8, 64):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _spd(rng, d), _spd(rng, d)
        try:
            theirs = float(cleanfid_fd(mu1, s1, mu2, s2))
        except TypeError:  # a SciPy without sqrtm(disp=...): clean-fid cannot run here
            pytest.skip("clean-fid's frechet_distance does not run with this SciPy")
        assert frechet_distance_scipy(mu1, s1, mu2, s2) == pytest.approx(theirs, rel=1e-12)
    with pytest.raises(ValueError, match="mismatched statistics"):
        frechet_distance_scipy(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_a_scipy_that_clean_fid_cannot_call_falls_back_to_the_same_formula(monkeypatch):
    """SciPy releases newer than clean-fid 0.1.35 dropped ``sqrtm(disp=...)``: clean-fid's
    frechet_distance raises TypeError there (seen on the GPU machine's image, 2026-11-23)."""
    import cleanfid.fid

    rng = np.random.default_rng(4)
    mu1, mu2, s1, s2 = rng.normal(size=6), rng.normal(size=6), _spd(rng, 6), _spd(rng, 6)
    expected = frechet_distance(mu1, s1, mu2, s2)

    def new_scipy(*args, **kwargs):
        raise TypeError("sqrtm() got an unexpected keyword argument 'disp'")

    monkeypatch.setattr(cleanfid.fid, "frechet_distance", new_scipy)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-12)

    def other_error(*args, **kwargs):
        raise TypeError("something else")

    monkeypatch.setattr(cleanfid.fid, "frechet_distance", other_error)
    with pytest.raises(TypeError, match="something else"):
        frechet_distance(mu1, s1, mu2, s2)


@pytest.mark.parametrize("d", [2, 5, 64])
def test_fid_identity_covariances_unit_mean_shift_is_d(d):
    assert frechet_distance(np.zeros(d), np.eye(d), np.ones(d), np.eye(d)) == pytest.approx(
        d, rel=1e-12
    )


def test_fid_of_a_set_with_itself_is_zero():
    feats = np.random.default_rng(1).normal(size=(200, 12))
    s = FeatureStats.from_features(feats)
    assert abs(frechet_distance(s.mean(), s.covariance(), s.mean(), s.covariance())) < 1e-9


def test_streamed_and_sharded_statistics_equal_one_shot():
    rng = np.random.default_rng(2)
    feats = rng.normal(loc=3.0, size=(1000, 32)).astype(np.float32)
    streamed = FeatureStats(32)
    for start, stop in [(0, 7), (7, 300), (300, 301), (301, 1000)]:
        streamed.update(feats[start:stop])
    shards = [FeatureStats.from_features(part) for part in np.array_split(feats, 3)]
    merged = shards[0].merge(shards[1]).merge(shards[2])
    mu, cov = feats.astype(np.float64).mean(0), np.cov(feats.astype(np.float64), rowvar=False)
    for s in (streamed, merged):
        assert s.count == 1000
        np.testing.assert_allclose(s.mean(), mu, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(s.covariance(), cov, rtol=1e-10, atol=1e-12)


def test_feature_stats_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"shape \[n, 4\]"):
        FeatureStats(4).update(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="at least 2 images"):
        FeatureStats(4).update(np.zeros((1, 4))).covariance()


def test_kid_is_seeded_equals_clean_fid_and_restores_global_rng():
    from cleanfid.fid import kernel_distance

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(50, 8)), rng.normal(0.5, size=(40, 8))
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    k1 = kernel_inception_distance(a, b, seed=7, num_subsets=20)
    assert np.array_equal(np.random.get_state()[1], before)
    np.random.seed(7)
    assert k1 == kernel_distance(a, b, num_subsets=20)
    assert k1 == kernel_inception_distance(a, b, seed=7, num_subsets=20)


@pytest.mark.parametrize(
    ("version", "bad"),
    [
        ("1.11.1", False),
        ("1.11.2", True),
        ("1.12.0", True),
        ("1.12.9", True),
        ("1.13.0", False),
        ("1.17.1", False),
    ],
)
def test_scipy_sqrtm_regression_versions(version, bad):
    assert (scipy_sqrtm_warning(version) is not None) == bad


def test_small_sample_warning():
    assert "2048" in small_sample_warning(100)
    assert small_sample_warning(10_000) is None
