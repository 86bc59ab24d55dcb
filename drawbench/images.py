"""Image conversions: the one home for them.

Conventions: PIL ``RGB`` images between packages; ``[B, 3, H, W]`` float tensors in ``[-1, 1]``
inside diffusion; ``uint8`` HWC arrays for decoding. torch is imported only inside the functions
that need it.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch

#: zlib level used for every PNG the project writes. Fixed so that the same pixels give the same
#: bytes (and sha256) on every run; level 4 is ~2x faster than PIL's default 6 for ~5% more bytes.
PNG_COMPRESS_LEVEL = 4

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
LOSSY_SUFFIXES = (".jpg", ".jpeg")


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes of an RGB image, deterministic for given pixels (no metadata, fixed level)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


def write_bytes_atomic(data: bytes, path: str | Path) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A reader (or a process killed mid-write) never sees a partial file under ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_png_atomic(image: Image.Image, path: str | Path) -> str:
    """Encode ``image`` as PNG, write it atomically to ``path`` and return its sha256 (hex)."""
    data = encode_png(image)
    write_bytes_atomic(data, path)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_image_rgb(path: str | Path) -> Image.Image:
    """Open an image file and return it as a fully decoded PIL RGB image."""
    with Image.open(path) as im:
        im.load()
        return im if im.mode == "RGB" else im.convert("RGB")


def pil_to_uint8(image: Image.Image) -> np.ndarray:
    """PIL image -> ``[H, W, 3]`` uint8 array (converted to RGB first)."""
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def pil_to_tensor(images: list[Image.Image]) -> torch.Tensor:
    """List of same-size PIL images -> ``[B, 3, H, W]`` float32 tensor in ``[-1, 1]``."""
    import torch

    arr = np.stack([pil_to_uint8(im) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def tensor_to_pil(x: torch.Tensor) -> list[Image.Image]:
    """``[B, 3, H, W]`` float tensor in ``[-1, 1]`` -> list of PIL RGB images.

    Values are clamped to ``[-1, 1]`` and rounded: ``uint8 = round((x + 1) * 127.5)``.
    """
    arr = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to("cpu").byte()
    arr = arr.permute(0, 2, 3, 1).numpy()
    return [Image.fromarray(a, mode="RGB") for a in arr]


def center_crop_square(image: Image.Image) -> Image.Image:
    """Central square crop of side ``s = min(width, height)``: box ``((w - s) // 2, (h - s) // 2)``."""
    w, h = image.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return image if (w, h) == (s, s) else image.crop((left, top, left + s, top + s))


def resize_square(image: Image.Image, size: int) -> Image.Image:
    """Resize to ``size x size`` with PIL bicubic (antialiased when shrinking), uint8 output."""
    return image if image.size == (size, size) else image.resize((size, size), Image.BICUBIC)
