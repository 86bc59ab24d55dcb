"""Reference statistics for FID/KID: the ``.npz`` format, image lists, compatibility and caching.

A reference file holds (``np.load(path)`` keys)::

    mean        [d] float64      mu of the reference features
    covariance  [d, d] float64   unbiased covariance (as np.cov)
    count       int              number of images
    sum         [d] float64      sum of features          (sufficient statistics: files merge
    outer       [d, d] float64   sum of outer products     exactly, see FeatureStats)
    features    [n, d] float32   optional, the features themselves (needed for KID)
    provenance  str (JSON)       features, extractor, weights_sha256, random_weights, mode,
                                 resolution, center_crop, image_set_sha256, n_images, source,
                                 created, versions

``features`` names the feature extractor as ``--fid-features`` does (``inception``, or a toy CLIP
such as ``toyclip-coordconv``; files without it are Inception ones); ``extractor`` identifies its
weights (implementation plus sha256, :func:`extractor_id`). ``evaluate`` refuses a reference
whose ``extractor``, ``mode`` or ``resolution`` differs from the run's (COMPAT_KEYS), naming both
values (and both feature names): Inception statistics never meet toy CLIP ones, nor one toy
CLIP's another's. Cached references live in ``$DRAWBENCH_CACHE/reference/`` (default
``~/.cache/drawbench``), never in the package; their cache key includes the extractor.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drawbench.images import IMAGE_SUFFIXES, sha256_file
from drawbench.weights import cache_dir
from evaluators.fid_stats import FeatureStats

#: provenance keys that must agree between a run's FID settings and its reference.
COMPAT_KEYS = ("extractor", "mode", "resolution")
#: resolution value when images of several sizes went into a set.
MIXED = "mixed"
#: ``features`` of a reference file that does not record it (written before toy CLIP features).
DEFAULT_FEATURES = "inception"


class ReferenceMismatchError(ValueError):
    """A reference was made with a different extractor, mode or resolution than the run."""


@dataclass
class ReferenceStats:
    """Reference statistics: sufficient statistics, optional features, provenance."""

    stats: FeatureStats
    provenance: dict[str, Any]
    features: np.ndarray | None = None
    path: Path | None = None

    def save(self, path: str | os.PathLike) -> Path:
        """Write the ``.npz`` (atomically: temporary name, then rename) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {
            "mean": self.stats.mean(),
            "covariance": self.stats.covariance(),
            "count": np.int64(self.stats.count),
            "sum": self.stats.total,
            "outer": self.stats.outer,
            "provenance": np.array(json.dumps(self.provenance, sort_keys=True)),
        }
        if self.features is not None:
            arrays["features"] = np.asarray(self.features, dtype=np.float32)
        tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        self.path = path
        return path

    @property
    def sha256(self) -> str | None:
        return sha256_file(self.path) if self.path else None


