"""Classifier-free guidance and thresholding, pinned on hand-made tensors."""

import pytest
import torch

from generators.imagen.guidance import (
    DEFAULT_DYNAMIC_THRESHOLD_PERCENTILE,
    apply_threshold,
    classifier_free_guidance,
    dynamic_threshold,
    static_threshold,
)


def test_guidance_weight_one_returns_conditional_exactly():
    cond, uncond = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    assert torch.equal(classifier_free_guidance(cond, uncond, 1.0), cond)


def test_guidance_formula_on_hand_made_tensors():
    cond, uncond = torch.tensor([1.0, 2.0, -1.0]), torch.tensor([0.5, 2.0, 1.0])
    # eps_u + w (eps_c - eps_u) with w = 3: [0.5 + 1.5, 2 + 0, 1 - 6]
    assert torch.allclose(
        classifier_free_guidance(cond, uncond, 3.0), torch.tensor([2.0, 2.0, -5.0])
    )
    assert torch.equal(classifier_free_guidance(cond, uncond, 0.0), uncond)


def test_static_threshold_clips():
    x = torch.tensor([-3.0, -1.0, 0.2, 1.0, 7.0])
    assert torch.equal(static_threshold(x), torch.tensor([-1.0, -1.0, 0.2, 1.0, 1.0]))


def test_dynamic_threshold_worked_example():
    # |x| = 0..9 (10 values); the 90th percentile (linear interpolation) is 8.1 -> s = 8.1.
    x = torch.arange(10, dtype=torch.float32).mul(torch.tensor([1.0, -1.0]).repeat(5))[None]
    out = dynamic_threshold(x, 0.9)
    expected = x.clamp(-8.1, 8.1) / 8.1
    assert torch.allclose(out, expected)
    assert out.abs().max() == pytest.approx(1.0)


def test_dynamic_threshold_identity_inside_unit_range_and_per_sample():
    small = torch.rand(1, 3, 8, 8) * 2 - 1  # |x| <= 1 -> s = 1 -> identity
    big = torch.randn(1, 3, 8, 8) * 5
    out = dynamic_threshold(torch.cat([small, big]), DEFAULT_DYNAMIC_THRESHOLD_PERCENTILE)
    assert torch.equal(out[0], small[0])
    assert out.min() >= -1 and out.max() <= 1
    assert out[1].abs().max() == pytest.approx(1.0)


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_thresholds_land_in_unit_range_and_are_identity_inside(mode):
    x = torch.randn(4, 3, 16, 16) * 4
    out = apply_threshold(x, mode)
    assert out.min() >= -1.0 and out.max() <= 1.0
    inside = torch.rand(2, 3, 4, 4) * 2 - 1
    assert torch.equal(apply_threshold(inside, mode), inside)


def test_default_percentile_and_errors():
    assert DEFAULT_DYNAMIC_THRESHOLD_PERCENTILE == 0.995
    with pytest.raises(ValueError, match="unknown threshold"):
        apply_threshold(torch.zeros(1, 1), "soft")
    with pytest.raises(ValueError, match="percentile"):
        dynamic_threshold(torch.zeros(1, 1), 1.5)
