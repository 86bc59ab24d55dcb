"""Image-caption folders for training: ``captions.csv`` (columns ``file,caption``) or sidecar
``.txt`` files (``cat.png`` + ``cat.txt``)."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from PIL import Image

from drawbench.images import IMAGE_SUFFIXES, load_image_rgb, pil_to_tensor

CAPTIONS_CSV = "captions.csv"


def list_image_captions(folder: str | Path) -> list[tuple[Path, str]]:
    """(image path, caption) pairs of a folder, sorted by path.

    Reads ``captions.csv`` (header ``file,caption``; ``file`` relative to the folder) when present,
    otherwise every image with a same-named ``.txt`` beside it. Raises ValueError naming the file
    and line for a bad row, or when the folder holds no pair.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"training data folder not found: {folder}")
    pairs: list[tuple[Path, str]] = []
    csv_path = folder / CAPTIONS_CSV
    if csv_path.is_file():
        with open(csv_path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"file", "caption"} <= set(reader.fieldnames):
                raise ValueError(
                    f"{csv_path}: header must have columns 'file' and 'caption', got {reader.fieldnames}"
                )
            for line, row in enumerate(reader, start=2):
                path, caption = folder / (row["file"] or ""), (row["caption"] or "").strip()
                if not row["file"] or not path.is_file():
                    raise ValueError(f"{csv_path} line {line}: image {row['file']!r} not found")
                if not caption:
                    raise ValueError(f"{csv_path} line {line}: empty caption")
                pairs.append((path, caption))
    else:
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            txt = path.with_suffix(".txt")
            if txt.is_file() and (caption := txt.read_text(encoding="utf-8").strip()):
                pairs.append((path, caption))
    if not pairs:
        raise ValueError(
            f"{folder}: no image-caption pairs (give {CAPTIONS_CSV} with columns file,caption or a .txt beside each image)"
        )
    return sorted(pairs)


def load_square_image(path: str | Path, size: int) -> Image.Image:
    """Centre-crop an image to a square and resize it to ``size`` (bicubic); PIL RGB."""
    im = load_image_rgb(path)
    side = min(im.size)
    left, top = (im.width - side) // 2, (im.height - side) // 2
    im = im.crop((left, top, left + side, top + side))
    return im if im.width == size else im.resize((size, size), Image.Resampling.BICUBIC)


class ImageCaptionDataset(torch.utils.data.Dataset):
    """Items ``(image [3, size, size] float in [-1, 1], caption)``; images are decoded once and
    kept in memory (fine for the small sets this trainer targets)."""

    def __init__(self, folder: str | Path, size: int) -> None:
        self.pairs = list_image_captions(folder)
        self.size = size
        self._images: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        if i not in self._images:
            self._images[i] = pil_to_tensor([load_square_image(self.pairs[i][0], self.size)])[0]
        return self._images[i], self.pairs[i][1]