def load_reference(path: str | os.PathLike) -> ReferenceStats:
    """Read a reference ``.npz`` written by :meth:`ReferenceStats.save`.

    Raises:
        ValueError: not such a file (names the missing keys and how to build one).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"reference statistics {path} not found; build them with "
            "'drawbench reference build --images DIR --out STATS.npz'"
        )
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in ("count", "sum", "outer", "provenance") if k not in data.files]
        if missing:
            raise ValueError(
                f"{path}: not a drawbench reference file (missing {', '.join(missing)}); "
                "build one with 'drawbench reference build'"
            )
        total, outer = data["sum"], data["outer"]
        stats = FeatureStats(
            total.shape[0], int(data["count"]), total.astype(np.float64), outer.astype(np.float64)
        )
        features = data["features"] if "features" in data.files else None
        provenance = json.loads(str(data["provenance"]))
    return ReferenceStats(stats, provenance, features, path)


def check_compatible(
    reference: dict[str, Any], settings: dict[str, Any], where: str = "reference"
) -> None:
    """Raise ReferenceMismatchError when any COMPAT_KEYS value differs (``mixed`` matches anything).

    The message names both values and, for an extractor mismatch, both feature names
    (``features``: ``inception``, ``toyclip-vit``, ...) and the option to rebuild with.
    """
    for key in COMPAT_KEYS:
        ref, run = reference.get(key), settings.get(key)
        if key == "resolution" and MIXED in (ref, run):
            continue
        if ref != run:
            ref_text, run_text, hint = str(ref), str(run), ""
            if key == "resolution":
                hint = (
                    f"; rebuild the reference at the run's size with 'drawbench reference build "
                    f"--resolution {str(run).split('x')[0]} ...'"
                )
            elif key in ("extractor", "mode"):
                ref_features = reference.get("features", DEFAULT_FEATURES)
                run_features = settings.get("features", DEFAULT_FEATURES)
                ref_text += f" (features: {ref_features})"
                run_text += f" (features: {run_features})"
                hint = (
                    "; rebuild the reference with the same --mode / --inception-weights as the run"
                )
                if ref_features != run_features:
                    hint = (
                        "; rebuild the reference with the run's features: 'drawbench reference "
                        f"build --features {run_features} ...'"
                    )
            raise ReferenceMismatchError(
                f"{where} was made with a different {key}:\n  reference: {ref_text}\n"
                f"  this run:  {run_text}{hint}"
            )


def resolution_of(sizes: Sequence[tuple[int, int]]) -> str:
    """``"WxH"`` when every (width, height) is the same, else ``"mixed"``."""
    unique = set(sizes)
    if len(unique) == 1:
        w, h = next(iter(unique))
        return f"{w}x{h}"
    return MIXED


def extractor_id(provenance: dict[str, Any]) -> str:
    """A feature extractor's identity: implementation plus weights sha256 (or random seed).

    E.g. ``cleanfid.inception_torchscript.InceptionV3W sha256=...`` or ``drawbench toy CLIP,
    coordconv image tower (evaluators.toyclip) sha256=...``.
    """
    if provenance.get("random_weights"):
        return f"{provenance.get('implementation')} random-weights seed={provenance.get('seed')}"
    return f"{provenance.get('implementation')} sha256={provenance.get('weights_sha256')}"


def list_images(folder: str | os.PathLike, names: Sequence[str] | None = None) -> list[Path]:
    """Image files of a folder (recursive, sorted), or exactly ``names`` inside it.

    Raises:
        FileNotFoundError: the folder is missing, empty, or some listed names are missing
            (the message counts them and shows the first few).
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} not found")
    if names is None:
        files = sorted(
            p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        )
        if not files:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
        return files
    files = [root / n for n in names]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(files)} listed images are missing under {root}, "
            f"e.g. {', '.join(missing[:3])}"
        )
    return files


def image_set_sha256(files: Sequence[Path], root: str | os.PathLike, threads: int = 8) -> str:
    """sha256 over ``"<path relative to root>\\t<sha256 of the file>\\n"`` lines, sorted by path."""
    root = Path(root)
    with ThreadPoolExecutor(threads) as pool:
        digests = list(pool.map(sha256_file, files))
    h = hashlib.sha256()
    for rel, digest in sorted(
        (p.relative_to(root).as_posix(), d) for p, d in zip(files, digests, strict=True)
    ):
        h.update(f"{rel}\t{digest}\n".encode())
    return h.hexdigest()


def cached_reference_path(key_fields: dict[str, Any], label: str = "reference") -> Path:
    """Cache location ``$DRAWBENCH_CACHE/reference/<label>-<mode>-<16 hex>.npz`` for the fields
    that determine the statistics (image set hash, extractor, mode, resolution, crop)."""
    key = hashlib.sha256(json.dumps(key_fields, sort_keys=True).encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:40]
    return cache_dir() / "reference" / f"{safe}-{key_fields.get('mode')}-{key}.npz"
