"""Checkpoint folder layout and safetensors I/O.

A cascade folder holds::

    config.json                   the CascadeConfig (JSON, the source of truth for the architecture)
    stage_<k>.safetensors         stage k's EMA weights, used for sampling (k = 0, 1, ...)
    stage_<k>.train.safetensors   stage k's raw (non-EMA) weights, for resuming training
    stage_<k>.train.pt            optimizer state and step counter, for resuming training
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from generators.imagen.config import CascadeConfig

CONFIG_NAME = "config.json"


def stage_weights_path(folder: str | Path, stage: int, train: bool = False) -> Path:
    """``stage_<k>.safetensors`` (EMA, for sampling) or ``stage_<k>.train.safetensors`` (raw)."""
    return Path(folder) / (
        f"stage_{stage}.train.safetensors" if train else f"stage_{stage}.safetensors"
    )


def training_state_path(folder: str | Path, stage: int) -> Path:
    return Path(folder) / f"stage_{stage}.train.pt"


def save_config(folder: str | Path, config: CascadeConfig) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CONFIG_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(config.to_json() + "\n")
    tmp.replace(path)
    return path


def load_cascade_config(folder: str | Path) -> CascadeConfig:
    """Read ``config.json`` of a checkpoint folder."""
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no {CONFIG_NAME} in checkpoint folder {folder} (train a stage with `drawbench imagen train` first)"
        )
    return CascadeConfig.from_dict(json.loads(path.read_text()))


def save_weights(module: nn.Module, path: str | Path) -> None:
    """Write a module's state dict as safetensors (contiguous CPU copies), atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp))
    tmp.replace(path)


def load_weights(module: nn.Module, path: str | Path) -> None:
    """Load safetensors weights into ``module`` (strict: every key must match)."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    device = next(module.parameters()).device
    state = load_file(str(path), device=str(device))
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{path}: weights do not match the config (missing {missing[:5]}, unexpected {unexpected[:5]})"
        )


def save_training_state(folder: str | Path, stage: int, state: dict) -> None:
    path = training_state_path(folder, stage)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_training_state(folder: str | Path, stage: int, device: torch.device | str = "cpu") -> dict:
    return torch.load(training_state_path(folder, stage), map_location=device, weights_only=True)
