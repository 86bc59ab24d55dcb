"""An automatic judge for toy-world runs: pairwise DrawBench-style votes cast by a toy CLIP.

The DrawBench protocol shows a rater two *sets* of images for one prompt and asks which set
better represents the caption. :func:`judge_votes` plays that rater with a trained toy CLIP
(default: the shipped CoordConv model ``toyclip-coordconv``, which tells a correct render from one
with a wrong colour, count, shape or mirrored relation 99-100% of the time):

* every image of a run is embedded once (batches of ``batch_size``), every caption once;
* ``score(image, caption) = 100 * cos(E_img, E_txt)`` with both embeddings L2-normalised and no
  clamp (:func:`evaluators.toyclip_eval.compute_scores`); images go through
  :class:`~evaluators.toyclip.ToyClipTransform`, captions through
  :class:`~drawbench.toyworld_text.ToyTokenizer`;
* for each pair of runs (A, B) and each prompt both runs have, the set scores are the means
  ``s_A``, ``s_B`` of the per-image scores, and the vote is :func:`judge_winner`: A if
  ``s_A - s_B > margin``, B if ``s_B - s_A > margin``, else a tie.

The judge measures text-image *agreement* only, not image quality, so it answers the
``"alignment"`` question only. Its votes are labelled everywhere as coming from the named model
(column ``judge``; ``rater`` is ``"judge:<model>"``), never as human or simulated votes.
Everything is deterministic for a seed: the only random choice is the left/right coin per vote.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from drawbench.images import load_image_rgb
from drawbench.report.data import VOTE_COLUMNS
from drawbench.runs import RunDirectory, RunDirectoryError
from drawbench.toyworld_text import ToyTokenizer
from evaluators.toyclip import (
    SHIPPED_TOYCLIPS,
    ToyClipTransform,
    is_toyclip_name,
    load_toyclip,
    read_toyclip_config,
    resolve_toyclip,
)
from evaluators.toyclip_eval import compute_scores

__all__ = [
    "DEFAULT_JUDGE",
    "DEFAULT_MARGIN",
    "JUDGE_QUESTION",
    "ToyClipJudge",
    "judge_label",
    "judge_votes",
    "judge_winner",
]

log = logging.getLogger(__name__)

#: The shipped sharp judge (evaluators/toyclip_weights/toyclip-coordconv).
DEFAULT_JUDGE = "toyclip-coordconv"
#: Score points (of 100 * cos) by which one set's mean must beat the other's to win; else a tie.
#: Measured with ``toyclip-coordconv`` on the 66 held-out ``toyworld`` prompts x 16 render seeds:
#: re-rendering a correct scene with another seed moves its score by SD 2.25 points (within a
#: prompt), while a render with one corruption (mirrored relation or replaced colour) scores a
#: median 31 points lower (1st percentile 4.7). With 4 images per set, 99% of differences between
#: two sets of *correct* renders stay under 3.2 points and every correct-vs-corrupted difference
#: exceeded 4.9. So 3 points (about one seed-to-seed SD) calls "no difference beyond re-rendering
#: noise" a tie without hiding a wrong image. Pass ``margin=0`` for a forced choice (exactly
#: equal means still tie).
DEFAULT_MARGIN = 3.0
#: The only DrawBench question an image-text model can answer (DESIGN.md, Study).
JUDGE_QUESTION = "alignment"
#: Images per forward pass.
DEFAULT_BATCH_SIZE = 256


def judge_label(name: str) -> str:
    """The ``judge`` column value of votes cast by model ``name``: "automatic judge: <name>"."""
    return f"automatic judge: {name}"


def judge_winner(mean_a: float, mean_b: float, margin: float = DEFAULT_MARGIN) -> str:
    """The outcome of one vote: "model_a" if ``mean_a - mean_b > margin``, "model_b" if
    ``mean_b - mean_a > margin``, else "tie". Means are set scores in points of 100 * cos;
    ``margin`` >= 0 (equal means always tie)."""
    if margin < 0 or not np.isfinite(margin):
        raise ValueError(f"margin must be a finite number >= 0 score points, got {margin}")
    diff = float(mean_a) - float(mean_b)
    if diff > margin:
        return "model_a"
    if -diff > margin:
        return "model_b"
    return "tie"


@dataclass
class ToyClipJudge:
    """A loaded toy CLIP used as a judge (no I/O here; :meth:`load` reads a model folder).

    Attributes:
        model: a toy CLIP with ``encode_image([B, 3, S, S] float in [-1, 1])`` and
            ``encode_text(LongTensor[B, context_length])``, in eval mode on ``device``.
        name: how votes name the judge (shipped name or folder name).
        image_tower: "coordconv" or "vit" (a ViT toy CLIP is relation-blind: a poor judge of
            Positional prompts).
    """

    model: nn.Module
    name: str
    image_tower: str = "coordconv"
    image_size: int = 64
    context_length: int = 16
    device: str = "cpu"
    batch_size: int = DEFAULT_BATCH_SIZE

    @classmethod
    def load(
        cls,
        judge: str | Path = DEFAULT_JUDGE,
        *,
        device: str = "cpu",
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> ToyClipJudge:
        """Load a toy CLIP named as everywhere else (``toyclip-<model>``, ``toyclip:<folder>``;
        :func:`evaluators.toyclip.resolve_toyclip`) or a folder saved by ``save_toyclip``."""
        if is_toyclip_name(str(judge)):
            folder, name = resolve_toyclip(str(judge)), str(judge)
        elif Path(judge).is_dir():
            folder, name = Path(judge), Path(judge).resolve().name
        else:
            raise ValueError(
                f"unknown judge {str(judge)!r}: not a shipped toy CLIP "
                f"({', '.join(SHIPPED_TOYCLIPS)}) and not a folder with config.json and "
                "model.safetensors (train one with benchmarks/train_toyclip.py)"
            )
        config, _ = read_toyclip_config(folder)
        if config.image_tower == "vit":
            log.warning(
                "judge %s is a ViT toy CLIP: relation-blind, its votes on Positional prompts say "
                "little; use %s for a judge that sees left/right and above/below",
                name,
                DEFAULT_JUDGE,
            )
        model, config = load_toyclip(folder)
        return cls(
            model.to(device),
            name,
            config.image_tower,
            config.image_size,
            config.context_length,
            device,
            batch_size,
        )

    @torch.no_grad()
    def embed_images(self, paths: Sequence[Path]) -> torch.Tensor:
        """``[N, D]`` float32 unit vectors of the images at ``paths`` (read in batches)."""
        out = [
            self.embed_pil([load_image_rgb(p) for p in paths[i : i + self.batch_size]])
            for i in range(0, len(paths), self.batch_size)
        ]
        return torch.cat(out) if out else torch.empty(0, 0)

    @torch.no_grad()
    def embed_pil(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """``[N, D]`` float32 unit vectors of in-memory RGB images (``batch_size`` per pass)."""
        transform = ToyClipTransform(self.image_size)
        out = []
        for i in range(0, len(images), self.batch_size):
            x = torch.stack([transform(im) for im in images[i : i + self.batch_size]])
            out.append(self.model.encode_image(x.to(self.device), normalize=True).float().cpu())
        return torch.cat(out) if out else torch.empty(0, 0)

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """``[M, D]`` float32 unit vectors of toy-world captions (ToyTokenizer's vocabulary)."""
        tokens = ToyTokenizer(self.context_length)(list(texts)).to(self.device)
        return self.model.encode_text(tokens, normalize=True).float().cpu()


@dataclass(frozen=True)
class _PromptInfo:
    text: str
    category: str


def _run_prompts(run: RunDirectory) -> dict[str, _PromptInfo]:
    try:
        prompt_set = run.load_prompts()
    except RunDirectoryError as err:
        raise ValueError(f"{err}; pass prompts=... (the prompts the runs were made from)") from None
    return {p.id: _PromptInfo(p.text, p.category) for p in prompt_set}


def _prompt_table(
    runs: Sequence[RunDirectory], prompts: Iterable[Any] | None
) -> dict[str, _PromptInfo]:
    """prompt id -> (text, category), from ``prompts`` or from every run's own prompt set, which
    must agree: both runs of a pair are judged against the same caption."""
    table: dict[str, _PromptInfo] = {}
    if prompts is not None:
        table = {str(p.id): _PromptInfo(str(p.text), str(p.category)) for p in prompts}
        if not table:
            raise ValueError(
                "prompts is empty; pass the prompts to judge, or None for the runs' own"
            )
        return table
    owner: dict[str, str] = {}
    for run in runs:
        for pid, info in _run_prompts(run).items():
            if pid in table and table[pid].text != info.text:
                raise ValueError(
                    f"prompt {pid} reads {table[pid].text!r} in run {owner[pid]} but "
                    f"{info.text!r} in run {run.name}; pass prompts=... to say which caption "
                    "both runs are judged against"
                )
            table.setdefault(pid, info)
            owner.setdefault(pid, run.name)
    return table


def _score_run(
    judge: ToyClipJudge, run: RunDirectory, table: dict[str, _PromptInfo], text_emb: dict
) -> dict[str, np.ndarray]:
    """prompt id -> per-image scores [n_images] (100 * cos) of one run's images for that prompt."""
    records = [r for r in run.read_manifest().records if r.prompt_id in table]
    records.sort(key=lambda r: (r.prompt_id, r.sample))
    paths = [run.path / r.path for r in records]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise ValueError(
            f"run {run.name}: {len(missing)} image(s) in the manifest are missing, e.g. "
            f"{missing[0]}; resume the run with `drawbench generate` first"
        )
    if not records:
        return {}
    images = judge.embed_images(paths)
    texts = torch.stack([text_emb[table[r.prompt_id].text] for r in records])
    per_image = compute_scores(images, texts).diagonal().numpy().astype(np.float64)
    scores: dict[str, list[float]] = {}
    for rec, s in zip(records, per_image, strict=True):
        scores.setdefault(rec.prompt_id, []).append(float(s))
    return {pid: np.asarray(v) for pid, v in scores.items()}


def judge_votes(
    run_dirs: Sequence[str | Path],
    prompts: Iterable[Any] | None = None,
    *,
    judge: str | Path | ToyClipJudge = DEFAULT_JUDGE,
    question: str = JUDGE_QUESTION,
    margin: float = DEFAULT_MARGIN,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = DEFAULT_BATCH_SIZE,
):
    """Votes of an automatic toy-CLIP judge for every pair of runs and every shared prompt.

    One vote per (pair of runs, prompt): the set of the run whose images score higher on average
    against the prompt's caption wins when the means differ by more than ``margin`` points
    (:func:`judge_winner`); otherwise the vote is a tie. Pairs are the runs' combinations in the
    order given (model_a the earlier run). Left and right are a fair coin per vote drawn from
    ``numpy.random.default_rng(seed)`` and recorded in run_left / run_right / choice.

    Args:
        run_dirs: two or more run directories with distinct names, made from toy-world prompts.
        prompts: objects with ``id``, ``text`` and ``category`` (e.g. a PromptSet) to judge
            against; None uses each run's own prompt set (run.json), which must agree on every
            caption. Only prompts that both runs of a pair have images for get a vote.
        judge: a shipped toy CLIP name, a model folder, or a loaded :class:`ToyClipJudge`.
        question: must be "alignment": the judge measures text-image agreement, not quality.
        margin: tie margin in score points (>= 0); see ``DEFAULT_MARGIN`` for the measurement.
        seed: seed of the left/right coins; the same arguments give the same DataFrame.
        device, batch_size: where and how many images per forward pass (when loading ``judge``).

    Returns:
        pandas DataFrame with VOTE_COLUMNS plus ``judge`` ("automatic judge: <model>"),
        ``simulated`` (False), ``score_a`` / ``score_b`` (the two set means) and ``margin``.

    Raises:
        ValueError: fewer than two runs, duplicate names, another question, a negative margin,
            captions outside the toy-world vocabulary, runs disagreeing on a caption, or missing
            images.
    """
    import pandas as pd

    if question != JUDGE_QUESTION:
        raise ValueError(
            f"the toy CLIP judge answers only the {JUDGE_QUESTION!r} question (it measures "
            f"text-image agreement, not image quality); got {question!r}"
        )
    judge_winner(0.0, 0.0, margin)  # validates the margin before any work
    runs = [RunDirectory.open(p) for p in run_dirs]
    names = [r.name for r in runs]
    if len(runs) < 2:
        raise ValueError(f"judge_votes needs at least two runs to compare, got {len(runs)}")
    if len(set(names)) != len(names):
        raise ValueError(f"runs need distinct directory names, got {', '.join(names)}")
    table = _prompt_table(runs, prompts)
    if not isinstance(judge, ToyClipJudge):
        judge = ToyClipJudge.load(judge, device=device, batch_size=batch_size)
    texts = list(dict.fromkeys(info.text for info in table.values()))
    try:
        text_emb = dict(zip(texts, judge.embed_texts(texts), strict=True))
    except ValueError as err:
        raise ValueError(f"judge {judge.name} cannot read a caption: {err}") from None
    scores = {run.name: _score_run(judge, run, table, text_emb) for run in runs}

    order = list(table)
    label = judge_label(judge.name)
    rng = np.random.default_rng(seed)
    rows = []
    for a, b in combinations(names, 2):
        for pid in (p for p in order if p in scores[a] and p in scores[b]):
            mean_a, mean_b = float(scores[a][pid].mean()), float(scores[b][pid].mean())
            outcome = judge_winner(mean_a, mean_b, margin)
            winner = {"model_a": a, "model_b": b, "tie": "tie"}[outcome]
            left, right = (a, b) if rng.random() < 0.5 else (b, a)
            choice = "tie" if winner == "tie" else ("left" if winner == left else "right")
            rows.append({
                "study": f"judge-{judge.name}", "item_id": f"judge-{len(rows):05d}",
                "prompt_id": pid, "category": table[pid].category, "question": question,
                "rater": f"judge:{judge.name}", "run_left": left, "run_right": right,
                "choice": choice, "model_a": a, "model_b": b, "winner": winner,
                "is_gold": False, "created_at": "", "judge": label, "simulated": False,
                "score_a": mean_a, "score_b": mean_b, "margin": float(margin),
            })  # fmt: skip
    if not rows:
        log.warning("judge_votes: no prompt has images in two runs; no votes")
    extra = ["judge", "simulated", "score_a", "score_b", "margin"]
    return pd.DataFrame(rows, columns=[*VOTE_COLUMNS, *extra])
