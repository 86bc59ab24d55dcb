"""Checking a batch's images and saving them in the background (PNG files, manifest lines).

Images are written atomically before their manifest lines are appended, so a kill at any instant
leaves the run directory resumable. Everything here is re-exported by
:mod:`drawbench.pipeline.generate`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from drawbench.images import save_png_atomic
from drawbench.pipeline.work import WorkItem
from drawbench.runs import ManifestRecord, RunDirectory, image_relpath
from generators.base import GeneratorError

log = logging.getLogger(__name__)

#: Writes one image as a PNG file atomically and returns its sha256 (hex), like
#: ``drawbench.images.save_png_atomic``.
SavePng = Callable[[Any, Path], str]

#: Threads that encode and write images while the next batch is generated (PNG encoding and
#: fsync release the GIL).
SAVE_THREADS = 2


def _where(name: str, item: WorkItem) -> str:
    text = item.prompt.text if len(item.prompt.text) <= 60 else item.prompt.text[:57] + "..."
    return f"generator {name!r}, prompt {item.prompt.id} ({text!r}), sample {item.sample}"


def check_images(
    images: Any, items: Sequence[WorkItem], name: str, size: tuple[int, int] | None
) -> tuple[int, int]:
    """Check one batch's output: one PIL RGB image per item, all of one ``(width, height)``.

    Args:
        images: What ``generate`` returned.
        items: The batch's work items, in order.
        name: Generator name, for messages.
        size: The run's image size so far, or None for the first batch.

    Returns:
        The run's image size ``(width, height)``.

    Raises:
        GeneratorError: naming the generator and the prompt whose image is wrong.
    """
    from PIL import Image

    if not isinstance(images, (list, tuple)):
        raise GeneratorError(
            f"generator {name!r} returned a {type(images).__name__} for the batch starting at "
            f"{_where(name, items[0])}; generate() must return a list of PIL images"
        )
    if len(images) != len(items):
        raise GeneratorError(
            f"generator {name!r} returned {len(images)} images for {len(items)} prompts "
            f"(batch starting at {_where(name, items[0])}); it must return one image per prompt"
        )
    for image, item in zip(images, items, strict=True):
        if not isinstance(image, Image.Image):
            raise GeneratorError(
                f"{_where(name, item)}: got a {type(image).__name__}, not a PIL image"
            )
        if image.mode != "RGB":
            raise GeneratorError(
                f"{_where(name, item)}: image mode is {image.mode!r}, not 'RGB' (convert it with "
                "image.convert('RGB') in the generator)"
            )
        if size is None:
            size = image.size
        elif image.size != size:
            raise GeneratorError(
                f"{_where(name, item)}: image is {image.width}x{image.height} but this run's images "
                f"are {size[0]}x{size[1]}; every image of a run must have one size"
            )
    return size


def _save_chunk(
    run: RunDirectory,
    chunk: Sequence[tuple[WorkItem, Any]],
    seconds: float,
    recorded: Mapping,
    save: SavePng | None = None,
) -> int:
    """Write a few images atomically, then append their manifest lines in one locked write.

    An image whose line survived while its file was lost is rewritten without a second line (with
    a warning if its bytes differ from the record). ``save`` writes one PNG and returns its sha256
    (default ``drawbench.images.save_png_atomic``). Returns the number of images written.
    """
    save = save_png_atomic if save is None else save
    records = []
    for item, image in chunk:
        old = recorded.get(item.key)
        rel = old.path if old is not None else image_relpath(item.prompt.id, item.sample)
        digest = save(image, run.path / rel)
        if old is None:
            records.append(
                ManifestRecord(item.prompt.id, item.prompt.category, item.sample, item.seed, rel, digest,
                               image.width, image.height, round(seconds, 6))
            )  # fmt: skip
        elif digest != old.sha256:
            log.warning(
                "%s: regenerated image differs from its manifest line (sha256 %s); is the generator "
                "deterministic for (prompt, seed)?",
                run.path / rel,
                old.sha256[:12],
            )
    run.append_records(records)
    return len(chunk)


class _Saver:
    """Saves images (PNG encoding, atomic write + fsync, manifest lines) on SAVE_THREADS background
    threads, so that generation of the next batch overlaps with saving; a batch is split into one
    chunk per thread and at most ``max_pending`` images wait in memory. Images are on disk before
    their manifest lines, so a kill at any instant leaves the run directory resumable. The
    progress bar counts saved images. ``save`` is passed on to ``_save_chunk``."""

    def __init__(
        self,
        run: RunDirectory,
        recorded: Mapping,
        bar,
        max_pending: int,
        save: SavePng | None = None,
    ):
        from concurrent.futures import ThreadPoolExecutor

        self.run, self.recorded, self.bar, self.max_pending = run, recorded, bar, max_pending
        self.save = save
        self.pool = ThreadPoolExecutor(SAVE_THREADS, thread_name_prefix="drawbench-save")
        self.pending: deque = deque()
        self.unsaved = 0

    def submit(self, batch: Sequence[WorkItem], images: Sequence[Any], seconds: float) -> None:
        pairs = list(zip(batch, images, strict=True))
        step = -(-len(pairs) // SAVE_THREADS)
        for i in range(0, len(pairs), step):
            chunk = pairs[i : i + step]
            self.pending.append(
                self.pool.submit(_save_chunk, self.run, chunk, seconds, self.recorded, self.save)
            )
            self.unsaved += len(chunk)
        self.wait(self.max_pending)

    def wait(self, limit: int = 0) -> None:
        """Block until at most ``limit`` images are unsaved; re-raise a failed save."""
        while self.pending and self.unsaved > limit:
            saved = self.pending.popleft().result()
            self.unsaved -= saved
            self.bar.update(saved)

    def __enter__(self) -> _Saver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True)  # after an error too: images already made are kept
