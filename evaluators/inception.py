"""Inception-v3 for FID/KID, exactly as clean-fid builds it, and clean-fid's per-image preprocessing.

Model files (resolved with :mod:`drawbench.weights`, flag ``--inception-weights``):

* modes ``clean`` and ``legacy_tensorflow``: NVIDIA's TorchScript port of the TF Inception graph,
  ``inception-2015-12-05.pt`` (clean-fid's ``InceptionV3W``; ``legacy_tensorflow`` resizes inside
  the network).
* mode ``legacy_pytorch``: pytorch-fid's weights ``pt_inception-2015-12-05-6726825d.pth`` in
  clean-fid's ``InceptionV3`` (block 3, pool3 features).

Without weights (and only when explicitly allowed) the pytorch-fid architecture is built with
random weights: same size and cost, features meaningless, labelled ``random_weights``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from drawbench.weights import WeightFile, resolve_weights

log = logging.getLogger(__name__)

FID_MODES = ("clean", "legacy_tensorflow", "legacy_pytorch")
#: Default resize mode: clean-fid's "clean" (PIL bicubic with antialiasing, float output).
DEFAULT_FID_MODE = "clean"
#: Inception input side for clean and legacy_pytorch (legacy_tensorflow resizes inside the network).
INCEPTION_RESOLUTION = 299
INCEPTION_DIM = 2048

INCEPTION_TORCHSCRIPT = WeightFile(
    name="Inception-v3 (clean-fid TorchScript, modes clean/legacy_tensorflow)",
    relpath="inception-2015-12-05.pt",
    flag="--inception-weights",
    url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
    cache_paths=("/tmp/inception-2015-12-05.pt",),  # where clean-fid downloads it
)
INCEPTION_PYTORCH = WeightFile(
    name="Inception-v3 (pytorch-fid weights, mode legacy_pytorch)",
    relpath="pt_inception-2015-12-05-6726825d.pth",
    flag="--inception-weights",
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    sha256="6726825d",
    cache_paths=(
        str(
            Path(os.environ.get("TORCH_HOME", "~/.cache/torch")).expanduser()
            / "hub"
            / "checkpoints"
            / "pt_inception-2015-12-05-6726825d.pth"
        ),
    ),
)


def check_mode(mode: str) -> str:
    if mode not in FID_MODES:
        raise ValueError(f"unknown FID mode {mode!r}; choose one of {', '.join(FID_MODES)}")
    return mode


def inception_weight_file(mode: str) -> WeightFile:
    """The model file a mode needs."""
    return INCEPTION_PYTORCH if check_mode(mode) == "legacy_pytorch" else INCEPTION_TORCHSCRIPT


def resolve_inception_weights(
    mode: str, explicit: str | None = None, offline: bool | None = None
) -> Path:
    """Path of the Inception file for ``mode`` (see :func:`drawbench.weights.resolve_weights`)."""
    return resolve_weights(inception_weight_file(mode), explicit, offline)


class FidPreprocess:
    """Per-image preprocessing of clean-fid's ``ResizeDataset.__getitem__`` for one mode.

    ``PIL RGB image -> np.uint8 [H, W, 3] -> cleanfid.resize.build_resizer(mode) -> [3, h, w]
    float32 tensor in [0, 255]`` (``ToTensor`` on the float32 output of ``clean`` /
    ``legacy_pytorch`` at 299x299; ``ToTensor() * 255`` on the unresized uint8 image for
    ``legacy_tensorflow``). Picklable (the resizer is built lazily in each worker).
    """

    def __init__(self, mode: str = DEFAULT_FID_MODE):
        self.mode = check_mode(mode)
        self._resize: Callable | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"mode": self.mode, "_resize": None}

    def __call__(self, image: Any):
        import torchvision

        if self._resize is None:
            from cleanfid.resize import build_resizer

            self._resize = build_resizer(self.mode)
        resized = self._resize(np.array(image))
        to_tensor = torchvision.transforms.functional.to_tensor
        if resized.dtype == np.uint8:
            return to_tensor(np.array(resized)) * 255
        return to_tensor(resized)


class InceptionExtractor:
    """Callable ``[B, 3, H, W] float32 in [0, 255] -> [B, 2048] float32 numpy`` pool3 features.

    Attributes:
        mode: clean-fid resize mode the network expects.
        provenance: implementation, weights file and sha256, ``random_weights``.
    """

    def __init__(self, model_fn: Callable, mode: str, device: str, provenance: dict[str, Any]):
        self.model_fn = model_fn
        self.mode = mode
        self.device = device
        self.provenance = provenance

    def __call__(self, x):
        import torch

        with torch.no_grad():
            return self.model_fn(x.to(self.device)).detach().float().cpu().numpy()


def create_inception(
    mode: str,
    device: str = "cpu",
    weights: str | os.PathLike | None = None,
    random_seed: int | None = None,
) -> InceptionExtractor:
    """Build clean-fid's Inception for ``mode`` from a resolved weights file, or random weights.

    Args:
        mode: ``clean`` | ``legacy_tensorflow`` | ``legacy_pytorch``.
        device: torch device string.
        weights: the resolved file (see :func:`resolve_inception_weights`); ``None`` with
            ``random_seed`` set builds random weights.
        random_seed: seed of the random initialisation (only when ``weights`` is None).
    """
    import torch

    prov = inception_provenance(mode, weights, random_seed)
    if weights is None:
        net = _random_pytorch_inception(random_seed).to(device).eval()
        return InceptionExtractor(_random_model_fn(net, mode), mode, device, prov)
    weights = Path(weights)
    if mode == "legacy_pytorch":
        net = _pytorch_inception(lambda: torch.load(weights, map_location="cpu")).to(device).eval()
        return InceptionExtractor(
            lambda x: net(x / 255)[0].squeeze(-1).squeeze(-1), mode, device, prov
        )
    from cleanfid.inception_torchscript import InceptionV3W

    folder = weights.parent
    if weights.name != INCEPTION_TORCHSCRIPT.filename:  # InceptionV3W wants the canonical name
        folder = Path(tempfile.mkdtemp(prefix="drawbench-inception-"))
        (folder / INCEPTION_TORCHSCRIPT.filename).symlink_to(weights.resolve())
    net = InceptionV3W(str(folder), download=False, resize_inside=mode == "legacy_tensorflow")
    net = net.to(device).eval()
    return InceptionExtractor(net, mode, device, prov)


def inception_provenance(
    mode: str, weights: str | os.PathLike | None = None, random_seed: int | None = None
) -> dict[str, Any]:
    """What :func:`create_inception` will build, without building it (hashes the weights file)."""
    from drawbench.images import sha256_file

    check_mode(mode)
    if weights is None:
        if random_seed is None:
            raise ValueError(
                "create_inception needs a weights file or random_seed (random weights)"
            )
        return {
            "implementation": "cleanfid.inception_pytorch.InceptionV3 (random init)",
            "weights": None,
            "weights_sha256": None,
            "random_weights": True,
            "seed": random_seed,
        }
    impl = (
        "cleanfid.inception_pytorch.InceptionV3"
        if mode == "legacy_pytorch"
        else "cleanfid.inception_torchscript.InceptionV3W"
    )
    return {
        "implementation": impl,
        "weights": Path(weights).name,
        "weights_sha256": sha256_file(weights),
        "random_weights": False,
    }


def _pytorch_inception(load_state: Callable[[], dict] | None):
    """clean-fid's ``InceptionV3(output_blocks=[3], resize_input=False)`` with its weights taken
    from ``load_state()`` instead of a download, or left at random init when ``load_state`` is None."""
    from contextlib import ExitStack
    from unittest import mock

    import torchvision
    from cleanfid import inception_pytorch

    with ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", UserWarning)  # torchvision's "pretrained is deprecated"
        stack.enter_context(
            mock.patch.object(
                inception_pytorch,
                "load_state_dict_from_url",
                lambda *a, **k: load_state() if load_state else {},
            )
        )
        if load_state is None:  # keep torchvision's random init
            stack.enter_context(
                mock.patch.object(
                    torchvision.models.Inception3, "load_state_dict", lambda self, *a, **k: None
                )
            )
        return inception_pytorch.InceptionV3(output_blocks=[3], resize_input=False)


def _random_pytorch_inception(seed: int):
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _pytorch_inception(None)
        for module in net.modules():  # variance-preserving init so features do not vanish
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net


def _random_model_fn(net, mode: str) -> Callable:
    """Input convention of the mode's real network: TorchScript ``(x - 128) / 128`` for clean and
    legacy_tensorflow (which also resizes to 299 inside, here bilinearly), pytorch-fid ``x / 255``."""
    import torch.nn.functional as F

    if mode == "legacy_pytorch":
        return lambda x: net(x / 255)[0].squeeze(-1).squeeze(-1)

    def fn(x):
        if mode == "legacy_tensorflow":
            x = F.interpolate(
                x, size=(INCEPTION_RESOLUTION,) * 2, mode="bilinear", align_corners=False
            )
        # InceptionV3 maps [0, 1] to [-1, 1] itself: (x - 128) / 128 == 2 * ((x - 128) / 256 + 0.5) - 1
        return net((x - 128) / 256 + 0.5)[0].squeeze(-1).squeeze(-1)

    return fn
