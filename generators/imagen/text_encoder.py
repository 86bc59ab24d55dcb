"""Frozen text encoders: ``encode(prompts) -> (embeddings [B, L, D] float32, mask [B, L] bool)``.

:class:`T5TextEncoder` wraps a transformers T5 encoder (Saharia et al. 2022, Sec. 2.1: frozen
T5-XXL). Any object with the same ``encode`` method and an ``embed_dim`` attribute can replace it
(:class:`TextEncoder` protocol). Loading (``load_t5_encoder``) is kept apart from encoding.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch

from generators.imagen.config import DEFAULT_MAX_TEXT_LENGTH, DEFAULT_TEXT_ENCODER

logger = logging.getLogger(__name__)

#: Most prompts kept in a T5TextEncoder's per-prompt embedding cache (oldest dropped first).
DEFAULT_CACHE_SIZE = 10_000


@runtime_checkable
class TextEncoder(Protocol):
    """Anything that embeds prompts: ``encode(prompts)`` -> ``(emb [B, L, embed_dim] float32,
    mask [B, L] bool)``, where ``mask`` is True on real tokens. ``L`` must not depend on the batch."""

    embed_dim: int

    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]: ...


class T5TextEncoder:
    """Frozen T5 encoder with a per-prompt cache.

    Prompts are tokenized with padding to ``max_length`` tokens (truncated beyond, EOS kept by the
    tokenizer), so ``L = max_length`` for every batch; padded positions of ``emb`` are zeroed.
    """

    def __init__(
        self,
        tokenizer: Any,
        model: torch.nn.Module,
        max_length: int = DEFAULT_MAX_TEXT_LENGTH,
        name: str = "t5",
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.tokenizer = tokenizer
        self.model = model.eval().requires_grad_(False)
        self.max_length = max_length
        self.name = name
        self.embed_dim = int(model.config.d_model)
        self.cache_size = cache_size
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str = DEFAULT_TEXT_ENCODER,
        max_length: int = DEFAULT_MAX_TEXT_LENGTH,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
    ) -> T5TextEncoder:
        """Load tokenizer and encoder (hub name or local folder); see :func:`load_t5_encoder`."""
        tokenizer, model = load_t5_encoder(name_or_path, dtype=dtype)
        return cls(tokenizer, model.to(device), max_length=max_length, name=str(name_or_path))

    @torch.no_grad()
    def _encode_uncached(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        tok = self.tokenizer(
            prompts,
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        ids, mask = tok["input_ids"].to(self.device), tok["attention_mask"].to(self.device).bool()
        emb = self.model(input_ids=ids, attention_mask=mask.long()).last_hidden_state.float()
        return emb.masked_fill(~mask[..., None], 0.0), mask

    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed prompts: ``[B, max_length, d_model]`` float32 and ``[B, max_length]`` bool."""
        missing = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        if missing:
            emb, mask = self._encode_uncached(missing)
            for p, e, m in zip(missing, emb, mask, strict=True):
                if len(self._cache) >= self.cache_size:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[p] = (e, m)
        pairs = [self._cache[p] for p in prompts]
        return torch.stack([e for e, _ in pairs]), torch.stack([m for _, m in pairs])

    def clear_cache(self) -> None:
        self._cache.clear()


def _offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def load_t5_encoder(
    name_or_path: str = DEFAULT_TEXT_ENCODER, dtype: torch.dtype | None = None
) -> tuple[Any, torch.nn.Module]:
    """Load ``(tokenizer, T5EncoderModel)`` from a hub name or a local folder.

    Uses ``local_files_only`` when ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` is set or the name
    is an existing folder. Raises FileNotFoundError naming the model and the ``--text-encoder
    PATH`` option when it cannot be found; ImportError naming the ``imagen`` extra when
    transformers is missing.
    """
    try:
        from transformers import AutoTokenizer, T5EncoderModel
    except ImportError as err:
        raise ImportError(
            f"the Imagen text encoder needs transformers: pip install 'drawbench[imagen]' ({err})"
        ) from None
    local = Path(name_or_path).is_dir()
    local_only = local or _offline()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(name_or_path), local_files_only=local_only)
        model = T5EncoderModel.from_pretrained(
            str(name_or_path), local_files_only=local_only, dtype=dtype
        )
    except (OSError, ValueError) as err:
        where = (
            "this local folder"
            if local
            else (
                "the local Hugging Face cache (offline: HF_HUB_OFFLINE is set)"
                if local_only
                else "the Hugging Face hub and local cache"
            )
        )
        raise FileNotFoundError(
            f"cannot load T5 text encoder {str(name_or_path)!r} from {where}: {err}. "
            "Download it where you have network access (e.g. `huggingface-cli download "
            f"{name_or_path}`) or pass a local folder with `--text-encoder PATH` "
            "(option text_encoder=PATH in Python)."
        ) from None
    logger.info("loaded T5 encoder %s (d_model=%d)", name_or_path, model.config.d_model)
    return tokenizer, model


class ToyClipTextEncoder:
    """The text tower of a trained toy-world CLIP (:mod:`evaluators.toyclip`) as a frozen encoder.

    ``encode`` returns open_clip's per-token text features after the final layer norm
    (``[B, context_length, text_width]``; the transformer is causal, so the end token has seen the
    whole caption) and the mask of real tokens (start, words, end). Prompts must use the toy
    world's 27-word vocabulary (ValueError naming the word otherwise). This is how the toy Imagen
    cascade stands in for Imagen's frozen T5: a small pretrained text encoder, trained by the
    project (contrastively, not as a language model).
    """

    def __init__(self, model: torch.nn.Module, context_length: int, name: str) -> None:
        from drawbench.toyworld_text import ToyTokenizer

        self.model = model.eval().requires_grad_(False)
        self.text = model.text
        self.text.output_tokens = True  # open_clip then returns (pooled, per-token features)
        self.tokenizer = ToyTokenizer(context_length)
        self.max_length = context_length
        self.embed_dim = int(self.text.width)
        self.name = name

    @classmethod
    def from_name(cls, name: str, device: str | torch.device = "cpu") -> ToyClipTextEncoder:
        """A toy CLIP named as everywhere else (:func:`evaluators.toyclip.resolve_toyclip`):
        ``toyclip-<shipped model>`` or ``toyclip:<folder>``."""
        from evaluators.toyclip import load_toyclip, resolve_toyclip

        model, config = load_toyclip(resolve_toyclip(name))
        return cls(model.to(device), config.context_length, name)

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(self.model.parameters()).device
        ids = self.tokenizer(prompts).to(device)
        _, x = self.text(ids)
        x = x.float()
        mask = ids != self.tokenizer.pad_id
        return x.masked_fill(~mask[..., None], 0.0), mask


def load_text_encoder(
    name_or_path: str, max_length: int = DEFAULT_MAX_TEXT_LENGTH, device: str | torch.device = "cpu"
) -> TextEncoder:
    """The frozen text encoder a config names: a toy CLIP (``toyclip-<model>``, ``toyclip:<folder>``;
    :class:`ToyClipTextEncoder`) or a T5 hub name / local folder (:class:`T5TextEncoder`)."""
    from evaluators.toyclip import is_toyclip_name

    if is_toyclip_name(str(name_or_path)):
        return ToyClipTextEncoder.from_name(str(name_or_path), device=device)
    return T5TextEncoder.from_pretrained(str(name_or_path), max_length=max_length, device=device)
