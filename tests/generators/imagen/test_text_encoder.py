"""T5 text encoder: shapes, mask, cache, loading from a local folder and the offline error."""

import pytest
import torch

from generators.imagen.text_encoder import T5TextEncoder, TextEncoder
from generators.imagen.toy import create_tiny_t5_encoder


def test_encode_shapes_mask_and_cache():
    enc = create_tiny_t5_encoder(d_model=32, max_length=8)
    assert isinstance(enc, TextEncoder)
    emb, mask = enc.encode(["a red circle", "a blue square on the white background"])
    assert emb.shape == (2, 8, 32) and emb.dtype == torch.float32 and mask.dtype == torch.bool
    assert mask.sum(1).tolist() == [4, 8]  # 3 words + </s>; the long one is truncated to 8
    assert torch.all(emb[0, 4:] == 0)
    again, _ = enc.encode(["a blue square on the white background"])
    assert torch.equal(again[0], emb[1]) and len(enc._cache) == 2


def test_load_local_folder_and_offline_error(tmp_path):
    enc = create_tiny_t5_encoder()
    enc.tokenizer.save_pretrained(tmp_path)
    enc.model.save_pretrained(tmp_path)
    loaded = T5TextEncoder.from_pretrained(str(tmp_path), max_length=16)
    a, _ = enc.encode(["a green triangle"])
    b, _ = loaded.encode(["a green triangle"])
    assert torch.allclose(a, b)
    with pytest.raises(FileNotFoundError, match=r"google/t5-v1_1-xxl.*--text-encoder PATH"):
        T5TextEncoder.from_pretrained("google/t5-v1_1-xxl")
