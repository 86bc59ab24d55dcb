"""Learning for real (slow tier): a tiny two-stage cascade trained on CPU on coloured shapes."""

import dataclasses

import pytest
import torch

from generators.imagen.cascade import ImagenCascade
from generators.imagen.config import load_config
from generators.imagen.dataset import ImageCaptionDataset
from generators.imagen.stage import SamplingOptions
from generators.imagen.toy import create_tiny_t5_encoder, make_shapes_dataset
from generators.imagen.train import TrainOptions, train_stage


@pytest.mark.slow
def test_tiny_cascade_learns_shapes(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "ckpt"
    make_shapes_dataset(
        data, per_caption=6, size=32, colours=("red", "green", "blue"), shapes=("circle", "square")
    )
    enc = create_tiny_t5_encoder()
    cfg = dataclasses.replace(
        load_config("imagen-tiny"), text_embed_dim=32, max_text_length=16, text_encoder="tiny"
    )
    opts = dict(batch_size=12, lr=1e-3, ema_decay=0.99, save_every=10_000, progress=False)
    l0 = train_stage(cfg, 0, data, out, enc, TrainOptions(steps=600, **opts))
    l1 = train_stage(cfg, 1, data, out, enc, TrainOptions(steps=200, **opts))
    start0, end0 = sum(l0[:10]) / 10, sum(l0[-10:]) / 10
    start1, end1 = sum(l1[:10]) / 10, sum(l1[-10:]) / 10

    trained = ImagenCascade.from_pretrained(out, text_encoder=enc)
    torch.manual_seed(1)
    untrained = ImagenCascade.create(cfg, enc)
    sampling = [
        SamplingOptions(steps=20, guidance_weight=3.0),
        SamplingOptions(steps=20, guidance_weight=1.0),
    ]
    ds = ImageCaptionDataset(data, 32)
    mse = {}
    for name, cascade in [("trained", trained), ("untrained", untrained)]:
        errs = []
        for caption in ("a red circle", "a blue square"):
            ref = torch.stack([x for x, c in ds if c == caption])
            x = cascade.sample([caption] * 3, [11, 12, 13], sampling)
            errs.append(
                ((x[:, None] - ref[None]) ** 2).mean(dim=(2, 3, 4)).min(dim=1).values.mean()
            )
        mse[name] = float(torch.stack(errs).mean())
    with capsys.disabled():
        print(
            f"\nlearning: stage 0 loss {start0:.4f} -> {end0:.4f}; stage 1 loss {start1:.4f} -> {end1:.4f}; sample MSE to caption images trained {mse['trained']:.4f} vs untrained {mse['untrained']:.4f}"
        )
    assert end0 < 0.5 * start0 and end1 < 0.7 * start1
    # measured (seed-fixed): trained 0.618 vs untrained 0.909; "closer" with a clear 20% margin
    assert mse["trained"] < 0.8 * mse["untrained"]
