"""Frozen, JSON-backed configuration of the Imagen cascade (CONVENTIONS 4).

A cascade config holds the text-encoder name and one explicit :class:`StageConfig` per stage
(stage 0 is the 64x64 base model, later stages are super-resolution models). ``from_dict``
rejects unknown keys so that a typo in a JSON file fails at once instead of silently using a
default. Architecture only: where the weights live is not part of a config.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from drawbench.strict import check_keys

#: Default frozen text encoder (Saharia et al. 2022, Sec. 2.1: T5-XXL, 4.6B parameters).
DEFAULT_TEXT_ENCODER = "google/t5-v1_1-xxl"
#: Text tokens kept per prompt (longer prompts are truncated; Imagen uses 128 tokens).
DEFAULT_MAX_TEXT_LENGTH = 128

ARCHITECTURES = ("base", "efficient")
TEXT_POOLINGS = ("mean", "last")
PREDICTIONS = ("eps", "v")


def _check_keys(cls: type, data: dict[str, Any], where: str) -> None:
    check_keys(cls, data, where)


def _tuples(data: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of one stage's U-Net; per-level tuples have one entry per resolution level.

    ``architecture`` is ``"base"`` (the 64x64 U-Net, Saharia et al. App. F) or ``"efficient"``
    (Efficient U-Net, Sec. 2.6 / App. B). The middle block uses the last level's attention flags.
    ``coord_channels`` (base only; not in the paper): two coordinate channels (x and y in
    ``[-1, 1]``) appended to the input, as in CoordConv (Liu et al. 2018), so that where a pixel
    is can enter attention queries directly; the toy cascade uses it to learn left/right/above/below.
    ``text_pooling``: how the pooled text vector (added to the noise-level embedding, FiLM in every
    ResBlock) is made from the token features: ``"mean"`` over real tokens (the paper, for T5's
    bidirectional tokens) or ``"last"``, the last real token's feature, which for a causal text
    encoder (a CLIP text tower, as in the toy cascade) is the only token that has seen the whole
    caption; CLIP pools the same way.
    """

    architecture: str
    channels: int
    channel_mults: tuple[int, ...]
    num_res_blocks: tuple[int, ...]
    self_attention: tuple[bool, ...]
    cross_attention: tuple[bool, ...]
    attention_heads: int = 8
    attention_head_dim: int = 64
    cond_dim: int = 512
    context_dim: int = 512
    dropout: float = 0.0
    coord_channels: bool = False
    text_pooling: str = "mean"

    def __post_init__(self) -> None:
        if self.text_pooling not in TEXT_POOLINGS:
            raise ValueError(
                f"unet.text_pooling must be one of {TEXT_POOLINGS}, got {self.text_pooling!r}"
            )
        if self.coord_channels and self.architecture != "base":
            raise ValueError("unet.coord_channels is implemented for the base U-Net only")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"unet.architecture must be one of {ARCHITECTURES}, got {self.architecture!r}"
            )
        n = len(self.channel_mults)
        for name in ("num_res_blocks", "self_attention", "cross_attention"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"unet.{name} needs one entry per level ({n}), got {getattr(self, name)}"
                )
        if self.channels <= 0 or min(self.channel_mults) <= 0 or min(self.num_res_blocks) <= 0:
            raise ValueError("unet.channels, channel_mults and num_res_blocks must be positive")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UNetConfig:
        _check_keys(cls, data, "unet config")
        return cls(**_tuples(data))

    def level_channels(self) -> list[int]:
        """Channel width of each resolution level: ``channels * mult``."""
        return [self.channels * m for m in self.channel_mults]


@dataclass(frozen=True)
class StageConfig:
    """One cascade stage: output size, low-resolution input size (``None`` for the base stage),
    its U-Net, the network's prediction target and training-time options.

    ``cond_drop_prob``: share of training captions dropped for classifier-free guidance (paper:
    10%). ``train_aug_level_max``: noise-conditioning augmentation levels are drawn uniformly in
    ``[0, train_aug_level_max]`` during training (super-resolution stages only).
    ``offset_noise``: standard deviation of a per-image, per-channel constant added to the
    training noise ("offset noise", Guttenberg 2023; 0 = off, the paper's setting). At low
    resolution the mean of pure noise looks like signal to an undertrained model, which then
    paints it as a colour cast; offset noise teaches the model not to trust it.
    """

    image_size: int
    unet: UNetConfig
    low_res_size: int | None = None
    prediction: str = "eps"
    cond_drop_prob: float = 0.1
    train_aug_level_max: float = 1.0
    offset_noise: float = 0.0

    def __post_init__(self) -> None:
        if self.prediction not in PREDICTIONS:
            raise ValueError(
                f"stage prediction must be one of {PREDICTIONS}, got {self.prediction!r}"
            )
        factor = 2 ** (len(self.unet.channel_mults) - 1)
        if self.image_size % factor:
            raise ValueError(
                f"image_size {self.image_size} is not divisible by 2**(levels-1) = {factor}"
            )
        if not 0.0 <= self.offset_noise <= 1.0:
            raise ValueError(f"offset_noise must lie in [0, 1], got {self.offset_noise}")
        if self.low_res_size is not None and not 0 < self.low_res_size < self.image_size:
            raise ValueError(f"low_res_size must lie in (0, image_size), got {self.low_res_size}")

    @property
    def is_super_resolution(self) -> bool:
        return self.low_res_size is not None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageConfig:
        _check_keys(cls, data, "stage config")
        return cls(**{**data, "unet": UNetConfig.from_dict(data["unet"])})


@dataclass(frozen=True)
class CascadeConfig:
    """The whole cascade: text encoder name, its embedding width, token length and the stages."""

    stages: tuple[StageConfig, ...]
    text_embed_dim: int
    text_encoder: str = DEFAULT_TEXT_ENCODER
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH
    name: str = "custom"

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("a cascade needs at least one stage")
        if self.stages[0].is_super_resolution:
            raise ValueError("stage 0 must be a base stage (low_res_size null)")
        for k in range(1, len(self.stages)):
            if self.stages[k].low_res_size != self.stages[k - 1].image_size:
                raise ValueError(f"stage {k} low_res_size must equal stage {k - 1} image_size")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CascadeConfig:
        _check_keys(cls, data, "cascade config")
        stages = tuple(StageConfig.from_dict(s) for s in data["stages"])
        return cls(**{**_tuples(data), "stages": stages})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def list_configs() -> list[str]:
    """Names of the bundled configs (``generators/imagen/configs/*.json``)."""
    folder = resources.files("generators.imagen") / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_config(name_or_path: str | Path) -> CascadeConfig:
    """Read a cascade config from a JSON path or a bundled name (e.g. ``"imagen-paper"``)."""
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        text = path.read_text()
    else:
        bundled = resources.files("generators.imagen") / "configs" / f"{name_or_path}.json"
        if not bundled.is_file():
            raise ValueError(
                f"unknown config {str(name_or_path)!r}; bundled: {', '.join(list_configs())} (or give a .json path)"
            )
        text = bundled.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"config {name_or_path}: invalid JSON: {err}") from None
    return CascadeConfig.from_dict(data)
