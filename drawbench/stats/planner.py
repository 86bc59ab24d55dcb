"""Study planner: expected interval width and the prompts needed for a target width."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from drawbench.stats.constants import DEFAULT_CONFIDENCE
from drawbench.stats.preference import _z


@dataclass(frozen=True)
class StudyPlan:
    """Prompts needed for a target interval width (see ``plan_study``)."""

    preference: float
    prompt_sd: float
    raters_per_prompt: int
    tie_share: float
    confidence: float
    target_width: float
    n_prompts: int
    n_ratings: int
    expected_width: float
    floor_width_200_prompts: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def expected_interval_width(
    preference: float,
    prompt_sd: float,
    n_prompts: int,
    raters_per_prompt: int,
    *,
    tie_share: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> float:
    """Full width of the prompt-bootstrap interval, by its normal approximation.

    width = 2·z·sqrt((σ_b² + σ_w²/R) / P), with σ_b = prompt_sd (SD of per-prompt preference),
    σ_w² = p(1−p) − t/4 − σ_b² the within-prompt variance of one rating (the total variance of a
    score with mean p and tie share t is p(1−p) − t/4), R raters per prompt, P prompts.
    tie_share = 0 is the conservative (widest) assumption.
    """
    total = preference * (1 - preference) - tie_share / 4
    within = total - prompt_sd**2
    if not 0 < preference < 1 or within < 0 or not 0 <= tie_share < 1:
        raise ValueError(
            f"prompt_sd={prompt_sd} is too large for preference={preference} and tie_share="
            f"{tie_share}: prompt_sd² must not exceed p(1−p) − ties/4 = {total:.4f}"
        )
    z = _z(confidence)
    return float(2 * z * np.sqrt((prompt_sd**2 + within / raters_per_prompt) / n_prompts))


def plan_study(
    preference: float,
    prompt_sd: float,
    width: float,
    raters_per_prompt: int = 1,
    *,
    tie_share: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> StudyPlan:
    """Smallest number of prompts P whose expected interval width is at most ``width``.

    P = ceil(4·z²·(σ_b² + σ_w²/R) / width²) (see ``expected_interval_width``). More raters only
    shrink the σ_w²/R term: the width never falls below 2·z·σ_b/√P whatever R is, which is
    reported for P = 200 (the size of DrawBench) as ``floor_width_200_prompts``.
    """
    if width <= 0 or raters_per_prompt < 1:
        raise ValueError("width must be > 0 and raters_per_prompt at least 1")
    unit = expected_interval_width(
        preference, prompt_sd, 1, raters_per_prompt, tie_share=tie_share, confidence=confidence
    )
    n_prompts = max(1, int(np.ceil((unit / width) ** 2 - 1e-9)))
    return StudyPlan(
        preference=preference,
        prompt_sd=prompt_sd,
        raters_per_prompt=raters_per_prompt,
        tie_share=tie_share,
        confidence=confidence,
        target_width=width,
        n_prompts=n_prompts,
        n_ratings=n_prompts * raters_per_prompt,
        expected_width=expected_interval_width(
            preference,
            prompt_sd,
            n_prompts,
            raters_per_prompt,
            tie_share=tie_share,
            confidence=confidence,
        ),
        floor_width_200_prompts=float(2 * _z(confidence) * prompt_sd / np.sqrt(200)),
    )


def plan_table(
    preference: float,
    prompt_sd: float,
    width: float,
    raters: Sequence[int] = (1, 2, 3, 5, 10),
    *,
    tie_share: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[StudyPlan]:
    """``plan_study`` for each number of raters per prompt in ``raters``."""
    return [
        plan_study(preference, prompt_sd, width, r, tie_share=tie_share, confidence=confidence)
        for r in raters
    ]
