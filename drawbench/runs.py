"""Run directories: what a generation run leaves and everything downstream reads.

Layout (see DESIGN.md)::

    <run>/run.json          provenance: generator + describe(), prompt set + sha256, images per
                            prompt, run seed, package versions, command line, start time
    <run>/manifest.jsonl    one JSON line per finished image (MANIFEST_FIELDS)
    <run>/images/<prompt_id>/<sample>.png
    <run>/metrics.json      written by ``drawbench evaluate``

Images are written under a temporary name and renamed; the manifest line is appended only after
the image is on disk, under an exclusive ``flock`` so that shards share one manifest. A process
killed at any instant leaves at worst a torn last manifest line (reported, repaired on the next
append) or an image without a line (regenerated, byte-identical, on resume).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drawbench.images import save_png_atomic, write_bytes_atomic

log = logging.getLogger(__name__)

RUN_JSON = "run.json"
MANIFEST = "manifest.jsonl"
METRICS_JSON = "metrics.json"
IMAGES_DIR = "images"

#: run.json keys that must match for a run directory to accept more images.
IDENTITY_KEYS = ("generator", "prompt_set", "seed")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]+$")


class RunDirectoryError(ValueError):
    """A run directory is missing, corrupt, or incompatible with the requested run."""


@dataclass(frozen=True)
class ManifestRecord:
    """One finished image (one line of manifest.jsonl)."""

    prompt_id: str
    category: str
    sample: int
    seed: int
    path: str  # relative to the run directory
    sha256: str
    width: int
    height: int
    seconds: float

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ManifestRecord:
        return cls(**{k: d[k] for k in MANIFEST_FIELDS})

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=False)


MANIFEST_FIELDS = tuple(ManifestRecord.__dataclass_fields__)


@dataclass
class ManifestView:
    """The manifest as read: records (first one kept per image), plus what was wrong with it."""

    records: list[ManifestRecord]
    torn_line: str | None = None  # fragment of an unfinished last line (a writer was killed)
    duplicates: int = 0  # extra lines for an image already recorded (ignored)
    notes: list[str] = field(default_factory=list)

    def keys(self) -> set[tuple[str, int]]:
        return {(r.prompt_id, r.sample) for r in self.records}


def image_relpath(prompt_id: str, sample: int) -> str:
    """Relative path of an image: ``images/<prompt_id>/<sample>.png``.

    Ids that are not filename-safe (``[A-Za-z0-9._-]``) become ``<cleaned>-<8 hex of sha256>``.
    """
    folder = prompt_id
    if not _SAFE_ID.match(prompt_id) or prompt_id in (".", ".."):
        cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", prompt_id).strip("._")[:60] or "prompt"
        folder = f"{cleaned}-{hashlib.sha256(prompt_id.encode()).hexdigest()[:8]}"
    return f"{IMAGES_DIR}/{folder}/{int(sample)}.png"


class RunDirectory:
    """A run directory on disk. ``create`` or ``open`` it; then write images and read the manifest."""

    def __init__(self, path: str | Path, info: dict[str, Any]):
        self.path = Path(path)
        self.info = info

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path) -> RunDirectory:
        """Open an existing run directory (reads run.json)."""
        path = Path(path)
        run_json = path / RUN_JSON
        if not run_json.is_file():
            raise RunDirectoryError(f"{path} is not a run directory: {RUN_JSON} not found")
        try:
            info = json.loads(run_json.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise RunDirectoryError(f"{run_json}: corrupt ({err})") from None
        return cls(path, info)

    @classmethod
    def create(cls, path: str | Path, info: dict[str, Any]) -> RunDirectory:
        """Create a run directory, or reopen one made by the same configuration.

        Safe when several shards start at once: run.json is published with an atomic link.

        Raises:
            RunDirectoryError: the directory holds a different generator configuration, prompt
                set or seed (nothing is touched), or is a non-empty folder that is not a run.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise RunDirectoryError(f"{path} exists and is not a directory")
        if path.is_dir() and not (path / RUN_JSON).exists() and any(path.iterdir()):
            raise RunDirectoryError(
                f"{path} is a non-empty folder without {RUN_JSON}; refusing to write into it"
            )
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / f".{RUN_JSON}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        try:
            os.link(tmp, path / RUN_JSON)  # atomic; fails if another process published first
            return cls(path, info)
        except FileExistsError:
            existing = cls.open(path)
            existing.check_compatible(info)
            if info.get("images_per_prompt", 0) > existing.info.get("images_per_prompt", 0):
                existing.info["images_per_prompt"] = info["images_per_prompt"]
                write_bytes_atomic(
                    (json.dumps(existing.info, indent=2, ensure_ascii=False) + "\n").encode(),
                    path / RUN_JSON,
                )
            return existing
        finally:
            tmp.unlink(missing_ok=True)

    def check_compatible(self, info: Mapping[str, Any]) -> None:
        """Raise RunDirectoryError naming the first identity key that differs."""
        for key in IDENTITY_KEYS:
            mine, theirs = self.info.get(key), info.get(key)
            if key == "prompt_set":
                mine = {k: (mine or {}).get(k) for k in ("name", "sha256")}
                theirs = {k: (theirs or {}).get(k) for k in ("name", "sha256")}
            if _canonical(mine) != _canonical(theirs):
                raise RunDirectoryError(
                    f"{self.path} was made with a different {key}:\n  existing:  {_canonical(mine)}\n"
                    f"  requested: {_canonical(theirs)}\nNothing was written; choose another --out "
                    "or the same settings to resume."
                )

    # ------------------------------------------------------------------ writing

    def write_image(
        self, prompt_id: str, category: str, sample: int, seed: int, image, seconds: float
    ) -> ManifestRecord:
        """Save ``image`` (PIL RGB) atomically, then append its manifest line."""
        rel = image_relpath(prompt_id, sample)
        digest = save_png_atomic(image, self.path / rel)
        record = ManifestRecord(
            prompt_id,
            category,
            int(sample),
            int(seed),
            rel,
            digest,
            image.width,
            image.height,
            round(float(seconds), 6),
        )
        self.append_records([record])
        return record

    def append_records(self, records: Iterable[ManifestRecord]) -> None:
        """Append manifest lines under an exclusive lock, first cutting a torn last line."""
        payload = "".join(r.to_json() + "\n" for r in records).encode("utf-8")
        if not payload:
            return
        fd = os.open(self.path / MANIFEST, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                tail = os.pread(fd, min(size, 1 << 16), max(0, size - (1 << 16)))
                cut = size - (len(tail) - (tail.rfind(b"\n") + 1))
                log.warning(
                    "%s: removing a torn last line (%d bytes) left by a killed writer",
                    self.path / MANIFEST,
                    size - cut,
                )
                os.ftruncate(fd, cut)
            os.write(fd, payload)
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ reading

    def read_manifest(self) -> ManifestView:
        """Read manifest.jsonl, tolerating (and reporting) a torn last line and duplicate lines."""
        path = self.path / MANIFEST
        if not path.exists():
            return ManifestView([])
        raw = path.read_bytes()
        lines = raw.split(b"\n")
        torn = None
        if lines and lines[-1] == b"":
            lines.pop()
        elif lines:
            torn = lines.pop().decode("utf-8", errors="replace")
        view = ManifestView([], torn_line=torn)
        if torn is not None:
            view.notes.append(
                f"{path}: torn last line ignored ({len(torn)} bytes; a writer was killed)"
            )
        seen: set[tuple[str, int]] = set()
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = ManifestRecord.from_dict(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise RunDirectoryError(f"{path} line {n}: corrupt manifest line ({err})") from None
            key = (record.prompt_id, record.sample)
            if key in seen:
                view.duplicates += 1
                continue
            seen.add(key)
            view.records.append(record)
        if view.duplicates:
            view.notes.append(f"{path}: {view.duplicates} duplicate line(s) ignored")
        return view

    def missing(
        self, prompts: Iterable, images_per_prompt: int | None = None, check_files: bool = True
    ) -> list[tuple[Any, int]]:
        """(prompt, sample) pairs still to generate, in prompt order then sample order.

        Args:
            prompts: Prompt objects (anything with ``.id``).
            images_per_prompt: defaults to run.json's value.
            check_files: also count as missing an image whose manifest line exists but whose file
                is gone.
        """
        n = int(
            images_per_prompt if images_per_prompt is not None else self.info["images_per_prompt"]
        )
        view = self.read_manifest()
        done = {(r.prompt_id, r.sample): r for r in view.records}
        todo = []
        for p in prompts:
            for j in range(n):
                rec = done.get((p.id, j))
                if rec is None or (check_files and not (self.path / rec.path).is_file()):
                    todo.append((p, j))
        return todo

    def load_prompts(self, override: str | Path | None = None):
        """The PromptSet this run was generated from (rebuilt from run.json, sha256-checked)."""
        from drawbench.prompts import load_selection

        try:
            return load_selection(self.info.get("prompt_set") or {}, override)
        except ValueError as err:
            raise RunDirectoryError(f"{self.path}: {err}") from None

    def read_metrics(self) -> dict[str, Any]:
        path = self.path / METRICS_JSON
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def write_metrics(self, metrics: Mapping[str, Any]) -> None:
        write_bytes_atomic(
            (json.dumps(metrics, indent=2, ensure_ascii=False) + "\n").encode(),
            self.path / METRICS_JSON,
        )

    @property
    def name(self) -> str:
        return self.path.resolve().name


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
