"""Word-level tokenizer over the toy world's 27-token vocabulary, callable like open_clip's.

``ToyTokenizer()(["a red circle"])`` returns a ``[1, 16]`` int64 tensor
``[<start>, a, red, circle, <end>, <pad>, ...]``. Ids: ``<pad>`` 0 (open_clip's default
``pad_id``), ``<start>`` 1, the 24 grammar words 2..25 in ``WORDS`` order, ``<end>`` 26, the
highest id, so open_clip's ``argmax`` text pooling (``x[arange(B), text.argmax(-1)]``) lands on the
end token. Text is lower-cased, a final full stop dropped, and split on whitespace. torch is
imported only when the tokenizer is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from drawbench.toyworld import COLOURS, COUNT_WORDS, SHAPES

if TYPE_CHECKING:
    import torch

__all__ = ["CONTEXT_LENGTH", "VOCAB", "WORDS", "ToyTokenizer"]

PAD, START, END = "<pad>", "<start>", "<end>"
#: The grammar's words, in id order (ids 2..25).
WORDS: tuple[str, ...] = (
    "a",
    "an",
    *COUNT_WORDS.values(),
    *COLOURS,
    *SHAPES,
    *(f"{s}s" for s in SHAPES),
    "to",
    "the",
    "left",
    "right",
    "of",
    "above",
    "below",
)
VOCAB: tuple[str, ...] = (PAD, START, *WORDS, END)
#: Token slots per caption, start and end tokens included (the longest caption uses 12).
CONTEXT_LENGTH = 16


class ToyTokenizer:
    """Callable ``tok(texts) -> LongTensor[B, context_length]``, like open_clip's tokenizers.

    Attributes:
        context_length: slots per caption (start + words + end, then ``<pad>``).
        vocab_size: 27.
        pad_id, start_id, end_id: 0, 1 and 26 (the highest id).
    """

    def __init__(self, context_length: int = CONTEXT_LENGTH) -> None:
        self.context_length = context_length
        self.ids = {w: i for i, w in enumerate(VOCAB)}
        self.vocab_size = len(VOCAB)
        self.pad_id, self.start_id, self.end_id = self.ids[PAD], self.ids[START], self.ids[END]

    def encode(self, text: str) -> list[int]:
        """Ids of one text, start and end tokens included, without padding.

        Raises:
            ValueError: a word outside ``WORDS`` (named in the message), or too many words.
        """
        words = text.strip().rstrip(".").lower().split()
        ids = [self.start_id]
        for word in words:
            if word not in WORDS:
                raise ValueError(
                    f"word {word!r} in {text!r} is not in the toy-world vocabulary; "
                    f"use only: {' '.join(WORDS)}"
                )
            ids.append(self.ids[word])
        ids.append(self.end_id)
        if len(ids) > self.context_length:
            raise ValueError(
                f"{text!r} needs {len(ids)} tokens (with start and end), more than the context "
                f"length {self.context_length}; shorten it or build ToyTokenizer(context_length=...)"
            )
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Words of one row of ids, special tokens dropped."""
        special = {self.pad_id, self.start_id, self.end_id}
        return " ".join(VOCAB[int(i)] for i in ids if int(i) not in special)

    def __call__(
        self, texts: str | Sequence[str], context_length: int | None = None
    ) -> torch.Tensor:
        """``[B, context_length]`` int64 tensor of padded ids (one row per text)."""
        import torch

        if isinstance(texts, str):
            texts = [texts]
        width = context_length or self.context_length
        if width != self.context_length:
            return ToyTokenizer(width)(texts)
        out = torch.full((len(texts), width), self.pad_id, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = self.encode(text)
            out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out
