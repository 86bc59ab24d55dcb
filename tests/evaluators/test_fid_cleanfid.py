"""The project's FID equals clean-fid's compute_fid on the same folders with the same extractor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from drawbench.pipeline.evaluate import ImageItem, compute_reference, decode_pass
from evaluators.fid import FidEvaluator, InceptionFeatures, KidEvaluator
from evaluators.fid_stats import kernel_inception_distance
from evaluators.inception import FID_MODES, FidPreprocess


class TinyExtractor(torch.nn.Module):
    """Random-weight stand-in for Inception: any input size, 8 nonlinear features."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.proj = torch.nn.Parameter(torch.randn(48, 8, generator=g), requires_grad=False)

    def forward(self, x):
        pooled = torch.nn.functional.adaptive_avg_pool2d(x / 255, 4).flatten(1)
        return torch.sin(3 * pooled @ self.proj)


def _folder(path, n, seed, size=(96, 80)):
    path.mkdir()
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    for i in range(n):
        noise = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        img = np.asarray(Image.fromarray(base).resize(size, Image.BILINEAR)) // 2 + noise // 2
        Image.fromarray(img.astype(np.uint8)).save(path / f"{i:03d}.png")
    return sorted(path.glob("*.png"))


def _ours(files1, files2, root2, extractor, mode):
    features = InceptionFeatures(extractor, mode, provenance={"implementation": "tiny"})
    ref = compute_reference(files2, root2, features, workers=0, progress=False, batch_size=5)
    fid, kid = FidEvaluator(features, ref), KidEvaluator(features, ref)
    decode_pass(
        [ImageItem(p, "", "", "") for p in files1],
        [fid, kid],
        batch_size=7,
        workers=0,
        progress=False,
    )
    return fid.compute().value, kid, ref


@pytest.mark.parametrize("mode", FID_MODES)
def test_fid_equals_clean_fid_compute_fid(tmp_path, mode):
    from cleanfid.fid import compute_fid

    files1, files2 = _folder(tmp_path / "a", 24, 1), _folder(tmp_path / "b", 20, 2)
    extractor = TinyExtractor().eval()
    theirs = compute_fid(
        str(tmp_path / "a"),
        str(tmp_path / "b"),
        mode=mode,
        custom_feat_extractor=extractor,
        num_workers=0,
        batch_size=8,
        device=torch.device("cpu"),
        verbose=False,
    )
    ours, kid, ref = _ours(files1, files2, tmp_path / "b", extractor, mode)
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert ref.provenance["mode"] == mode and ref.stats.count == 20
    # KID from stored features: the reference's features and the run's, through clean-fid's kernel
    feats1 = np.concatenate(kid.feats)
    assert kid.compute().value == kernel_inception_distance(ref.features, feats1, seed=0)


@pytest.mark.parametrize("mode", FID_MODES)
def test_preprocessing_equals_clean_fid_resize_dataset(tmp_path, mode):
    from cleanfid.utils import ResizeDataset

    files = _folder(tmp_path / "a", 2, 3, size=(130, 70))
    theirs = ResizeDataset([str(f) for f in files], mode=mode)[1]
    ours = FidPreprocess(mode)(Image.open(files[1]).convert("RGB"))
    assert ours.dtype == theirs.dtype and torch.equal(ours, theirs)


@pytest.mark.slow
def test_fid_equals_clean_fid_with_random_weight_inception(tmp_path):
    """Same check with the real Inception architecture (random weights), clean mode."""
    from cleanfid.fid import compute_fid

    from evaluators.inception import create_inception

    files1, files2 = _folder(tmp_path / "a", 6, 4), _folder(tmp_path / "b", 6, 5)
    inception = create_inception("clean", random_seed=0)
    theirs = compute_fid(
        str(tmp_path / "a"),
        str(tmp_path / "b"),
        mode="clean",
        custom_feat_extractor=inception.model_fn,
        num_workers=0,
        batch_size=6,
        device=torch.device("cpu"),
        verbose=False,
    )
    ours, _, _ = _ours(files1, files2, tmp_path / "b", inception, "clean")
    assert ours == pytest.approx(theirs, rel=1e-6)
