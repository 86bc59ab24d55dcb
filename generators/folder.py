"""The ``folder`` adapter: import images made elsewhere (a closed API, another codebase).

Two layouts, both keyed by prompt id (``mapping=id``, default) or by exact prompt text
(``mapping=text``):

* ``tree``: ``<dir>/<key>/<sample>.<ext>``, e.g. ``exports/drawbench-017/3.png``.
* ``csv``: a mapping file (default ``<dir>/mapping.csv``) with columns ``prompt_id`` (or
  ``prompt``, which selects mapping by text), optional ``sample`` (default: order of appearance per
  prompt, from 0) and ``file`` (relative to the mapping file's folder, or absolute).

``layout=auto`` picks ``csv`` when a mapping file exists, else ``tree``. Accepted formats: PNG,
JPEG, WebP (IMAGE_SUFFIXES); JPEG triggers a warning, since its compression shifts FID. Images are
decoded and converted to RGB; the run directory stores them as PNG.

The orchestrator calls ``bind_run(prompts, images_per_prompt, run_seed)`` before generating:
that checks coverage exactly (every missing prompt and sample is listed and fails the run; extra
images are listed in a warning) and maps each per-image seed back to its (prompt, sample).
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from drawbench.images import IMAGE_SUFFIXES, LOSSY_SUFFIXES, load_image_rgb
from drawbench.prompts import Prompt
from drawbench.seeding import derive_seed
from generators.base import GeneratorError

__all__ = ["DEFAULT_MAPPING_FILE", "FolderCoverage", "FolderGenerator"]

log = logging.getLogger(__name__)

DEFAULT_MAPPING_FILE = "mapping.csv"
#: How many entries of each kind an error or warning lists before "... and N more".
REPORT_LIMIT = 50
_MAPPINGS = ("id", "text")
_LAYOUTS = ("auto", "tree", "csv")


@dataclass
class FolderCoverage:
    """How a folder covers a run: what is missing, what is extra, how many images are lossy."""

    missing_prompts: list[str] = field(default_factory=list)  # prompt ids without any image
    missing_samples: dict[str, list[int]] = field(default_factory=dict)  # prompt id -> samples
    extra: list[str] = field(default_factory=list)  # files not used by the run
    lossy: int = 0

    @property
    def complete(self) -> bool:
        return not self.missing_prompts and not self.missing_samples

    def lines(self) -> list[str]:
        """Human-readable report, each list cut at REPORT_LIMIT entries."""

        def cut(items: list[str]) -> str:
            more = len(items) - REPORT_LIMIT
            return ", ".join(items[:REPORT_LIMIT]) + (f", ... and {more} more" if more > 0 else "")

        out = []
        if self.missing_prompts:
            out.append(
                f"  {len(self.missing_prompts)} prompt(s) without any image: {cut(self.missing_prompts)}"
            )
        if self.missing_samples:
            n = sum(len(v) for v in self.missing_samples.values())
            items = [f"{pid} {samples}" for pid, samples in self.missing_samples.items()]
            out.append(f"  {n} missing sample(s) of other prompts: {cut(items)}")
        if self.extra:
            out.append(f"  {len(self.extra)} extra file(s) not used by this run: {cut(self.extra)}")
        return out


class FolderGenerator:
    """Serve images from a folder as if a generator had made them.

    Args:
        dir: The folder.
        mapping: ``"id"`` or ``"text"``: what folder names (tree) identify prompts by. A CSV
            mapping file decides by its column instead (``prompt_id`` or ``prompt``).
        layout: ``"auto"``, ``"tree"`` or ``"csv"``.
        mapping_file: CSV mapping file (default ``<dir>/mapping.csv``).
    """

    OPTIONS = ("dir", "mapping", "layout", "mapping_file")

    def __init__(
        self,
        dir: str,
        mapping: str = "id",
        layout: str = "auto",
        mapping_file: str | None = None,
    ):
        self.check_options(dir=dir, mapping=mapping, layout=layout, mapping_file=mapping_file)
        self.dir = Path(dir).resolve()
        csv_path = Path(mapping_file) if mapping_file else self.dir / DEFAULT_MAPPING_FILE
        self.layout = layout if layout != "auto" else ("csv" if csv_path.is_file() else "tree")
        self.mapping = mapping
        self.mapping_file = csv_path.resolve() if self.layout == "csv" else None
        if self.layout == "csv":
            self.files = self._scan_csv(csv_path)
        else:
            self.files = self._scan_tree()
        self.coverage: FolderCoverage | None = None
        self._by_seed: dict[tuple[str, int], Path] | None = None

    @classmethod
    def check_options(cls, **options: Any) -> None:
        """Validate options (the folder and mapping file must exist) without reading images."""
        unknown = sorted(set(options) - set(cls.OPTIONS))
        if unknown:
            raise ValueError(
                f"folder: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(cls.OPTIONS)}"
            )
        if not options.get("dir"):
            raise ValueError("folder: missing option dir (e.g. --option dir=exports/my-model)")
        if not Path(str(options["dir"])).is_dir():
            raise ValueError(f"folder: option dir={options['dir']!r} is not a directory")
        for key, allowed in (("mapping", _MAPPINGS), ("layout", _LAYOUTS)):
            if key in options and options[key] not in allowed:
                raise ValueError(
                    f"folder: option {key} must be one of {', '.join(allowed)}, got {options[key]!r}"
                )
        mapping_file = options.get("mapping_file")
        if mapping_file is not None and not Path(str(mapping_file)).is_file():
            raise ValueError(f"folder: mapping_file {mapping_file!r} not found")
        if options.get("layout") == "csv" and mapping_file is None:
            default = Path(str(options["dir"])) / DEFAULT_MAPPING_FILE
            if not default.is_file():
                raise ValueError(
                    f"folder: layout=csv but {default} not found; pass --option mapping_file=..."
                )

    # ------------------------------------------------------------------ scanning

    def _scan_tree(self) -> dict[tuple[str, int], Path]:
        """``<dir>/<key>/<sample>.<ext>`` -> {(key, sample): path}; other files count as extra."""
        files: dict[tuple[str, int], Path] = {}
        self._unparsed: list[str] = []
        for path in sorted(self.dir.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            rel = path.relative_to(self.dir)
            if (
                len(rel.parts) != 2
                or path.suffix.lower() not in IMAGE_SUFFIXES
                or not path.stem.isdigit()
            ):
                self._unparsed.append(rel.as_posix())
                continue
            key = (rel.parts[0], int(path.stem))
            if key in files:
                raise GeneratorError(
                    f"folder {self.dir}: two files for {key[0]!r} sample {key[1]}: "
                    f"{files[key].relative_to(self.dir)} and {rel}; keep one"
                )
            files[key] = path
        return files

    def _scan_csv(self, csv_path: Path) -> dict[tuple[str, int], Path]:
        """Rows ``prompt_id|prompt, [sample], file`` -> {(key, sample): path}."""
        self._unparsed = []
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            key_column = (
                "prompt_id" if "prompt_id" in header else "prompt" if "prompt" in header else None
            )
            if key_column is None or "file" not in header:
                raise GeneratorError(
                    f"{csv_path} line 1: need columns 'prompt_id' (or 'prompt') and 'file' "
                    f"(optional 'sample'); header: {', '.join(header)}"
                )
            self.mapping = "id" if key_column == "prompt_id" else "text"
            files: dict[tuple[str, int], Path] = {}
            counts: dict[str, int] = defaultdict(int)
            for row in reader:
                line = reader.line_num
                key = (row[key_column] or "").strip()
                sample_text = (row.get("sample") or "").strip()
                if sample_text and not sample_text.isdigit():
                    raise GeneratorError(
                        f"{csv_path} line {line}: sample must be an integer >= 0, got {sample_text!r}"
                    )
                sample = int(sample_text) if sample_text else counts[key]
                counts[key] += 1
                path = (csv_path.parent / (row["file"] or "").strip()).resolve()
                if not path.is_file():
                    raise GeneratorError(
                        f"{csv_path} line {line}: file {row['file']!r} not found (looked at {path})"
                    )
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    raise GeneratorError(
                        f"{csv_path} line {line}: {path.name} is not PNG, JPEG or WebP ({', '.join(IMAGE_SUFFIXES)})"
                    )
                if (key, sample) in files:
                    raise GeneratorError(
                        f"{csv_path} line {line}: {key!r} sample {sample} listed twice"
                    )
                files[(key, sample)] = path
        return files

    # ------------------------------------------------------------------ the run

    def bind_run(
        self, prompts: Sequence[Prompt], images_per_prompt: int, run_seed: int
    ) -> FolderCoverage:
        """Check coverage of the run exactly and map per-image seeds to files.

        Raises:
            GeneratorError: some prompts or samples have no image (all are listed).
        """
        coverage = FolderCoverage()
        by_seed: dict[tuple[str, int], Path] = {}
        used: set[tuple[str, int]] = set()
        for prompt in prompts:
            key = prompt.id if self.mapping == "id" else prompt.text
            absent = [j for j in range(images_per_prompt) if (key, j) not in self.files]
            if len(absent) == images_per_prompt:
                coverage.missing_prompts.append(prompt.id)
            elif absent:
                coverage.missing_samples[prompt.id] = absent
            for j in range(images_per_prompt):
                if (key, j) in self.files:
                    used.add((key, j))
                    by_seed[(prompt.text, derive_seed(run_seed, prompt.id, j))] = self.files[
                        (key, j)
                    ]
        coverage.extra = [
            self._name(k) for k in sorted(self.files) if k not in used
        ] + self._unparsed
        coverage.lossy = sum(p.suffix.lower() in LOSSY_SUFFIXES for p in by_seed.values())
        self.coverage, self._by_seed = coverage, by_seed
        if not coverage.complete:
            raise GeneratorError(
                f"folder {self.dir} does not cover the run ({len(prompts)} prompts x {images_per_prompt} "
                f"images, mapping by {self.mapping}):\n"
                + "\n".join(coverage.lines())
                + "\nAdd the "
                "missing images, or narrow the run (--category, --limit, a prompt file, fewer "
                "--images-per-prompt)."
            )
        if coverage.extra:
            log.warning(
                "folder %s: files not used by this run:\n%s", self.dir, "\n".join(coverage.lines())
            )
        if coverage.lossy:
            log.warning(
                "folder %s: %d of %d images are JPEG; JPEG compression shifts FID, so compare such a run "
                "only with runs whose images went through the same compression",
                self.dir,
                coverage.lossy,
                len(by_seed),
            )
        return coverage

    def _name(self, key: tuple[str, int]) -> str:
        path = self.files[key]
        return path.relative_to(self.dir).as_posix() if path.is_relative_to(self.dir) else str(path)

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        """The stored images for these (prompt, seed) pairs, decoded as RGB."""
        if self._by_seed is None:
            raise GeneratorError(
                "folder: bind_run(prompts, images_per_prompt, run_seed) must come first (drawbench "
                "generate does it); seeds alone do not say which sample an image is"
            )
        images = []
        for text, seed in zip(prompts, seeds, strict=True):
            path = self._by_seed.get((text, int(seed)))
            if path is None:
                raise GeneratorError(
                    f"folder {self.dir}: no image for prompt {text!r} with seed {seed}"
                )
            images.append(load_image_rgb(path))
        return images

    def describe(self) -> dict[str, Any]:
        suffixes: dict[str, int] = defaultdict(int)
        for path in self.files.values():
            suffixes[path.suffix.lower().lstrip(".")] += 1
        return {
            "name": "folder",
            "dir": str(self.dir),
            "layout": self.layout,
            "mapping": self.mapping,
            "mapping_file": str(self.mapping_file) if self.mapping_file else None,
            "n_files": len(self.files),
            "formats": dict(sorted(suffixes.items())),
        }
