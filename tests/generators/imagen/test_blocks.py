"""Shapes through every block and both U-Nets; configs; meta-device parameter counts."""

import dataclasses
import json

import pytest
import torch

from generators.imagen.config import (
    CascadeConfig,
    StageConfig,
    UNetConfig,
    list_configs,
    load_config,
)
from generators.imagen.efficient_unet import SKIP_SCALE, EfficientUNet
from generators.imagen.layers import (
    Attention,
    AttentionBlock,
    Conditioner,
    Downsample,
    ResBlock,
    TextConditioning,
    Upsample,
    sinusoidal_embedding,
)
from generators.imagen.params import count_stage_parameters
from generators.imagen.unet import UNet

B, L, D = 2, 5, 24


def _text():
    mask = torch.tensor([[True] * 3 + [False] * 2, [False] * 5])  # second: unconditional
    return torch.randn(B, L, D), mask


def test_block_shapes():
    x, cond = torch.randn(B, 16, 8, 8), torch.randn(B, 32)
    text, mask = _text()
    assert sinusoidal_embedding(torch.tensor([0.0, 3.0]), 10).shape == (2, 10)
    context, pooled = TextConditioning(D, 20, 32)(text, mask)
    assert context.shape == (B, L, 20) and pooled.shape == (B, 32) and torch.isfinite(pooled).all()
    assert ResBlock(16, 24, 32)(x, cond).shape == (B, 24, 8, 8)
    assert Attention(16, 2, 8)(x).shape == x.shape
    cross = Attention(16, 2, 8, context_dim=20)
    nn_out = cross(x, context, mask)
    assert nn_out.shape == x.shape and torch.isfinite(nn_out).all()  # fully masked caption is fine
    assert AttentionBlock(16, 2, 8, 20, True, True)(x, context, mask).shape == x.shape
    assert Downsample(16, 24)(x).shape == (B, 24, 4, 4) and Upsample(16, 8)(x).shape == (
        B,
        8,
        16,
        16,
    )
    c, ctx = Conditioner(D, 20, 32, True)(torch.zeros(B), text, mask, torch.zeros(B))
    assert c.shape == (B, 32) and ctx.shape == (B, L, 20)
    with pytest.raises(ValueError, match="aug_log_snr"):
        Conditioner(D, 20, 32, True)(torch.zeros(B), text, mask)


def _unet_config(arch, self_attn=(False, True), cross=(True, True)):
    return UNetConfig(
        arch,
        16,
        (1, 2),
        (1, 2),
        self_attn,
        cross,
        attention_heads=2,
        attention_head_dim=8,
        cond_dim=32,
        context_dim=20,
    )


@pytest.mark.parametrize(
    "arch,sr", [("base", False), ("base", True), ("efficient", True), ("efficient", False)]
)
def test_unet_shapes(arch, sr):
    cls = UNet if arch == "base" else EfficientUNet
    net = cls(_unet_config(arch), D, super_resolution=sr)
    for p in net.parameters():  # leave the zero-initialised output non-trivial
        torch.nn.init.normal_(p, std=0.05)
    text, mask = _text()
    x = torch.randn(B, 3, 16, 16)
    extra = (torch.randn(B, 3, 16, 16), torch.zeros(B)) if sr else ()
    out = net(x, torch.tensor([1.0, -2.0]), text, mask, *extra)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_coordinate_channels_tell_the_unet_where_a_pixel_is():
    from generators.imagen.unet import coordinate_grid

    grid = coordinate_grid(torch.zeros(2, 3, 4, 5))
    assert grid.shape == (2, 2, 4, 5)
    assert grid[0, 0, 0].tolist() == pytest.approx([-1.0, -0.5, 0.0, 0.5, 1.0])  # x: left -> right
    assert grid[1, 1, :, 3].tolist() == pytest.approx(
        [-1.0, -1 / 3, 1 / 3, 1.0]
    )  # y: top -> bottom
    cfg = dataclasses.replace(_unet_config("base"), coord_channels=True)
    net = UNet(cfg, D)
    assert net.conv_in.in_channels == 5
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)
    text, mask = _text()
    x = torch.zeros(B, 3, 16, 16)  # a blank input: only the coordinates can make the output vary
    out = net(x, torch.tensor([1.0, -2.0]), text, mask)
    assert out.shape == x.shape and (out[:, :, :, 0] - out[:, :, :, -1]).abs().max() > 1e-3
    assert UNetConfig.from_dict({**dataclasses.asdict(cfg)}).coord_channels is True
    with pytest.raises(ValueError, match="base U-Net only"):
        dataclasses.replace(_unet_config("efficient"), coord_channels=True)


