"""Prompts and prompt sets: the bundled DrawBench and COCO-30K sets and custom prompt files.

Ids are stable strings: DrawBench ``drawbench-000`` .. ``drawbench-199`` in file order, COCO
``coco-<image_id>``, custom sets their ``id`` column or ``<set>-<row>`` (0-based row).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "Prompt",
    "PromptFileError",
    "PromptSet",
    "list_prompt_sets",
    "load_prompt_file",
    "load_prompt_set",
    "load_selection",
    "select_prompts",
]


class PromptFileError(ValueError):
    """A prompt file is malformed; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Prompt:
    """One prompt.

    Attributes:
        id: Stable id, unique within its set.
        text: The text fed to a generator (surrounding whitespace stripped).
        category: Category name ("" when the set has none).
        source: Name of the prompt set it came from.
        meta: Extra per-prompt fields (COCO: image_id, file_name, width, height).
    """

    id: str
    text: str
    category: str
    source: str
    meta: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, str]:
        """The four public fields, as ``drawbench prompts list --format json`` prints them."""
        return {"id": self.id, "text": self.text, "category": self.category, "source": self.source}


@dataclass(frozen=True)
class PromptSet:
    """A named, ordered, immutable collection of prompts with a content hash.

    ``sha256`` hashes the canonical content (one JSON line ``[id, text, category]`` per prompt,
    in order), so the same prompts hash the same whatever the file format they came from.
    ``notes`` records any normalisation applied while loading (e.g. whitespace stripped).
    """

    name: str
    prompts: tuple[Prompt, ...]
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.prompts)

    def __iter__(self) -> Iterator[Prompt]:
        return iter(self.prompts)

    def __getitem__(self, index: int) -> Prompt:
        return self.prompts[index]

    @property
    def sha256(self) -> str:
        h = hashlib.sha256()
        for p in self.prompts:
            h.update(json.dumps([p.id, p.text, p.category], ensure_ascii=False).encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()

    @property
    def categories(self) -> dict[str, int]:
        """Category name -> prompt count, in order of first appearance."""
        return dict(Counter(p.category for p in self.prompts))

    def by_id(self) -> Mapping[str, Prompt]:
        return MappingProxyType({p.id: p for p in self.prompts})

    def filter(self, *, category: str | None = None, ids: Sequence[str] | None = None) -> PromptSet:
        """A subset (same name) by category (case-insensitive) and/or ids, order kept."""
        prompts = self.prompts
        if category is not None:
            wanted = {c for c in self.categories if c.casefold() == category.casefold()}
            if not wanted:
                available = ", ".join(self.categories)
                raise ValueError(
                    f"unknown category {category!r} in set {self.name!r}; available: {available}"
                )
            prompts = tuple(p for p in prompts if p.category in wanted)
        if ids is not None:
            index = self.by_id()
            unknown = [i for i in ids if i not in index]
            if unknown:
                raise ValueError(
                    f"unknown prompt ids in set {self.name!r}: {', '.join(unknown[:10])}"
                )
            keep = set(ids)
            prompts = tuple(p for p in prompts if p.id in keep)
        return PromptSet(self.name, prompts, self.notes)

    def describe(self) -> dict:
        """Provenance as recorded in run.json."""
        return {
            "name": self.name,
            "sha256": self.sha256,
            "n_prompts": len(self),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- bundled sets


def _data_bytes(filename: str) -> bytes:
    return resources.files("drawbench.data").joinpath(filename).read_bytes()


def _load_drawbench() -> PromptSet:
    rows = _read_csv_rows(
        _data_bytes("drawbench.csv"), "data/drawbench.csv", required=("prompt", "category")
    )
    prompts = tuple(
        Prompt(f"drawbench-{i:03d}", row["prompt"].strip(), row["category"].strip(), "drawbench")
        for i, (_, row) in enumerate(rows)
    )
    return PromptSet("drawbench", prompts)


def _load_coco30k() -> PromptSet:
    rows = _read_csv_rows(
        _data_bytes("coco30k.csv"),
        "data/coco30k.csv",
        required=("image_id", "file_name", "caption"),
    )
    prompts = []
    stripped = 0
    for _, row in rows:
        text = row["caption"].strip()
        stripped += text != row["caption"]
        meta = {k: row[k] for k in ("image_id", "file_name", "width", "height") if k in row}
        prompts.append(Prompt(f"coco-{row['image_id']}", text, "COCO", "coco30k", meta))
    notes = (
        f"caption whitespace stripped for {stripped} of {len(prompts)} prompts (files keep COCO's bytes)",
    )
    return PromptSet("coco30k", tuple(prompts), notes)


_BUNDLED: dict[str, Callable[[], PromptSet]] = {
    "drawbench": _load_drawbench,
    "coco30k": _load_coco30k,
    # the toy world's held-out prompts; its module imports only the standard library
    "toyworld": lambda: __import__(
        "drawbench.toyworld", fromlist=["load_toyworld_prompts"]
    ).load_toyworld_prompts(),
}


def register_prompt_set(name: str, loader: Callable[[], PromptSet]) -> None:
    """Register a bundled prompt set under ``name`` (e.g. the toy world's)."""
    _BUNDLED[name] = loader


def list_prompt_sets() -> list[str]:
    """Names of the bundled prompt sets."""
    return sorted(_BUNDLED)


def load_prompt_set(name_or_path: str | Path) -> PromptSet:
    """Load a bundled set by name, or a custom prompt file (.csv, .jsonl, .txt) by path.

    Raises:
        PromptFileError: A custom file is malformed (message names file, line and problem).
        ValueError: Neither a bundled name nor an existing file.
    """
    key = str(name_or_path)
    if key in _BUNDLED:
        return _BUNDLED[key]()
    path = Path(key)
    if path.is_file():
        return load_prompt_file(path)
    raise ValueError(
        f"unknown prompt set {key!r}: not a bundled set ({', '.join(list_prompt_sets())}) "
        "and no such file"
    )


def select_prompts(
    spec: str | Path,
    *,
    category: str | None = None,
    limit: int | None = None,
    ids: Sequence[str] | None = None,
) -> PromptSet:
    """Load a set and keep a selection: a category, then explicit ids, then the first ``limit``.

    The selection is what ``run.json`` records under ``prompt_set.selection`` (keys ``spec``,
    ``category``, ``limit``, ``ids``), so ``load_selection`` can rebuild the exact same set.
    """
    prompts = load_prompt_set(spec).filter(category=category, ids=ids)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        prompts = PromptSet(prompts.name, prompts.prompts[:limit], prompts.notes)
    if not len(prompts):
        raise ValueError(f"no prompts selected from {str(spec)!r} (category {category!r})")
    return prompts


def load_selection(prompt_set_record: Mapping, override: str | Path | None = None) -> PromptSet:
    """Rebuild the prompts a run used from its run.json ``prompt_set`` record, checking sha256.

    Args:
        prompt_set_record: ``run.json["prompt_set"]`` (name, sha256, optional selection).
        override: a prompt file to use instead of the recorded spec (e.g. the file moved).

    Raises:
        ValueError: the set cannot be loaded or its content differs from what the run used.
    """
    sel = dict(prompt_set_record.get("selection") or {})
    spec = override or sel.get("spec") or prompt_set_record.get("name")
    try:
        prompts = select_prompts(
            spec, category=sel.get("category"), limit=sel.get("limit"), ids=sel.get("ids")
        )
    except ValueError as err:
        raise ValueError(f"cannot rebuild the run's prompts from {str(spec)!r}: {err}") from None
    expected = prompt_set_record.get("sha256")
    if expected and prompts.sha256 != expected:
        raise ValueError(
            f"prompt set {str(spec)!r} (selection {sel or 'all'}) has sha256 {prompts.sha256[:12]}, but the run "
            f"was made with {expected[:12]}; pass the exact prompt file the run used"
        )
    return prompts


# --------------------------------------------------------------------------- custom files


def _decode(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise PromptFileError(
            f"{filename} line {line}: wrong encoding, not UTF-8 (byte 0x{data[err.start]:02x} at offset "
            f"{err.start}); re-save the file as UTF-8"
        ) from None


def _read_csv_rows(
    data: bytes, filename: str, required: Sequence[str | tuple[str, ...]] = ()
) -> list[tuple[int, dict]]:
    """Rows of a CSV as (line number, dict); the header must hold every ``required`` column."""
    reader = csv.DictReader(io.StringIO(_decode(data, filename), newline=""))
    header = reader.fieldnames or []
    for options in required:
        names = options if isinstance(options, tuple) else (options,)
        if not any(n in header for n in names):
            wanted = " (or ".join(repr(n) for n in names) + ")" * (len(names) - 1)
            raise PromptFileError(
                f"{filename} line 1: missing column {wanted}; header: {', '.join(header)}"
            )
    rows = []
    try:
        for row in reader:
            if None in row:
                raise PromptFileError(
                    f"{filename} line {reader.line_num}: more fields than the header has"
                )
            rows.append((reader.line_num, row))
    except csv.Error as err:
        raise PromptFileError(f"{filename} line {reader.line_num}: malformed CSV ({err})") from None
    return rows


def _records_csv(data: bytes, filename: str) -> Iterator[tuple[int, dict]]:
    for line, row in _read_csv_rows(data, filename, required=(("prompt", "text"),)):
        text = row["prompt"] if "prompt" in row else row["text"]
        yield line, {"text": text, "id": row.get("id"), "category": row.get("category")}


def _records_jsonl(data: bytes, filename: str) -> Iterator[tuple[int, dict]]:
    for line_no, line in enumerate(_decode(data, filename).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise PromptFileError(f"{filename} line {line_no}: invalid JSON ({err.msg})") from None
        if not isinstance(obj, dict):
            raise PromptFileError(
                f"{filename} line {line_no}: expected a JSON object, got {type(obj).__name__}"
            )
        if "prompt" not in obj and "text" not in obj:
            raise PromptFileError(f"{filename} line {line_no}: missing key 'prompt' (or 'text')")
        text = obj.get("prompt", obj.get("text"))
        if text is not None and not isinstance(text, str):
            raise PromptFileError(
                f"{filename} line {line_no}: prompt must be a string, got {type(text).__name__}"
            )
        yield line_no, {"text": text, "id": obj.get("id"), "category": obj.get("category")}


def _records_txt(data: bytes, filename: str) -> Iterator[tuple[int, dict]]:
    lines = _decode(data, filename).splitlines()
    while lines and not lines[-1].strip():  # trailing blank lines are not prompts
        lines.pop()
    for line_no, line in enumerate(lines, start=1):
        yield line_no, {"text": line, "id": None, "category": None}


_READERS = {".csv": _records_csv, ".jsonl": _records_jsonl, ".txt": _records_txt}


def load_prompt_file(path: str | Path, name: str | None = None) -> PromptSet:
    """Load a custom prompt file.

    Formats (chosen by suffix), all UTF-8:
      * ``.csv``: a ``prompt`` (or ``text``) column; optional ``id`` and ``category``.
      * ``.jsonl``: one object a line with ``prompt`` (or ``text``); optional ``id``, ``category``.
      * ``.txt``: one prompt a line.

    Prompts without an id get ``<set>-<row>`` (0-based, zero-padded); the set name defaults to the
    file stem. Surrounding whitespace is stripped from prompt text.

    Raises:
        PromptFileError: naming the file, the line and the problem (missing column, empty prompt,
            duplicate id, wrong encoding, invalid JSON, unsupported suffix).
    """
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise PromptFileError(
            f"{path}: unsupported prompt file type {path.suffix!r}; use .csv, .jsonl or .txt"
        )
    try:
        data = path.read_bytes()
    except OSError as err:
        raise PromptFileError(f"{path}: cannot read ({err.strerror})") from None
    set_name = name or path.stem
    records = list(reader(data, str(path)))
    if not records:
        raise PromptFileError(f"{path}: no prompts found")
    width = max(3, len(str(len(records) - 1)))
    prompts: list[Prompt] = []
    seen: dict[str, int] = {}
    for row, (line_no, rec) in enumerate(records):
        text = (rec["text"] or "").strip()
        if not text:
            raise PromptFileError(f"{path} line {line_no}: empty prompt")
        pid = (
            str(rec["id"]).strip() if rec["id"] not in (None, "") else f"{set_name}-{row:0{width}d}"
        )
        if pid in seen:
            raise PromptFileError(
                f"{path} line {line_no}: duplicate id {pid!r} (first on line {seen[pid]})"
            )
        seen[pid] = line_no
        category = "" if rec["category"] is None else str(rec["category"]).strip()
        prompts.append(Prompt(pid, text, category, set_name))
    return PromptSet(set_name, tuple(prompts))
