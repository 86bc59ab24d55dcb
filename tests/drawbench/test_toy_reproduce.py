"""The documented commands that made the shipped toy-world weights run, at reduced length, and
produce models of exactly the shipped architecture (issue 8: reproducible weights)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from drawbench.cli import main

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]


def _tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)


def test_toy_cascade_commands_make_the_shipped_architecture(tmp_path, capsys):
    from generators.imagen.checkpoint import load_cascade_config, stage_weights_path
    from generators.imagen.toy_generator import toy_checkpoint_dir

    data, out = tmp_path / "toy-train", tmp_path / "imagen-toy"
    assert main(["toyworld", "dataset", "--out", str(data), "--scenes", "8", "--seed", "1",
                 "--no-progress"]) == 0  # fmt: skip
    common = ["--data", str(data), "--config", "imagen-toy", "--out", str(out), "--steps", "2",
              "--lr", "5e-4", "--ema-decay", "0.998", "--seed", "0"]  # fmt: skip
    assert main(["imagen", "train", "--stage", "0", "--batch-size", "4", *common]) == 0
    assert main(["imagen", "train", "--stage", "1", "--batch-size", "4", *common]) == 0
    shipped = toy_checkpoint_dir("trained")
    assert load_cascade_config(out) == load_cascade_config(shipped)
    for k in (0, 1):
        assert _tensor_shapes(stage_weights_path(out, k)) == _tensor_shapes(
            stage_weights_path(shipped, k)
        )
    record = json.loads((shipped / "TRAINING.json").read_text())
    assert record["config"] == "imagen-toy" and "drawbench imagen train" in record["commands"][1]
    # the cascade learns from the training split only: the held-out prompts test composition
    assert "--split" not in record["commands"][0]
    assert json.loads((data / "toyworld.json").read_text())["split"] == "train"


#: The recorded training commands are rerun with these settings (reduced length); the rest of each
#: command (tower, seed, split, augmentation, hard-negative kinds, position rule...) is kept as
#: recorded. --init is replaced by the folder the previous command of the chain wrote.
REDUCED = {"--steps": "2", "--batch-size": "8", "--eval-scenes": "8", "--threads": "1"}
REPLACED = {*REDUCED, "--out", "--init", "--log-every"}


def _rerun(command: str, out: Path, init: Path | None) -> dict:
    """Run a recorded ``train_toyclip.py`` command at reduced length into ``out``; its provenance."""
    from evaluators.toyclip import read_toyclip_config

    words = shlex.split(command)
    assert words[:2] == ["python", "benchmarks/train_toyclip.py"], command
    kept, it = [], iter(words[2:])
    for word in it:
        if word in REPLACED:
            next(it)  # every replaced flag takes a value
        else:
            kept.append(word)
    reduced = [w for pair in REDUCED.items() for w in pair]
    cmd = [sys.executable, str(ROOT / "benchmarks" / "train_toyclip.py"), *kept, *reduced,
           "--out", str(out), *(["--init", str(init)] if init else [])]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    return read_toyclip_config(out)[1]


def _same_recipe(made: dict, recorded: dict) -> None:
    for key, value in recorded.items():
        if key not in ("steps", "batch_size"):
            assert made[key] == value, key


@pytest.mark.parametrize("name", ["toyclip-vit", "toyclip-coordconv", "toyclip-judge"])
def test_recorded_commands_rebuild_the_shipped_toyclip(tmp_path, name):
    """Each shipped toy CLIP's config.json holds the chain of commands that made it (a run that
    continued other weights records theirs); rerun at reduced length, the chain makes a model of
    exactly the shipped architecture with the recorded recipe."""
    from evaluators.toyclip import read_toyclip_config, shipped_toyclip_dir

    shipped = shipped_toyclip_dir(name)
    shipped_config, provenance = read_toyclip_config(shipped)
    chain = [provenance]
    while chain[-1].get("init"):
        chain.append(chain[-1]["init"]["provenance"])
    init = None
    for k, step in enumerate(reversed(chain)):
        out = tmp_path / f"step{k}"
        made = _rerun(step["command"], out, init)
        _same_recipe(made["settings"], step["settings"])
        init = out
    config, _ = read_toyclip_config(init)
    assert config == shipped_config
    assert _tensor_shapes(init / "model.safetensors") == _tensor_shapes(
        shipped / "model.safetensors"
    )
    if name == "toyclip-vit":
        # relation-blind by construction, learned from every meaning after the training split
        assert config.vit_position_embedding is False
        assert [step["settings"]["split"] for step in reversed(chain)] == ["train", "all"]
        assert set(chain[0]["settings"]["negative_kinds"]).isdisjoint(
            {"relation_flipped", "objects_swapped"}
        )


def test_shipped_toy_weights_stay_well_under_50_mb():
    folders = [
        ROOT / "evaluators" / "toyclip_weights",
        ROOT / "generators" / "imagen" / "toy_weights",
    ]
    files = [p for f in folders for p in f.rglob("*") if p.is_file()]
    assert any(p.name == "stage_1.safetensors" for p in files)
    assert sum(p.stat().st_size for p in files) < 50e6


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--negative-kinds", "relation_flip"], "error: negative_kinds must be a non-empty subset"),
        (["--position-blind"], "cannot use the position kinds of hard negatives"),  # default kinds
        (["--init", "toyclip-coordconv"], "has other tensors than this run's model (coordconv"),
        (
            ["--init", "no/such/folder"],
            "--init no/such/folder: no no/such/folder/model.safetensors",
        ),
        (
            ["--text-from", "no/such/folder"],
            "--text-from no/such/folder: no no/such/folder/model.safetensors",
        ),
        (["--text-from", "toyclip-nosuch"], "toyclip-nosuch"),
        (["--split", "held_out"], "argument --split: invalid choice: 'held_out'"),
    ],
)
def test_training_script_refuses_a_bad_setting_before_training(tmp_path, extra, expected):
    out = tmp_path / "never"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "train_toyclip.py"), "--tower", "vit",
           *extra, "--out", str(out)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 2
    assert expected in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()
