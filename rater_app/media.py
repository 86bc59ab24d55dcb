"""Images as sent to raters: PNG with every metadata chunk removed.

Generators and tools write provenance into image files (PNG text chunks such as diffusers'
``parameters``, EXIF in JPEGs). Sent as-is, that would unblind a study, so only the chunks needed
to draw the pixels are kept; other formats are decoded and re-encoded as PNG.
"""

from __future__ import annotations

import io
import struct
import zlib

from drawbench.images import encode_png, load_image_rgb

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Chunks kept: image header, palette, transparency, pixel data, end, and colour rendering hints.
KEPT_PNG_CHUNKS = frozenset(
    {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"gAMA", b"sRGB", b"cHRM"}
)


def strip_png_metadata(data: bytes) -> bytes:
    """The PNG ``data`` with only :data:`KEPT_PNG_CHUNKS`; raises ValueError if it is not a PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    out = [PNG_SIGNATURE]
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("truncated PNG chunk")
        chunk = data[pos:end]
        if zlib.crc32(chunk[4:-4]) != struct.unpack(">I", chunk[-4:])[0]:
            raise ValueError(f"bad CRC in PNG chunk {kind!r}")
        if kind in KEPT_PNG_CHUNKS:
            out.append(chunk)
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def sanitize_image(data: bytes) -> bytes:
    """PNG bytes safe to send to a rater: a PNG stripped of metadata, anything else re-encoded."""
    if data.startswith(PNG_SIGNATURE):
        try:
            return strip_png_metadata(data)
        except ValueError:
            pass  # malformed: fall through to a full decode and re-encode
    return encode_png(load_image_rgb(io.BytesIO(data)))
