"""CLIP score on open_clip: the pure formula, the evaluator, and model loading (kept apart).

Per image-prompt pair (image ``i`` generated for prompt ``p``)::

    score(i, p) = 100 * max(cos(E_img(i), E_txt(p)), 0)

clamped at 0 **per pair** (Hessel et al. 2021's CLIPScore uses w * max(cos, 0) per pair;
torchmetrics' ``CLIPScore`` instead clamps the *mean* over the batch, ``max(100 * mean cos, 0)``,
which differs whenever some pair has a negative cosine). Prompts longer than the model's context
length (77 tokens for CLIP, counting start and end tokens) are truncated by open_clip's tokenizer;
how many were is reported in ``settings["truncated_prompts"]``.

Aggregates: per prompt the mean over its images; per category the mean over its prompts' pairs;
overall the mean over all pairs; 95% intervals by bootstrap over prompts
(``drawbench.stats.bootstrap_prompt_means``, DEFAULT_BOOTSTRAP_ROUNDS, seeded).

Toy CLIPs (``model_name`` ``toyclip``, ``toyclip-vit``, ``toyclip-coordconv`` or
``toyclip:/path/to/folder``, see :func:`evaluators.toyclip.resolve_toyclip`) go through the same
:class:`ClipScore` and formula, with ``ToyClipTransform`` as preprocessing and ``ToyTokenizer``
(the toy world's 27-token vocabulary: prompts must be toy-world captions, checked up front by
:func:`check_clip_prompts`; nothing is truncated). Their weights come with the name (offline,
no pretrained tag); they are trained models, never labelled random weights.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from drawbench.stats import DEFAULT_BOOTSTRAP_ROUNDS, bootstrap_prompt_means
from drawbench.weights import WeightFile, resolve_weights
from evaluators.base import EvalBatch, Evaluator, MetricResult

log = logging.getLogger(__name__)

#: Default CLIP model and weights: ViT-L/14 with OpenAI's weights, as HEIM (Lee et al. 2023,
#: "Holistic Evaluation of Text-to-Image Models") and torchmetrics' CLIPScore default
#: ("openai/clip-vit-large-patch14") use.
DEFAULT_CLIP_MODEL = "ViT-L-14"
DEFAULT_CLIP_PRETRAINED = "openai"
#: Scale of the score: 100 x cosine (Hessel et al. 2021 use 2.5; HEIM and torchmetrics use 100).
CLIP_SCORE_SCALE = 100.0
#: Interval level of the bootstrap intervals.
CLIP_CI_LEVEL = 0.95


def clip_score_from_embeddings(image_emb: Any, text_emb: Any) -> np.ndarray:
    """Per-pair CLIP score ``100 * max(cos(image_emb[k], text_emb[k]), 0)``.

    Args:
        image_emb: ``[N, D]`` image embeddings (numpy or torch, any float dtype, unnormalised).
        text_emb: ``[N, D]`` text embeddings of each image's prompt (row k pairs with row k).

    Returns:
        ``[N]`` float64 scores in ``[0, 100]``; the clamp is per pair (not on the mean).
    """
    a, b = _to_numpy(image_emb), _to_numpy(text_emb)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"expected two [N, D] arrays of the same shape, got {a.shape} and {b.shape}"
        )
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return CLIP_SCORE_SCALE * np.maximum(np.einsum("nd,nd->n", a, b), 0.0)


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def count_tokens(tokenizer: Any, text: str) -> int:
    """Tokens of ``text`` including start/end tokens, as the tokenizer would produce untruncated."""
    from drawbench.toyworld_text import ToyTokenizer

    if isinstance(tokenizer, ToyTokenizer):  # encode() already holds start and end
        return len(tokenizer.encode(text))
    if hasattr(tokenizer, "encode") and hasattr(tokenizer, "sot_token_id"):
        return len(tokenizer.encode(text)) + 2
    inner = getattr(tokenizer, "tokenizer", None)  # open_clip's HFTokenizer
    if inner is not None:
        return len(inner(text)["input_ids"])
    raise TypeError(f"cannot count tokens with {type(tokenizer).__name__}")


class ClipScore(Evaluator):
    """Streaming CLIP score (see the module docstring for the exact formula and aggregates).

    Args:
        model: an open_clip model (``encode_image``, ``encode_text``), in eval mode on ``device``
            (or a toy CLIP, which has the same interface).
        preprocess: open_clip's eval image transform (PIL -> ``[3, S, S]`` normalised tensor), or
            ``ToyClipTransform`` (PIL -> ``[3, 64, 64]`` float in ``[-1, 1]``).
        tokenizer: open_clip tokenizer (``tokenizer(list[str]) -> [B, context_length]`` ids), or
            ``ToyTokenizer``.
        settings, provenance: recorded in the result (model, pretrained tag, weights sha256, ...).
    """

    name = "clip_score"
    higher_is_better = True

    def __init__(
        self,
        model: Any,
        preprocess: Any,
        tokenizer: Any,
        device: str = "cpu",
        settings: dict[str, Any] | None = None,
        provenance: dict[str, Any] | None = None,
        bootstrap_rounds: int = DEFAULT_BOOTSTRAP_ROUNDS,
        seed: int = 0,
    ):
        self.model, self.transform, self.tokenizer, self.device = (
            model,
            preprocess,
            tokenizer,
            device,
        )
        self.preprocess = preprocess  # type: ignore[method-assign]  # picklable, holds no model
        self.settings = dict(settings or {})
        self.provenance = dict(provenance or {})
        self.bootstrap_rounds, self.seed = bootstrap_rounds, seed
        self.context_length = int(getattr(tokenizer, "context_length", 0) or 77)
        self.reset()

    @property
    def preprocess_key(self) -> str:
        return "clip"

    def preprocess(self, image: Any) -> Any:
        return self.transform(image)

    def reset(self) -> None:
        self._text: dict[str, np.ndarray] = {}
        self._truncated: set[str] = set()
        self.scores: list[tuple[str, str, float]] = []  # (prompt_id, category, score)

    def _text_embeddings(self, prompt_ids: list[str], prompts: list[str]) -> np.ndarray:
        import torch

        new = {
            pid: text
            for pid, text in zip(prompt_ids, prompts, strict=True)
            if pid not in self._text
        }
        if new:
            for pid, text in new.items():
                if count_tokens(self.tokenizer, text) > self.context_length:
                    self._truncated.add(pid)
            tokens = self.tokenizer(list(new.values())).to(self.device)
            with torch.no_grad():
                emb = self.model.encode_text(tokens).float().cpu().numpy()
            self._text.update(zip(new, emb, strict=True))
        return np.stack([self._text[pid] for pid in prompt_ids])

    def update(self, batch: EvalBatch) -> None:
        import torch

        txt = self._text_embeddings(batch.prompt_ids, batch.prompts)  # a bad prompt fails first
        x = batch.extras.get(self.preprocess_key)
        if x is None:
            x = torch.stack([self.transform(im) for im in batch.images])
        elif isinstance(x, list):
            x = torch.stack(x)
        with torch.no_grad():
            img = self.model.encode_image(x.to(self.device)).float().cpu().numpy()
        scores = clip_score_from_embeddings(img, txt)
        self.scores += list(zip(batch.prompt_ids, batch.categories, scores.tolist(), strict=True))

    def compute(self) -> MetricResult:
        if not self.scores:
            raise ValueError("CLIP score of no images")
        result = summarize_pair_scores(self.scores, self.bootstrap_rounds, self.seed)
        result.settings = {
            **self.settings,
            "scale": CLIP_SCORE_SCALE,
            "clamp": "per pair, at 0",
            "context_length": self.context_length,
            "truncated_prompts": len(self._truncated),
            "bootstrap_rounds": self.bootstrap_rounds,
            "bootstrap_seed": self.seed,
        }
        result.provenance = dict(self.provenance)
        if self._truncated:
            result.warnings.append(
                f"{len(self._truncated)} prompt(s) longer than {self.context_length} "
                "tokens were truncated for CLIP"
            )
        return result


def summarize_pair_scores(
    scores: list[tuple[str, str, float]],
    rounds: int = DEFAULT_BOOTSTRAP_ROUNDS,
    seed: int = 0,
    name: str = "clip_score",
) -> MetricResult:
    """Per-prompt, per-category and overall means of (prompt_id, category, score) pairs, with
    95% bootstrap intervals over prompts (overall and per category)."""
    by_prompt: dict[str, list[float]] = defaultdict(list)
    category_of: dict[str, str] = {}
    for pid, cat, s in scores:
        by_prompt[pid].append(s)
        category_of[pid] = cat
    pids = list(by_prompt)
    idx = {p: i for i, p in enumerate(pids)}
    values = np.array([s for _, _, s in scores], dtype=np.float64)
    prompt_idx = np.array([idx[p] for p, _, _ in scores])
    low, high = _interval(values, prompt_idx, rounds, seed)
    result = MetricResult(
        name,
        float(values.mean()),
        True,
        len(values),
        low,
        high,
        f"bootstrap over prompts, {rounds} rounds, seed {seed}",
        per_prompt={p: float(np.mean(v)) for p, v in by_prompt.items()},
    )
    for cat in dict.fromkeys(category_of[p] for p in pids):
        mask = np.array([category_of[p] == cat for p, _, _ in scores])
        sub_idx = np.unique(prompt_idx[mask], return_inverse=True)[1]
        result.per_category[cat] = float(values[mask].mean())
        result.per_category_ci[cat] = list(_interval(values[mask], sub_idx, rounds, seed))
    return result


def _interval(
    values: np.ndarray, prompt_idx: np.ndarray, rounds: int, seed: int
) -> tuple[float, float]:
    if prompt_idx.max() < 1:  # one prompt: no spread over prompts
        return float(values.mean()), float(values.mean())
    boot = bootstrap_prompt_means(values, prompt_idx, rounds, np.random.default_rng(seed))
    alpha = (1 - CLIP_CI_LEVEL) / 2
    return float(np.quantile(boot, alpha)), float(np.quantile(boot, 1 - alpha))


# --------------------------------------------------------------------------- model loading


def clip_weight_file(model_name: str, pretrained: str) -> WeightFile:
    """The model file of an open_clip (model, pretrained tag), with open_clip's caches and download.

    Raises:
        ValueError: the tag is unknown for the model (lists the known tags).
    """
    import open_clip
    from open_clip import pretrained as oc_pretrained

    cfg = oc_pretrained.get_pretrained_cfg(model_name, pretrained)
    if not cfg:
        if model_name not in open_clip.list_models():
            raise ValueError(f"unknown open_clip model {model_name!r}; see open_clip.list_models()")
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(model_name)) or "none"
        raise ValueError(
            f"unknown pretrained tag {pretrained!r} for {model_name}; known: {tags}; "
            "or pass --clip-weights PATH"
        )
    caches: list[str] = []
    hub, url = cfg.get("hf_hub", ""), cfg.get("url", "")
    filename = Path(url).name if url else "open_clip_pytorch_model.bin"
    if hub and oc_pretrained.has_hf_hub():
        from huggingface_hub import try_to_load_from_cache

        repo, hub_file = os.path.split(hub)  # as open_clip's download_pretrained splits it
        filename = hub_file = hub_file or oc_pretrained.HF_WEIGHTS_NAME
        for name in (oc_pretrained.HF_SAFE_WEIGHTS_NAME, hub_file):
            hit = try_to_load_from_cache(repo, name)
            if isinstance(hit, str):
                caches.append(hit)
    if url:
        caches.append(str(Path("~/.cache/clip").expanduser() / Path(url).name))
    return WeightFile(
        name=f"open_clip {model_name} ({pretrained})",
        relpath=f"open_clip/{model_name}/{pretrained}/{filename}",
        flag="--clip-weights",
        cache_paths=tuple(caches),
        download=lambda: oc_pretrained.download_pretrained(cfg),
    )


def resolve_clip_weights(
    model_name: str, pretrained: str, explicit: str | None = None, offline: bool | None = None
) -> Path:
    """Path of the CLIP weights (explicit file, $DRAWBENCH_WEIGHTS, open_clip/HF caches, download).

    A toy CLIP name resolves to its own ``model.safetensors`` (``pretrained`` is ignored, and an
    ``explicit`` file other than that one is refused: see :func:`toyclip_weights`).
    """
    from evaluators.toyclip import is_toyclip_name

    if is_toyclip_name(model_name):
        return toyclip_weights(model_name, explicit)
    if explicit is not None:  # any file, also for tags open_clip does not know
        spec = WeightFile(
            f"open_clip {model_name} ({pretrained})", Path(explicit).name, "--clip-weights"
        )
        return resolve_weights(spec, explicit, offline)
    return resolve_weights(clip_weight_file(model_name, pretrained), None, offline)


def toyclip_weights(name: str, explicit: str | os.PathLike | None = None) -> Path:
    """The weights file of the toy CLIP ``name``; ``explicit`` (``--clip-weights``) may only
    repeat it, since a toy CLIP's weights come with its name.

    Raises:
        ValueError: ``explicit`` is another file, or the name is unknown / not shipped.
        FileNotFoundError: the toy CLIP's folder lacks a file.
    """
    from evaluators.toyclip import WEIGHTS_FILE, resolve_toyclip

    weights = resolve_toyclip(name) / WEIGHTS_FILE
    if explicit is not None and Path(explicit).expanduser().resolve() != weights.resolve():
        raise ValueError(
            f"--clip-weights {explicit} conflicts with --clip-model {name}: a toy CLIP's weights "
            f"come with its name ({weights}); for another toy CLIP pass "
            "--clip-model toyclip:/path/to/folder (a folder written by save_toyclip) instead"
        )
    return weights


def check_clip_prompts(model_name: str, prompts: Iterable[tuple[str, str]]) -> None:
    """Check ``(prompt_id, text)`` pairs against the model's tokenizer before any image is read.

    open_clip models read any text (long prompts are truncated and counted); a toy CLIP reads only
    toy-world captions, so any other word fails here (ValueError naming the prompt and word).
    """
    from evaluators.toyclip import (
        check_toy_prompts,
        is_toyclip_name,
        read_toyclip_config,
        resolve_toyclip,
    )

    if is_toyclip_name(model_name):
        config, _ = read_toyclip_config(resolve_toyclip(model_name))
        check_toy_prompts(prompts, model_name, config.context_length)


def create_toyclip_score(
    name: str, weights: str | os.PathLike | None = None, device: str = "cpu", **kwargs: Any
) -> ClipScore:
    """A :class:`ClipScore` on the toy CLIP ``name`` (ToyClipTransform, ToyTokenizer).

    ``weights`` may only be the toy CLIP's own file (what :func:`resolve_clip_weights` returns).
    """
    from drawbench.toyworld_text import ToyTokenizer
    from evaluators.toyclip import ToyClipTransform, load_named_toyclip, toyclip_label

    toyclip_weights(name, weights)
    model, config, provenance = load_named_toyclip(name)
    settings = {
        "model": toyclip_label(name),
        "pretrained": None,
        "preprocess": f"ToyClipTransform ({config.image_size} px, [-1, 1])",
        "tokenizer": f"ToyTokenizer (toy-world vocabulary, {config.vocab_size} tokens)",
    }
    return ClipScore(
        model.to(device).eval(),
        ToyClipTransform(config.image_size),
        ToyTokenizer(config.context_length),
        device,
        settings,
        provenance,
        **kwargs,
    )


def create_clip_score(
    model_name: str = DEFAULT_CLIP_MODEL,
    pretrained: str = DEFAULT_CLIP_PRETRAINED,
    weights: str | Path | None = None,
    device: str = "cpu",
    random_seed: int | None = None,
    **kwargs: Any,
) -> ClipScore:
    """Build a :class:`ClipScore` from a resolved weights file, or random weights (``random_seed``).

    With a file, the pretrained tag's preprocessing (mean, std, interpolation, resize mode) and
    QuickGELU setting are applied, as open_clip does when it downloads the tag itself. A toy CLIP
    name (``toyclip``, ``toyclip-vit``, ``toyclip-coordconv``, ``toyclip:/path``) builds
    :func:`create_toyclip_score` instead (``pretrained`` and ``random_seed`` are ignored).
    """
    from evaluators.toyclip import is_toyclip_name

    if is_toyclip_name(model_name):
        return create_toyclip_score(model_name, weights, device, **kwargs)
    import open_clip
    import torch

    from drawbench.images import sha256_file

    if weights is None and random_seed is None:
        raise ValueError("create_clip_score needs a weights file or random_seed (random weights)")
    settings = {"model": model_name, "pretrained": pretrained if weights is not None else None}
    if weights is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(random_seed)
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=None, device=device
            )
        prov = {"implementation": "open_clip", "random_weights": True, "seed": random_seed}
    else:
        cfg = open_clip.pretrained.get_pretrained_cfg(model_name, pretrained) or {}
        model, _, preprocess = open_clip.create_model_and_transforms(
            model_name,
            pretrained=str(weights),
            device=device,
            force_quick_gelu=bool(cfg.get("quick_gelu", False)),
            image_mean=cfg.get("mean"),
            image_std=cfg.get("std"),
            image_interpolation=cfg.get("interpolation"),
            image_resize_mode=cfg.get("resize_mode"),
        )
        prov = {
            "implementation": "open_clip",
            "random_weights": False,
            "weights": Path(weights).name,
            "weights_sha256": sha256_file(weights),
        }
    prov["open_clip_version"] = open_clip.__version__
    model.eval()
    return ClipScore(
        model, preprocess, open_clip.get_tokenizer(model_name), device, settings, prov, **kwargs
    )
