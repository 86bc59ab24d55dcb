"""Toy CLIP models of the toy world (issue 8): configuration, construction, transform, save/load.

Two image towers share open_clip's text transformer (``TextTransformer``: width 128, 4 heads,
3 layers, context 16, vocabulary 27 from :class:`drawbench.toyworld_text.ToyTokenizer`, ``argmax``
pooling on the end token, which has the highest id) and the 128-d joint embedding:

* ``"vit"``: a plain ``open_clip.model.CLIP`` built from an open_clip model-config dict
  (:meth:`ToyClipConfig.open_clip_config`): ViT 64 px, patch 16, width 128, 4 layers, head width 32
  (4 heads). About 1.5M parameters, 6 MB in float32.
* ``"coordconv"``: :class:`ToyCNNCLIP`, a CoordConv CNN (2 coordinate channels appended to RGB; 3x3
  convs of 32, 64, 128, 128 channels, strides 2, 2, 2, 1, padding 1, ReLU; the 8x8x128 map is
  flattened, keeping positions, then Linear 8192->256, ReLU, Linear 256->128). About 3.0M
  parameters, 11.4 MB.

Both expose open_clip's interface: ``encode_image([B, 3, 64, 64]) -> [B, 128]``,
``encode_text(LongTensor[B, 16]) -> [B, 128]`` (``normalize=True`` for unit vectors),
``logit_scale`` (log of the inverse temperature, initialised to ``log(1/0.07)``) and
``forward(image, text) -> (image_features, text_features, logit_scale.exp())`` with normalised
features. Images go through :class:`ToyClipTransform` (PIL RGB -> ``[3, 64, 64]`` float in
``[-1, 1]``, i.e. mean 0.5 and std 0.5 per channel on the ``[0, 1]`` scale).

On disk a model is a folder: ``model.safetensors`` (float32 state dict) and ``config.json``
(``{"config": ToyClipConfig fields, "provenance": {...}}``). Nothing here reads or writes files
except :func:`save_toyclip`, :func:`load_toyclip` and the name resolution below (which reads
config.json and hashes the weights).

As metric models (``drawbench evaluate --clip-model`` / ``--fid-features``) toy CLIPs are named:
``toyclip`` (alias of DEFAULT_TOYCLIP, ``toyclip-vit``, the world's CLIP-score model),
``toyclip-<model>`` (shipped in ``evaluators/toyclip_weights/<name>/``, SHIPPED_TOYCLIPS; the
CoordConv model is the sharper judge) or ``toyclip:/path/to/folder`` (any folder written by
:func:`save_toyclip`). :func:`is_toyclip_name` recognises them, :func:`resolve_toyclip` finds the
folder (offline), :func:`toyclip_provenance` says what went into a number.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from drawbench.images import pil_to_tensor
from drawbench.strict import build_strict
from drawbench.toyworld_text import CONTEXT_LENGTH, VOCAB

__all__ = [
    "DEFAULT_TOYCLIP",
    "IMAGE_TOWERS",
    "SHIPPED_TOYCLIPS",
    "TOYCLIP_ALIAS",
    "CoordConvImageTower",
    "ToyCNNCLIP",
    "ToyClipConfig",
    "ToyClipTransform",
    "available_toyclips",
    "check_toy_prompts",
    "count_parameters",
    "create_toyclip",
    "is_toyclip_name",
    "load_named_toyclip",
    "load_toyclip",
    "read_toyclip_config",
    "resolve_toyclip",
    "save_toyclip",
    "shipped_toyclip_dir",
    "toyclip_label",
    "toyclip_provenance",
]

IMAGE_TOWERS: tuple[str, ...] = ("vit", "coordconv")
#: CLIP's initial temperature 0.07 (Radford et al. 2021), stored as log(1 / 0.07).
INIT_LOGIT_SCALE = math.log(1 / 0.07)
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class ToyClipConfig:
    """Architecture of a toy CLIP (JSON is the source: :meth:`from_dict` / :meth:`to_dict`).

    ``vit_*`` fields apply to ``image_tower="vit"``, ``cnn_*`` ones to ``"coordconv"``.
    ``vit_position_embedding=False`` keeps open_clip's ViT but sets its learned position embedding
    to zero and freezes it: the tower then sees its patches as a set, so it cannot tell which
    object stands where (relation-blind by construction, whatever the training length).
    """

    image_tower: str = "vit"
    embed_dim: int = 128
    image_size: int = 64
    vit_patch_size: int = 16
    vit_width: int = 128
    vit_layers: int = 4
    vit_head_width: int = 32
    vit_position_embedding: bool = True
    cnn_channels: tuple[int, ...] = (32, 64, 128, 128)
    cnn_strides: tuple[int, ...] = (2, 2, 2, 1)
    cnn_hidden: int = 256
    text_width: int = 128
    text_heads: int = 4
    text_layers: int = 3
    vocab_size: int = len(VOCAB)
    context_length: int = CONTEXT_LENGTH
    init_logit_scale: float = INIT_LOGIT_SCALE

    def __post_init__(self) -> None:
        if self.image_tower not in IMAGE_TOWERS:
            raise ValueError(
                f"unknown image_tower {self.image_tower!r}; use one of {', '.join(IMAGE_TOWERS)}"
            )
        if len(self.cnn_channels) != len(self.cnn_strides):
            raise ValueError("cnn_channels and cnn_strides need one entry per conv layer")
        object.__setattr__(self, "cnn_channels", tuple(self.cnn_channels))
        object.__setattr__(self, "cnn_strides", tuple(self.cnn_strides))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyClipConfig:
        """Build from a JSON object; unknown keys are an error naming them."""
        return build_strict(cls, data, "toy CLIP config")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def open_clip_config(self) -> dict[str, Any]:
        """The model as an open_clip model-config dict (``model_configs/*.json`` format)."""
        text_cfg = {
            "context_length": self.context_length,
            "vocab_size": self.vocab_size,
            "width": self.text_width,
            "heads": self.text_heads,
            "layers": self.text_layers,
        }
        vision_cfg = {
            "image_size": self.image_size,
            "patch_size": self.vit_patch_size,
            "width": self.vit_width,
            "layers": self.vit_layers,
            "head_width": self.vit_head_width,
        }
        return {"embed_dim": self.embed_dim, "vision_cfg": vision_cfg, "text_cfg": text_cfg}


class CoordConvImageTower(nn.Module):
    """CoordConv CNN: ``[B, 3, S, S]`` float in ``[-1, 1]`` -> ``[B, embed_dim]`` (unnormalised).

    Channels x and y (each ``linspace(-1, 1, S)`` along its axis) are appended to RGB; 3x3 convs
    (padding 1) with ReLU; the final map is flattened in (channel, row, column) order, so the
    head sees where things are; then Linear -> ReLU -> Linear.
    """

    def __init__(self, config: ToyClipConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, side = 5, config.image_size
        for out, stride in zip(config.cnn_channels, config.cnn_strides, strict=True):
            layers += [nn.Conv2d(channels, out, 3, stride=stride, padding=1), nn.ReLU()]
            channels, side = out, (side - 1) // stride + 1
        self.convs = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * side * side, config.cnn_hidden),
            nn.ReLU(),
            nn.Linear(config.cnn_hidden, config.embed_dim),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        b, _, h, w = image.shape
        ys = torch.linspace(-1, 1, h, dtype=image.dtype, device=image.device)
        xs = torch.linspace(-1, 1, w, dtype=image.dtype, device=image.device)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        coords = torch.stack([grid_x, grid_y]).expand(b, 2, h, w)
        return self.head(self.convs(torch.cat([image, coords], dim=1)))


class ToyCNNCLIP(nn.Module):
    """CoordConv image tower + open_clip ``TextTransformer``, with open_clip's CLIP interface."""

    def __init__(self, config: ToyClipConfig) -> None:
        from open_clip.transformer import TextTransformer

        super().__init__()
        self.visual = CoordConvImageTower(config)
        self.text = TextTransformer(
            context_length=config.context_length,
            vocab_size=config.vocab_size,
            width=config.text_width,
            heads=config.text_heads,
            layers=config.text_layers,
            output_dim=config.embed_dim,
        )
        self.context_length = config.context_length
        self.vocab_size = config.vocab_size
        self.logit_scale = nn.Parameter(torch.tensor(float(config.init_logit_scale)))
        self.logit_bias = None

    def encode_image(self, image: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """``[B, 3, S, S]`` float in ``[-1, 1]`` -> ``[B, embed_dim]``."""
        features = self.visual(image)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """``[B, context_length]`` int64 token ids -> ``[B, embed_dim]``."""
        features = self.text(text)
        return F.normalize(features, dim=-1) if normalize else features

    def get_logits(
        self, image: torch.Tensor, text: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits_per_image [B, T], logits_per_text [T, B])``, scaled by ``logit_scale.exp()``."""
        logits = (
            self.logit_scale.exp() * self.encode_image(image, True) @ self.encode_text(text, True).T
        )
        return logits, logits.T

    def forward(self, image: torch.Tensor | None = None, text: torch.Tensor | None = None):
        """``(image_features, text_features, logit_scale.exp())``, features L2-normalised."""
        image_features = None if image is None else self.encode_image(image, normalize=True)
        text_features = None if text is None else self.encode_text(text, normalize=True)
        return image_features, text_features, self.logit_scale.exp()


def create_toyclip(config: ToyClipConfig, seed: int = 0) -> nn.Module:
    """Build an untrained toy CLIP; initial weights are a pure function of (config, seed).

    The ViT variant is ``open_clip.model.CLIP(**config.open_clip_config())``. torch's global RNG
    is used inside ``torch.random.fork_rng`` only, so the caller's RNG state is left untouched.
    """
    from open_clip.model import CLIP

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if config.image_tower == "vit":
            model = CLIP(**config.open_clip_config(), init_logit_scale=config.init_logit_scale)
        else:
            model = ToyCNNCLIP(config)
    return apply_position_rule(model, config)


def apply_position_rule(model: nn.Module, config: ToyClipConfig) -> nn.Module:
    """Zero and freeze the ViT's position embedding when ``config.vit_position_embedding`` is
    False (after creating a model or loading weights into it); returns ``model``."""
    if config.image_tower == "vit" and not config.vit_position_embedding:
        pos = model.visual.positional_embedding
        with torch.no_grad():
            pos.zero_()
        pos.requires_grad_(False)
    return model


#: Parameter names of the text tower, without the tower's prefix (open_clip's CLIP keeps them at
#: the top level, :class:`ToyCNNCLIP` under ``text.``): the same keys for both kinds of toy CLIP.
TEXT_TOWER_NAMES = ("token_embedding.", "positional_embedding", "transformer.", "ln_final.",
                    "text_projection")  # fmt: skip


def _text_key(name: str) -> str | None:
    key = name.removeprefix("text.")
    return key if key.startswith(TEXT_TOWER_NAMES) else None


def text_tower_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The text tower's tensors, keyed without the tower's prefix (see :data:`TEXT_TOWER_NAMES`)."""
    return {k: v for name, v in model.state_dict().items() if (k := _text_key(name)) is not None}


def copy_text_tower(model: nn.Module, source: nn.Module, freeze: bool = True) -> nn.Module:
    """Give ``model`` the text tower of ``source`` (another toy CLIP, either image tower) and, with
    ``freeze``, stop its gradients; returns ``model``. ValueError when the towers differ in shape."""
    theirs = text_tower_state(source)
    state = model.state_dict()
    ours = {k: name for name in state if (k := _text_key(name)) is not None}
    mismatch = sorted(
        k for k in set(ours) | set(theirs)
        if k not in ours or k not in theirs or state[ours[k]].shape != theirs[k].shape
    )  # fmt: skip
    if mismatch:
        raise ValueError(f"text towers differ ({len(mismatch)} tensors, e.g. {mismatch[0]!r})")
    for k, name in ours.items():
        state[name] = theirs[k].detach().clone()
    model.load_state_dict(state)
    if freeze:
        for name, p in model.named_parameters():
            if _text_key(name) is not None:
                p.requires_grad_(False)
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (what float32 weights cost: 4 bytes each)."""
    return sum(p.numel() for p in model.parameters())


class ToyClipTransform:
    """PIL image -> ``[3, S, S]`` float32 tensor in ``[-1, 1]`` (``(x / 255 - 0.5) / 0.5``).

    The image is converted to RGB and, unless already ``S`` x ``S``, resized with PIL bicubic
    resampling (the world renders at 64 x 64, so its own images pass unchanged).
    """

    def __init__(self, image_size: int = 64) -> None:
        self.image_size = image_size

    def __call__(self, image: Image.Image) -> torch.Tensor:
        image = image.convert("RGB")
        if image.size != (self.image_size, self.image_size):
            image = image.resize((self.image_size, self.image_size), Image.Resampling.BICUBIC)
        return pil_to_tensor([image])[0]


def save_toyclip(
    model: nn.Module,
    config: ToyClipConfig,
    directory: str | Path,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``directory`` (created); return it."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()
    }
    save_file(state, str(directory / WEIGHTS_FILE))
    record = {"config": config.to_dict(), "provenance": provenance or {}}
    (directory / CONFIG_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return directory


def read_toyclip_config(directory: str | Path) -> tuple[ToyClipConfig, dict[str, Any]]:
    """``(config, provenance)`` from ``directory/config.json``."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no toy CLIP config at {path}; train one with benchmarks/train_toyclip.py"
        )
    record = json.loads(path.read_text())
    return ToyClipConfig.from_dict(record["config"]), record.get("provenance", {})


def load_toyclip(directory: str | Path) -> tuple[nn.Module, ToyClipConfig]:
    """Load a model saved by :func:`save_toyclip`; returned in eval mode on the CPU."""
    from safetensors.torch import load_file

    config, _ = read_toyclip_config(directory)
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(
            f"no toy CLIP weights at {weights}; train one with benchmarks/train_toyclip.py"
        )
    model = create_toyclip(config)
    model.load_state_dict(load_file(str(weights)), strict=True)
    return model.eval(), config


#: Trained toy CLIPs shipped with the package (``evaluators/toyclip_weights/<name>/``), made by
#: ``benchmarks/train_toyclip.py`` (each folder's config.json records its exact command, seed and
#: figures; benchmarks/RESULTS.md). The ViT (position embedding zeroed and frozen, photometric
#: augmentation, no relation negatives) is the toy world's CLIP-score model; the CoordConv
#: model the toy Imagen cascade's text encoder and a sharp judge of renders; ``toyclip-judge`` is
#: the same CoordConv recipe trained with ``--photometric`` augmentation, robust to what generated
#: images show (background tint, contrast shrink, noise): the demo's automatic judge.
SHIPPED_TOYCLIPS = ("toyclip-vit", "toyclip-coordconv", "toyclip-judge")


def shipped_toyclip_dir(name: str) -> Path:
    """Folder of a shipped toy CLIP (``load_toyclip`` reads it); unknown names list the available."""
    from importlib import resources

    if name not in SHIPPED_TOYCLIPS:
        raise ValueError(
            f"unknown shipped toy CLIP {name!r}; available: {', '.join(SHIPPED_TOYCLIPS)}"
        )
    return Path(str(resources.files("evaluators").joinpath("toyclip_weights", name)))


# --------------------------------------------------------------------------- names as metric models

#: The toy world's default CLIP-score model, and the alias that names it (``--clip-model toyclip``).
DEFAULT_TOYCLIP = "toyclip-vit"
TOYCLIP_ALIAS = "toyclip"
#: Prefix of a toy CLIP given by folder: ``toyclip:/path/to/folder`` (written by save_toyclip).
TOYCLIP_PATH_PREFIX = "toyclip:"
#: What trains the toy CLIPs (recorded in metric provenance).
TOYCLIP_TRAINER = "benchmarks/train_toyclip.py"


def is_toyclip_name(name: str | None) -> bool:
    """True for the names that mean a toy CLIP: ``toyclip``, ``toyclip-<model>``, ``toyclip:<dir>``.

    Such names are resolved by :func:`resolve_toyclip` (never by open_clip); an unknown
    ``toyclip-<model>`` is still a toy name, so it fails there listing the available ones.
    """
    return isinstance(name, str) and (
        name == TOYCLIP_ALIAS or name.startswith(("toyclip-", TOYCLIP_PATH_PREFIX))
    )


def toyclip_label(name: str) -> str:
    """Canonical name recorded in settings: the alias becomes ``DEFAULT_TOYCLIP``, a folder
    ``toyclip:<absolute path>``, a shipped name stays as it is."""
    _check_toy_name(name)
    if name == TOYCLIP_ALIAS:
        return DEFAULT_TOYCLIP
    if name.startswith(TOYCLIP_PATH_PREFIX):
        return TOYCLIP_PATH_PREFIX + str(_folder_of(name).resolve())
    return name


def available_toyclips() -> list[str]:
    """Names :func:`resolve_toyclip` accepts now (the alias only once its target is shipped)."""
    alias = [TOYCLIP_ALIAS] if DEFAULT_TOYCLIP in SHIPPED_TOYCLIPS else []
    return [*alias, *SHIPPED_TOYCLIPS, f"{TOYCLIP_PATH_PREFIX}/path/to/folder"]


def resolve_toyclip(name: str) -> Path:
    """Folder of the toy CLIP ``name`` (``load_toyclip`` reads it); checked to hold both files.

    ``toyclip`` is an alias of ``DEFAULT_TOYCLIP`` (``toyclip-vit``); ``toyclip-<model>`` is a
    shipped model (SHIPPED_TOYCLIPS); ``toyclip:<folder>`` any folder written by
    :func:`save_toyclip`. Nothing is downloaded.

    Raises:
        ValueError: not a toy name, or a model that is not shipped (lists the available names).
        FileNotFoundError: the folder lacks ``config.json`` or ``model.safetensors``.
    """
    _check_toy_name(name)
    if name.startswith(TOYCLIP_PATH_PREFIX):
        folder = _folder_of(name)
    else:
        model = DEFAULT_TOYCLIP if name == TOYCLIP_ALIAS else name
        if model not in SHIPPED_TOYCLIPS:
            what = f"{name!r} (alias of {model!r})" if model != name else repr(name)
            status = "is not shipped yet" if model == DEFAULT_TOYCLIP else "is unknown"
            raise ValueError(
                f"toy CLIP {what} {status}; available: {', '.join(available_toyclips())} "
                "(a folder written by evaluators.toyclip.save_toyclip)"
            )
        folder = shipped_toyclip_dir(model)
    for filename in (CONFIG_FILE, WEIGHTS_FILE):
        if not (folder / filename).is_file():
            raise FileNotFoundError(
                f"toy CLIP {name!r}: no {filename} in {folder}; a toy CLIP folder holds "
                f"{CONFIG_FILE} and {WEIGHTS_FILE} (save_toyclip, {TOYCLIP_TRAINER})"
            )
    return folder


def _check_toy_name(name: str) -> None:
    if not is_toyclip_name(name):
        raise ValueError(
            f"{name!r} is not a toy CLIP name; use one of {', '.join(available_toyclips())}"
        )


def _folder_of(name: str) -> Path:
    path = name[len(TOYCLIP_PATH_PREFIX) :]
    if not path:
        raise ValueError(f"{name!r}: give the folder after the colon, e.g. toyclip:/path/to/folder")
    return Path(path).expanduser()


def toyclip_provenance(name: str) -> dict[str, Any]:
    """Provenance of the toy CLIP ``name`` for metrics.json, without building it.

    Names the model (canonical label), its architecture, the weights file and its sha256, and
    that it is a toy-world model trained by the project (``random_weights`` is False: a trained
    toy CLIP is not an untrained stand-in). ``training`` holds the folder's recorded provenance
    (command, settings, held-out figures) without the bulky per-kind figures.
    """
    from drawbench.images import sha256_file

    folder = resolve_toyclip(name)
    config, recorded = read_toyclip_config(folder)
    training = {k: v for k, v in recorded.items() if k != "figures"}
    trained_by = f"the drawbench project ({TOYCLIP_TRAINER}), on the toy world only"
    if name.startswith(TOYCLIP_PATH_PREFIX):
        trained_by = (
            f"a toy CLIP folder ({folder}, written by evaluators.toyclip.save_toyclip; the "
            f"project trains them with {TOYCLIP_TRAINER}), toy world only; see 'training'"
        )
    return {
        "implementation": f"drawbench toy CLIP, {config.image_tower} image tower (evaluators.toyclip)",
        "model": toyclip_label(name),
        "image_tower": config.image_tower,
        "weights": WEIGHTS_FILE,
        "weights_sha256": sha256_file(folder / WEIGHTS_FILE),
        "random_weights": False,
        "toy_world": True,
        "trained_by": trained_by,
        "training": training,
    }


def load_named_toyclip(name: str) -> tuple[nn.Module, ToyClipConfig, dict[str, Any]]:
    """``(model in eval mode on the CPU, config, provenance)`` of the toy CLIP ``name``."""
    model, config = load_toyclip(resolve_toyclip(name))
    return model, config, toyclip_provenance(name)


def check_toy_prompts(
    prompts: Iterable[tuple[str, str]], name: str, context_length: int = CONTEXT_LENGTH
) -> None:
    """Fail before any work when a prompt is not a toy-world caption the tokenizer can read.

    Args:
        prompts: ``(prompt_id, text)`` pairs (each distinct text is checked once).
        name: the toy CLIP's name, for the message.

    Raises:
        ValueError: names the prompt id and the word (ToyTokenizer's message) and says the toy
            CLIP only reads toy-world captions.
    """
    from drawbench.toyworld_text import ToyTokenizer

    tokenizer, seen = ToyTokenizer(context_length), set()
    for prompt_id, text in prompts:
        if text in seen:
            continue
        seen.add(text)
        try:
            tokenizer.encode(text)
        except ValueError as err:
            raise ValueError(
                f"toy CLIP {name!r} only reads toy-world captions (the caption grammar of "
                f"drawbench.toyworld, e.g. the 'toyworld' prompt set); prompt {prompt_id}: {err}"
            ) from None
