"""`drawbench imagen train` / `params` end to end on a tiny set (few steps), with resume."""

import dataclasses
import json

import pytest

from drawbench.cli import main
from generators.imagen.config import load_config
from generators.imagen.dataset import list_image_captions
from generators.imagen.toy import create_tiny_t5_encoder, make_shapes_dataset


@pytest.fixture
def setup(tmp_path):
    data = tmp_path / "data"
    make_shapes_dataset(data, per_caption=2, size=32, colours=("red",), shapes=("circle", "square"))
    t5 = tmp_path / "t5"
    enc = create_tiny_t5_encoder()
    enc.tokenizer.save_pretrained(t5)
    enc.model.save_pretrained(t5)
    cfg = dataclasses.replace(
        load_config("imagen-tiny"), text_embed_dim=32, max_text_length=16, text_encoder=str(t5)
    )
    (tmp_path / "cfg.json").write_text(cfg.to_json())
    return tmp_path


def test_train_both_stages_and_resume(setup, capsys):
    out = setup / "ckpt"
    common = [
        "--data",
        str(setup / "data"),
        "--config",
        str(setup / "cfg.json"),
        "--out",
        str(out),
        "--batch-size",
        "2",
        "--lr",
        "1e-3",
    ]
    assert main(["imagen", "train", "--stage", "0", "--steps", "2", *common]) == 0
    assert (
        main(
            [
                "imagen",
                "train",
                "--stage",
                "0",
                "--steps",
                "3",
                "--grad-accum",
                "2",
                "--resume",
                *common,
            ]
        )
        == 0
    )
    assert "1 steps" in capsys.readouterr().out  # resumed at step 2, ran step 3 only
    assert main(["imagen", "train", "--stage", "1", "--steps", "1", *common]) == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "stage_0.safetensors",
        "stage_1.safetensors",
        "stage_0.train.pt",
    } <= names
    assert json.loads((out / "config.json").read_text())["text_embed_dim"] == 32


def test_train_errors(setup, capsys):
    assert (
        main(
            [
                "imagen",
                "train",
                "--stage",
                "5",
                "--data",
                str(setup / "data"),
                "--config",
                str(setup / "cfg.json"),
            ]
        )
        == 2
    )
    assert "--stage must lie in [0, 1]" in capsys.readouterr().err
    assert (
        main(
            [
                "imagen",
                "train",
                "--stage",
                "0",
                "--data",
                str(setup / "nope"),
                "--config",
                str(setup / "cfg.json"),
            ]
        )
        == 2
    )
    assert "not found" in capsys.readouterr().err
    assert (
        main(
            [
                "imagen",
                "train",
                "--stage",
                "0",
                "--data",
                str(setup / "data"),
                "--config",
                "imagen-tiny",
            ]
        )
        == 2
    )
    assert "--text-encoder PATH" in capsys.readouterr().err


def test_sidecar_captions_and_params(tmp_path, capsys):
    make_shapes_dataset(tmp_path, per_caption=1, size=8, colours=("red",), shapes=("circle",))
    (tmp_path / "captions.csv").unlink()
    (tmp_path / "red_circle_0.txt").write_text("a red circle\n")
    assert list_image_captions(tmp_path) == [(tmp_path / "red_circle_0.png", "a red circle")]
    assert main(["imagen", "params", "--config", "imagen-paper"]) == 0
    assert "stage 2 (efficient U-Net, 256->1024)" in capsys.readouterr().out