def test_text_pooling_last_takes_the_last_real_token():
    torch.manual_seed(0)
    text = torch.randn(3, L, D)
    mask = torch.tensor([[True] * 3 + [False] * 2, [True] * 5, [False] * 5])
    cond = TextConditioning(D, 20, 32, pooling="last")
    torch.nn.init.normal_(cond.null_pooled)
    context, pooled = cond(text, mask)
    expected = cond.to_pooled(torch.stack([context[0, 2], context[1, 4]]))
    assert torch.allclose(pooled[:2], expected) and torch.equal(pooled[2], cond.null_pooled)
    changed = text.clone()
    changed[0, :2] += torch.randn(
        2, D
    )  # earlier tokens change: a "last" pooled vector does not, a mean one does
    assert torch.allclose(cond(changed, mask)[1][0], pooled[0])
    mean = TextConditioning(D, 20, 32)
    assert not torch.allclose(mean(changed, mask)[1][0], mean(text, mask)[1][0])
    cfg = dataclasses.replace(_unet_config("base"), text_pooling="last")
    assert UNet(cfg, D).conditioner.text.pooling == "last"
    assert (
        EfficientUNet(
            dataclasses.replace(cfg, architecture="efficient"), D
        ).conditioner.text.pooling
        == "last"
    )
    assert UNetConfig.from_dict(dataclasses.asdict(cfg)).text_pooling == "last"
    assert _unet_config("base").text_pooling == "mean"  # the paper's default
    with pytest.raises(ValueError, match="text_pooling must be one of"):
        dataclasses.replace(cfg, text_pooling="max")


def test_efficient_unet_without_self_attention_has_only_cross_attention():
    net = EfficientUNet(_unet_config("efficient", self_attn=(False, False), cross=(False, True)), D)
    attns = [m for m in net.modules() if isinstance(m, AttentionBlock)]
    assert all(a.self_attn is None for a in attns) and any(a.cross_attn is not None for a in attns)
    assert pytest.approx(2**-0.5) == SKIP_SCALE


def test_config_from_dict_rejects_unknown_keys_and_round_trips(tmp_path):
    cfg = load_config("imagen-tiny")
    data = cfg.to_dict()
    assert CascadeConfig.from_dict(json.loads(json.dumps(data))) == cfg
    bad = json.loads(json.dumps(data))
    bad["stages"][0]["unet"]["chanels"] = 3
    with pytest.raises(ValueError, match=r"unknown key.*chanels"):
        CascadeConfig.from_dict(bad)
    with pytest.raises(ValueError, match="unknown key"):
        StageConfig.from_dict({**data["stages"][0], "size": 3})
    with pytest.raises(ValueError, match="low_res_size must equal"):
        dataclasses.replace(
            cfg, stages=(cfg.stages[0], dataclasses.replace(cfg.stages[1], low_res_size=8))
        )
    with pytest.raises(ValueError, match=r"unknown config 'nope'.*imagen-paper"):
        load_config("nope")
    assert {"imagen-paper", "imagen-tiny"} <= set(list_configs())


def test_paper_size_parameter_counts_on_meta_device(capsys):
    counts = count_stage_parameters(load_config("imagen-paper"))
    targets = [2.0e9, 600e6, 400e6]
    with capsys.disabled():
        print(
            "\nImagen paper-size U-Net parameters:",
            ", ".join(
                f"stage {k}: {n / 1e6:.1f}M (target {t / 1e6:.0f}M)"
                for k, (n, t) in enumerate(zip(counts, targets, strict=True))
            ),
        )
    for n, target in zip(counts, targets, strict=True):
        assert abs(n - target) / target < 0.15
