"""Finding model files: the one resolver for every pretrained file (Inception, CLIP, T5, ...).

Search order for a :class:`WeightFile` (first hit wins):

1. an explicit path (a command-line flag such as ``--inception-weights``); if given it must
   exist, nothing else is tried;
2. ``$DRAWBENCH_WEIGHTS``: one or more folders (``os.pathsep``-separated), looked up as
   ``<folder>/<relpath>``;
3. the library's own caches (``WeightFile.cache_paths``: e.g. clean-fid's ``/tmp`` copy of the
   Inception file, torch hub's checkpoints folder, open_clip's / Hugging Face's caches) and
   drawbench's cache ``$DRAWBENCH_CACHE/weights/<relpath>``;
4. a download (``WeightFile.url`` into drawbench's cache, or the file's own ``download``
   callable), unless offline: ``HF_HUB_OFFLINE=1``, ``DRAWBENCH_OFFLINE=1`` or ``offline=True``
   (``--offline``).

When nothing works, :class:`WeightsNotFoundError` names the file, every place looked at, and the
flag or variable that supplies it. Nothing here imports torch.
"""

from __future__ import annotations

import logging
import os
import shutil
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drawbench.images import sha256_file

log = logging.getLogger(__name__)

#: Environment variable naming folders that hold model files (``<folder>/<relpath>``).
WEIGHTS_ENV = "DRAWBENCH_WEIGHTS"
#: Environment variables that forbid downloads when set to a true value.
OFFLINE_ENVS = ("DRAWBENCH_OFFLINE", "HF_HUB_OFFLINE")
#: Environment variable for drawbench's cache root (default ``~/.cache/drawbench``).
CACHE_ENV = "DRAWBENCH_CACHE"


class WeightsNotFoundError(FileNotFoundError):
    """A model file could not be found (or downloaded); the message says how to supply it."""


@dataclass(frozen=True)
class WeightFile:
    """A model file the project may need.

    Attributes:
        name: human name, e.g. ``"Inception-v3 (clean-fid TorchScript)"``.
        relpath: path relative to a weights folder, e.g. ``"inception-2015-12-05.pt"`` or
            ``"open_clip/ViT-L-14/openai/open_clip_pytorch_model.bin"``.
        flag: the command-line flag that supplies it, e.g. ``"--inception-weights"``.
        url: where to download it from ("" when ``download`` is used or none exists).
        sha256: expected sha256 prefix (hex) checked after a download, or "".
        cache_paths: other libraries' cache locations to look at (absolute paths).
        download: optional callable returning a local path (used instead of ``url``).
    """

    name: str
    relpath: str
    flag: str
    url: str = ""
    sha256: str = ""
    cache_paths: tuple[str, ...] = ()
    download: Callable[[], str] | None = None

    @property
    def filename(self) -> str:
        return Path(self.relpath).name


def cache_dir() -> Path:
    """drawbench's cache root: ``$DRAWBENCH_CACHE`` or ``~/.cache/drawbench``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "drawbench").expanduser()


def is_offline(offline: bool | None = None) -> bool:
    """True when downloads are forbidden: ``offline`` is true or an OFFLINE_ENVS variable is set."""
    if offline:
        return True
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in OFFLINE_ENVS
    )


def candidate_paths(spec: WeightFile) -> list[Path]:
    """Every place (after an explicit path) where ``spec`` is looked for, in order."""
    out: list[Path] = []
    for folder in filter(None, os.environ.get(WEIGHTS_ENV, "").split(os.pathsep)):
        root = Path(folder).expanduser()
        out.append(root / spec.relpath)
    out += [Path(p).expanduser() for p in spec.cache_paths]
    out.append(cache_dir() / "weights" / spec.relpath)
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def resolve_weights(
    spec: WeightFile, explicit: str | os.PathLike | None = None, offline: bool | None = None
) -> Path:
    """Find ``spec`` on disk (or download it) and return its path.

    Args:
        spec: which file.
        explicit: a path given by the user (``spec.flag``); must exist if given.
        offline: forbid downloads (also forbidden by ``DRAWBENCH_OFFLINE`` / ``HF_HUB_OFFLINE``).

    Raises:
        WeightsNotFoundError: naming the file, where it was looked for, and ``spec.flag`` /
            ``$DRAWBENCH_WEIGHTS``.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_file():
            return path
        raise WeightsNotFoundError(
            f"{spec.name}: {spec.flag} {path} does not exist (or is not a file)"
        )
    looked = candidate_paths(spec)
    for path in looked:
        if path.is_file():
            log.debug("%s: using %s", spec.name, path)
            return path
    reason = (
        "offline (--offline, DRAWBENCH_OFFLINE or HF_HUB_OFFLINE)" if is_offline(offline) else ""
    )
    if not reason:
        try:
            return _download(spec)
        except (OSError, ValueError, RuntimeError) as err:  # network, disk or checksum failure
            reason = f"download failed: {err}"
    places = "\n".join(f"  {p}" for p in looked) or "  (nowhere)"
    source = f" from {spec.url}" if spec.url else ""
    raise WeightsNotFoundError(
        f"{spec.name}: model file {spec.filename!r} not found; {reason or 'no download available'}.\n"
        f"Looked in:\n{places}\n"
        f"Supply it with {spec.flag} PATH, or put it at $DRAWBENCH_WEIGHTS/{spec.relpath}, "
        f"or download it{source} on a machine with network access."
    )


def _download(spec: WeightFile) -> Path:
    if spec.download is not None:
        return Path(spec.download())
    if not spec.url:
        raise ValueError("no download URL known")
    target = cache_dir() / "weights" / spec.relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part-{os.getpid()}")
    log.warning("downloading %s from %s to %s", spec.name, spec.url, target)
    try:
        with urllib.request.urlopen(spec.url, timeout=60) as response, open(tmp, "wb") as f:
            shutil.copyfileobj(response, f, 1 << 20)
        if spec.sha256:
            digest = sha256_file(tmp)
            if not digest.startswith(spec.sha256):
                raise ValueError(f"sha256 {digest} does not match the expected {spec.sha256}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
