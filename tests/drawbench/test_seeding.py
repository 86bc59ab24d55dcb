import hashlib

import pytest

from drawbench.seeding import derive_seed


def test_formula_pinned():
    digest = hashlib.sha256(b"drawbench-seed-v1|0|drawbench-000|0").digest()
    assert derive_seed(0, "drawbench-000", 0) == int.from_bytes(digest[:8], "big") >> 1


def test_range_and_independence():
    seeds = {derive_seed(s, f"p-{i}", j) for s in (0, 1) for i in range(50) for j in range(4)}
    assert len(seeds) == 400
    assert all(0 <= s < 2**63 for s in seeds)
    assert derive_seed(0, "a", 1) != derive_seed(1, "a", 1)


def test_negative_sample_rejected():
    with pytest.raises(ValueError, match="sample index must be >= 0"):
        derive_seed(0, "a", -1)
