"""Per-image seeds derived from (run seed, prompt id, sample index).

An image depends only on (generator configuration, prompt, seed), never on batch size, shard or
which other prompts ran, because its seed is a pure function of those three values.
"""

from __future__ import annotations

import hashlib

#: Seeds are kept below 2**63 so that torch, numpy and JAX all accept them unchanged.
SEED_BITS = 63


def derive_seed(run_seed: int, prompt_id: str, sample: int) -> int:
    """Return the seed of image ``sample`` of prompt ``prompt_id`` in a run seeded ``run_seed``.

    seed = int.from_bytes(sha256(f"drawbench-seed-v1|{run_seed}|{prompt_id}|{sample}")[:8], "big")
    with the top bit cleared (so 0 <= seed < 2**63). hashlib, never Python's salted ``hash()``.

    Args:
        run_seed: The run's seed (any integer).
        prompt_id: Stable prompt id, e.g. ``"drawbench-017"``.
        sample: 0-based image index within the prompt.

    Returns:
        A non-negative integer below 2**63.
    """
    if sample < 0:
        raise ValueError(f"sample index must be >= 0, got {sample}")
    key = f"drawbench-seed-v1|{int(run_seed)}|{prompt_id}|{int(sample)}".encode()
    digest = hashlib.sha256(key).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)
