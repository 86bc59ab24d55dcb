"""Tiny, offline stand-ins for tests, demos and benchmarks: a randomly initialised T5 encoder with
a word-level tokenizer, and a synthetic coloured-shapes image-caption folder."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from PIL import Image, ImageDraw

from generators.imagen.text_encoder import T5TextEncoder

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 180, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 210, 30),
}
SHAPES = ("circle", "square", "triangle")
_WORDS = ["a", "an", "of", "on", "the", "photo", "white", "background", *COLOURS, *SHAPES]


def create_tiny_t5_encoder(
    d_model: int = 32, max_length: int = 16, seed: int = 0, words: list[str] | None = None
) -> T5TextEncoder:
    """A 2-layer T5 encoder (random weights, ``torch.manual_seed(seed)`` scoped by a fork) with a
    word-level fast tokenizer (``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2, then ``words``)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for w in words or _WORDS:
        vocab.setdefault(w.lower(), len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    from tokenizers import normalizers

    tok.normalizer = normalizers.Lowercase()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    config = T5Config(
        vocab_size=len(vocab),
        d_model=d_model,
        d_kv=8,
        d_ff=2 * d_model,
        num_layers=2,
        num_heads=4,
        feed_forward_proj="gated-gelu",
        decoder_start_token_id=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = T5EncoderModel(config)
    return T5TextEncoder(tokenizer, model, max_length=max_length, name=f"tiny-t5-d{d_model}")


def draw_shape(colour: str, shape: str, size: int, rng: random.Random) -> Image.Image:
    """One RGB image: a ``colour`` ``shape`` with jittered centre and radius on white."""
    im = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(im)
    r = size * rng.uniform(0.25, 0.35)
    cx, cy = (size / 2 + rng.uniform(-0.1, 0.1) * size for _ in range(2))
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        d.ellipse(box, fill=COLOURS[colour])
    elif shape == "square":
        d.rectangle(box, fill=COLOURS[colour])
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLOURS[colour])
    return im


def make_shapes_dataset(
    folder: str | Path,
    per_caption: int = 8,
    size: int = 32,
    seed: int = 0,
    colours: tuple[str, ...] = tuple(COLOURS),
    shapes: tuple[str, ...] = SHAPES,
) -> list[tuple[str, str]]:
    """Write ``per_caption`` images for each caption "a <colour> <shape>" plus ``captions.csv``;
    returns the (file, caption) rows."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = []
    for colour in colours:
        for shape in shapes:
            for j in range(per_caption):
                name = f"{colour}_{shape}_{j}.png"
                draw_shape(colour, shape, size, rng).save(folder / name)
                rows.append((name, f"a {colour} {shape}"))
    with open(folder / "captions.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "caption"])
        w.writerows(rows)
    return rows
