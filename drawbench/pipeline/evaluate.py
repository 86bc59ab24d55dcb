"""Evaluate a run in one decode pass: plan (resolve everything), then decode once, feed every metric.

``plan_evaluation`` resolves the run, its prompts, every model file and the reference before a
single image is decoded, and fails with a message naming what is missing and the flag that
supplies it. ``run_evaluation`` builds the models, decodes each image once in DataLoader workers
(which also apply every evaluator's preprocessing), feeds all evaluators, and merges the results
into ``<run>/metrics.json``::

    {"run": {"name", "path", "generator", "prompt_set", "seed", "images_per_prompt"},
     "metrics": {"clip_score" | "fid" | "kid": MetricResult.to_dict(), ...}}
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from drawbench.images import LOSSY_SUFFIXES, load_image_rgb
from drawbench.runs import RunDirectory

log = logging.getLogger(__name__)

#: DataLoader decode workers by default (see default_workers): on CUDA all cores but one, at most
#: 8; on a CPU device decoding shares the cores with the model's OpenMP threads, which slow down
#: sharply when one is preempted, so small CPUs (<= CPU_INLINE_MAX_CORES) decode in-process.
DEFAULT_WORKERS = max(1, min(8, (os.cpu_count() or 2) - 1))
CPU_INLINE_MAX_CORES = 4
DEFAULT_BATCH_SIZE = 32
#: Seed of random-weight models (only with allow_random_weights).
RANDOM_WEIGHTS_SEED = 0
RANDOM_WEIGHTS_NOTICE = "RANDOM WEIGHTS — number is meaningless"


class EvaluationError(ValueError):
    """Evaluation cannot start (or finish); the message says what to supply."""


@dataclass(frozen=True)
class EvaluateOptions:
    """Everything ``drawbench evaluate`` takes (see its ``--help``)."""

    metrics: tuple[str, ...] | None = None  # None: clip, plus fid when a reference is given
    reference: str | None = None  # STATS.npz or a folder of images
    batch_size: int = DEFAULT_BATCH_SIZE
    workers: int | None = None  # None: default_workers(device)
    device: str | None = None  # None: cuda if available, else cpu
    inception_weights: str | None = None
    clip_model: str | None = None  # open_clip name, or a toy CLIP (toyclip, toyclip:/path, ...)
    clip_pretrained: str | None = None  # ignored for toy CLIPs
    clip_weights: str | None = None  # refused for toy CLIPs unless it is their own file
    fid_mode: str = "clean"  # clean-fid resize mode (Inception features only)
    fid_features: str = "inception"  # or a toy CLIP name: FID/KID on its image embeddings
    offline: bool = False
    allow_random_weights: bool = False
    allow_tf32: bool = False
    prompts: str | None = None  # prompt file when run.json's set cannot be re-loaded by name
    seed: int = 0  # bootstrap and KID subsets
    fid_bootstrap: int = 0  # rounds of the FID interval over prompts (0: no interval)
    # "auto": pair the bootstrap with a --reference DIR laid out as DIR/<prompt id>/<image> for
    # exactly the run's prompts (a run's images folder), else hold the reference fixed; "paired":
    # the same, refused when impossible; "fixed": always hold it fixed
    fid_pairing: str = "auto"


@dataclass(frozen=True)
class ImageItem:
    """One image to evaluate."""

    path: Path
    prompt_id: str
    prompt: str
    category: str


@dataclass
class EvaluationPlan:
    """What ``run_evaluation`` will do; everything resolved, nothing decoded."""

    run: RunDirectory
    items: list[ImageItem]
    metrics: list[str]
    options: EvaluateOptions
    device: str
    inception_weights: Path | None = None
    clip_weights: Path | None = None
    reference: Any = None  # ReferenceStats (npz) or None
    reference_files: list[Path] | None = None  # reference folder to compute
    reference_labels: list[str] | None = None  # prompt id per reference file (paired FID bootstrap)
    fid_settings: dict[str, Any] = field(default_factory=dict)
    input_warnings: list[str] = field(default_factory=list)
    random_weights: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- planning


def plan_evaluation(run_path: str | os.PathLike, options: EvaluateOptions) -> EvaluationPlan:
    """Resolve run, prompts, metrics, model files and reference; decode nothing.

    Raises:
        EvaluationError: with what is missing and how to supply it.
        WeightsNotFoundError: a model file is missing (names the file and the flag).
    """
    from evaluators.registry import check_evaluator_names

    run = RunDirectory.open(run_path)
    metrics = list(options.metrics or (("clip", "fid") if options.reference else ("clip",)))
    try:
        check_evaluator_names(metrics)
    except ValueError as err:
        raise EvaluationError(str(err)) from None
    if {"fid", "kid"} & set(metrics) and not options.reference:
        raise EvaluationError(
            "FID/KID need reference statistics: pass --reference STATS.npz (from "
            "'drawbench reference build') or --reference DIR (a folder of real images)"
        )
    items, sizes = _run_items(run, need_prompts="clip" in metrics, prompts_file=options.prompts)
    device = select_device(options.device)
    if options.workers is None:
        options = replace(options, workers=default_workers(device))
    plan = EvaluationPlan(run, items, metrics, options, device)
    _input_guard_rails(plan, sizes)
    if {"fid", "kid"} & set(metrics):
        _plan_fid(plan, sizes)
    if "clip" in metrics:
        _plan_clip(plan)
    return plan


def default_workers(device: str, cores: int | None = None) -> int:
    """Decode workers for ``device``: DEFAULT_WORKERS on CUDA; on CPU 0 (in-process) up to
    CPU_INLINE_MAX_CORES cores, else one worker per 8 cores (the model keeps the rest)."""
    cores = cores or os.cpu_count() or 1
    if device.startswith("cuda"):
        return DEFAULT_WORKERS
    return 0 if cores <= CPU_INLINE_MAX_CORES else max(1, cores // 8)


def select_device(device: str | None) -> str:
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EvaluationError(f"--device {device}: no CUDA device available; use --device cpu")
    return device


def _run_items(run: RunDirectory, need_prompts: bool, prompts_file: str | None):
    view = run.read_manifest()
    for note in view.notes:
        log.warning(note)
    if not view.records:
        raise EvaluationError(f"{run.path}: no images in the manifest; generate some first")
    missing = [r.path for r in view.records if not (run.path / r.path).is_file()]
    if missing:
        raise EvaluationError(
            f"{run.path}: {len(missing)} image(s) in the manifest are missing on disk, "
            f"e.g. {missing[0]}; rerun 'drawbench generate' to resume the run"
        )
    texts = _prompt_texts(run, prompts_file) if need_prompts else {}
    # One order whatever order the manifest lines were written in (generation appends them as
    # images finish): bootstrap intervals resample by position, so the same images must come in
    # the same order for the same seed to give the same interval.
    records = sorted(view.records, key=lambda r: (r.prompt_id, r.sample))
    items = []
    for r in records:
        if need_prompts and r.prompt_id not in texts:
            raise EvaluationError(
                f"prompt id {r.prompt_id!r} of the manifest is not in the prompt set"
            )
        items.append(
            ImageItem(run.path / r.path, r.prompt_id, texts.get(r.prompt_id, ""), r.category)
        )
    return items, [(r.width, r.height) for r in records]


def _prompt_texts(run: RunDirectory, prompts_file: str | None) -> dict[str, str]:
    """Prompt id -> text from the run's prompt set (its recorded selection), sha256-checked."""
    from drawbench.runs import RunDirectoryError

    try:
        pset = run.load_prompts(prompts_file)
    except RunDirectoryError as err:
        raise EvaluationError(
            f"{err}; pass the prompt file the run was generated from with --prompts FILE"
        ) from None
    return {p.id: p.text for p in pset}


def _input_guard_rails(plan: EvaluationPlan, sizes: list[tuple[int, int]]) -> None:
    jpeg = sum(item.path.suffix.lower() in LOSSY_SUFFIXES for item in plan.items)
    if jpeg:
        plan.input_warnings.append(
            f"{jpeg} of {len(plan.items)} inputs are JPEG: compression artefacts "
            "change FID (Parmar et al. 2022); evaluate lossless PNGs"
        )
    if len(set(sizes)) > 1:
        plan.input_warnings.append(
            f"mixed image sizes in the run ({len(set(sizes))} distinct, e.g. "
            f"{sorted(set(sizes))[:3]}); FID compares sets of one resolution"
        )


def resolve_fid_features_file(options: EvaluateOptions) -> Path | None:
    """The weights of the FID/KID features of ``options``: Inception's for ``fid_mode``, or the toy
    CLIP's when ``fid_features`` names one (None: random Inception weights, only if allowed and no
    explicit file).

    Raises:
        EvaluationError: unknown features or FID mode, an Inception-only option with toy
            features, a toy CLIP that is not shipped. WeightsNotFoundError: missing Inception
            file (names the flag).
    """
    from drawbench.weights import WeightsNotFoundError
    from evaluators.fid import INCEPTION_FEATURES, resolve_fid_features_weights

    try:
        return resolve_fid_features_weights(
            options.fid_features, options.fid_mode, options.inception_weights, options.offline
        )
    except WeightsNotFoundError:
        if not options.allow_random_weights or options.inception_weights:
            raise
        return None
    except (ValueError, FileNotFoundError) as err:  # FileNotFoundError: a toy CLIP folder
        toy = options.fid_features != INCEPTION_FEATURES
        raise EvaluationError(
            f"--fid-features {options.fid_features}: {err}" if toy else str(err)
        ) from None


def resolve_clip_file(options: EvaluateOptions) -> Path | None:
    """The CLIP weights for ``options`` (None: random weights, only if allowed and no explicit file);
    a toy CLIP's own ``model.safetensors`` for a toy name (never random).

    Raises:
        EvaluationError: unknown model or tag, a toy CLIP that is not shipped, or --clip-weights
            conflicting with a toy CLIP name. WeightsNotFoundError: missing file (names the flag).
    """
    from drawbench.weights import WeightsNotFoundError
    from evaluators.clip_score import (
        DEFAULT_CLIP_MODEL,
        DEFAULT_CLIP_PRETRAINED,
        resolve_clip_weights,
    )

    model = options.clip_model or DEFAULT_CLIP_MODEL
    tag = options.clip_pretrained or DEFAULT_CLIP_PRETRAINED
    try:
        return resolve_clip_weights(model, tag, options.clip_weights, options.offline)
    except WeightsNotFoundError:
        if not options.allow_random_weights or options.clip_weights:
            raise
        return None
    except (ValueError, FileNotFoundError) as err:  # FileNotFoundError: a toy CLIP folder
        raise EvaluationError(str(err)) from None


def _plan_fid(plan: EvaluationPlan, sizes: list[tuple[int, int]]) -> None:
    from evaluators.reference import (
        check_compatible,
        extractor_id,
        list_images,
        load_reference,
        resolution_of,
    )

    opts = plan.options
    features, prov, mode = _plan_fid_features(plan)
    plan.fid_settings = {
        "features": features,
        "extractor": extractor_id(prov),
        "mode": mode,
        "resolution": resolution_of(sizes),
    }
    ref = Path(opts.reference)
    if opts.fid_pairing not in FID_PAIRINGS:
        raise EvaluationError(
            f"unknown FID bootstrap pairing {opts.fid_pairing!r}; use one of {', '.join(FID_PAIRINGS)}"
        )
    if ref.is_dir():
        try:
            plan.reference_files = list_images(ref)
        except FileNotFoundError as err:
            raise EvaluationError(f"--reference {ref}: {err}") from None
        if opts.fid_bootstrap and opts.fid_pairing != "fixed":
            plan.reference_labels = _paired_labels(plan, ref)
        return
    if opts.fid_bootstrap and opts.fid_pairing == "paired":
        raise EvaluationError(
            f"--fid-bootstrap-pairing paired needs --reference to be a folder of images grouped "
            f"by prompt (DIR/<prompt id>/<image>), not the statistics file {ref}"
        )
    try:
        plan.reference = load_reference(ref)
        check_compatible(plan.reference.provenance, plan.fid_settings, where=f"reference {ref}")
    except (OSError, ValueError) as err:
        raise EvaluationError(str(err)) from None
    if "kid" in plan.metrics and plan.reference.features is None:
        raise EvaluationError(
            f"KID needs reference features, but {ref} stores only statistics; rebuild "
            "it with 'drawbench reference build' (without --no-features)"
        )


def _plan_fid_features(plan: EvaluationPlan) -> tuple[str, dict[str, Any], str]:
    """Resolve the FID/KID features: ``(features label, extractor provenance, mode)``; Inception's
    file (or random weights, noted in ``plan.random_weights``) or a toy CLIP (never random)."""
    from evaluators.fid import INCEPTION_FEATURES, describe_toyclip_features
    from evaluators.inception import inception_provenance

    opts = plan.options
    weights = resolve_fid_features_file(opts)  # checks the features name and options
    if opts.fid_features != INCEPTION_FEATURES:
        return describe_toyclip_features(opts.fid_features)
    plan.inception_weights = weights
    if weights is None:
        plan.random_weights.append("inception")
    prov = inception_provenance(opts.fid_mode, weights, RANDOM_WEIGHTS_SEED)
    return INCEPTION_FEATURES, prov, opts.fid_mode


def _plan_clip(plan: EvaluationPlan) -> None:
    from evaluators.clip_score import (
        DEFAULT_CLIP_MODEL,
        DEFAULT_CLIP_PRETRAINED,
        check_clip_prompts,
    )
    from evaluators.toyclip import is_toyclip_name

    opts = plan.options
    plan.clip_weights = resolve_clip_file(opts)
    if plan.clip_weights is None:
        plan.random_weights.append("clip")
    model = opts.clip_model or DEFAULT_CLIP_MODEL
    try:
        check_clip_prompts(model, ((it.prompt_id, it.prompt) for it in plan.items))
    except ValueError as err:
        raise EvaluationError(f"--clip-model {model}: {err}") from None
    toy = is_toyclip_name(model)
    if toy and opts.clip_pretrained:
        log.warning(
            "--clip-pretrained %s is ignored: toy CLIP %s has one set of weights",
            opts.clip_pretrained,
            model,
        )
    plan.options = replace(
        opts,
        clip_model=model,
        clip_pretrained=None if toy else opts.clip_pretrained or DEFAULT_CLIP_PRETRAINED,
    )


# --------------------------------------------------------------------------- the decode pass


class DecodeDataset:
    """Map-style dataset: decode image ``i`` once (PIL RGB) and apply every preprocessing to it.

    Returns ``(index, (width, height), {key: preprocessed}, image or None)``.
    """

    def __init__(
        self, paths: Sequence[Path], preprocessors: dict[str, Callable], keep_images: bool
    ):
        self.paths, self.preprocessors, self.keep_images = list(paths), preprocessors, keep_images

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        image = load_image_rgb(self.paths[i])
        extras = {key: fn(image) for key, fn in self.preprocessors.items()}
        return i, image.size, extras, image if self.keep_images else None


def collate_decoded(samples: list) -> dict[str, Any]:
    """Batch DecodeDataset samples: tensors of one shape stacked, otherwise kept as a list."""
    import torch

    extras: dict[str, Any] = {}
    for key in samples[0][2]:
        values = [s[2][key] for s in samples]
        same = all(torch.is_tensor(v) and v.shape == values[0].shape for v in values)
        extras[key] = torch.stack(values) if same else values
    return {
        "index": [s[0] for s in samples],
        "sizes": [s[1] for s in samples],
        "extras": extras,
        "images": [s[3] for s in samples],
    }


@dataclass
class PassReport:
    """What a decode pass saw: images, distinct sizes, seconds, images per second."""

    n: int
    sizes: set
    seconds: float

    @property
    def images_per_s(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else float("inf")


def decode_pass(
    items: Sequence[ImageItem],
    evaluators: Sequence[Any],
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
    desc: str = "evaluate",
    pin_memory: bool = False,
) -> PassReport:
    """Decode every image once and feed each batch to every evaluator.

    Preprocessing runs in ``workers`` DataLoader processes, one function per distinct
    ``evaluator.preprocess_key``; decoded images go back to the main process only if some evaluator
    has no worker-side preprocessing.
    """
    import torch
    from tqdm import tqdm

    from evaluators.base import EvalBatch, Evaluator

    preprocessors: dict[str, Callable] = {}
    keep_images = False
    for ev in evaluators:
        if type(ev).preprocess is Evaluator.preprocess:
            keep_images = True
        else:
            preprocessors.setdefault(ev.preprocess_key, ev.preprocess)
    dataset = DecodeDataset([it.path for it in items], preprocessors, keep_images)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate_decoded,
        pin_memory=pin_memory,
    )
    sizes: set = set()
    start = time.perf_counter()
    with tqdm(
        total=len(items), desc=desc, unit="img", disable=not progress, dynamic_ncols=True
    ) as bar:
        for raw in loader:
            chosen = [items[i] for i in raw["index"]]
            batch = EvalBatch(
                raw["images"],
                [it.prompt for it in chosen],
                [it.prompt_id for it in chosen],
                [it.category for it in chosen],
                raw["extras"],
            )
            for ev in evaluators:
                ev.update(batch)
            sizes.update(raw["sizes"])
            bar.update(len(chosen))
    return PassReport(len(items), sizes, time.perf_counter() - start)


# --------------------------------------------------------------------------- references

FID_PAIRINGS = ("auto", "paired", "fixed")


def _paired_labels(plan: EvaluationPlan, root: Path) -> list[str] | None:
    """Prompt id of each reference file when the folder is ``root/<prompt id>/<image>`` (or a run
    directory, whose ``images/`` is laid out so) for exactly the run's prompts (then the FID
    bootstrap is paired); None otherwise, or EvaluationError when ``fid_pairing`` is "paired"."""
    base = root / "images" if (root / "run.json").is_file() else root
    labels = [
        p.relative_to(base).parts if p.is_relative_to(base) else p.relative_to(root).parts
        for p in plan.reference_files
    ]
    run_ids = {it.prompt_id for it in plan.items}
    problem = None
    if any(len(parts) != 2 for parts in labels):
        problem = "not every reference image sits in a folder named after its prompt id"
    elif {parts[0] for parts in labels} != run_ids:
        ref_ids = {parts[0] for parts in labels}
        problem = (
            f"its prompt folders are not the run's prompt ids ({len(ref_ids - run_ids)} extra, "
            f"{len(run_ids - ref_ids)} missing)"
        )
    if problem is None:
        return [parts[0] for parts in labels]
    if plan.options.fid_pairing == "paired":
        raise EvaluationError(
            f"--fid-bootstrap-pairing paired: reference {root}: {problem} (a run's images folder "
            "has this layout; use --fid-bootstrap-pairing fixed to hold the reference fixed)"
        )
    log.info("FID bootstrap holds reference %s fixed: %s", root, problem)
    return None


def reference_item(path: Path) -> ImageItem:
    return ImageItem(path, "", "", "")


class _CropResize:
    """Reference-image preparation before the FID resize: optional center crop, optional square resize."""

    def __init__(self, inner: Callable, center_crop: bool, resolution: int | None):
        self.inner, self.center_crop, self.resolution = inner, center_crop, resolution

    def __call__(self, image):
        from drawbench.images import center_crop_square, resize_square

        if self.center_crop:
            image = center_crop_square(image)
        if self.resolution:
            image = resize_square(image, self.resolution)
        return self.inner(image)


def compute_reference(
    files: Sequence[Path],
    root: Path,
    features: Any,
    *,
    center_crop: bool = False,
    resolution: int | None = None,
    keep_features: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
    image_set_sha256: str | None = None,
):
    """Reference statistics of image ``files`` (under ``root``) with ``features`` (a FeatureSet:
    InceptionFeatures or ToyClipFeatures).

    Each image: decode -> optional central square crop -> optional bicubic resize to
    ``resolution``² -> the features' preprocessing (the mode's clean-fid resize, or
    ToyClipTransform) -> the extractor. Provenance records all of it, the features' name too.
    """
    from evaluators.fid import ReferenceCollector
    from evaluators.reference import extractor_id, resolution_of
    from evaluators.reference import image_set_sha256 as set_hash

    if center_crop or resolution:
        features.preprocess = _CropResize(features.preprocess, center_crop, resolution)
    collector = ReferenceCollector(features, keep_features=keep_features)
    digest = image_set_sha256 or set_hash(files, root)
    report = decode_pass(
        [reference_item(p) for p in files],
        [collector],
        batch_size,
        workers,
        progress,
        desc="reference",
    )
    sizes = {(resolution, resolution)} if resolution else report.sizes
    if center_crop and not resolution:
        sizes = {(min(s), min(s)) for s in report.sizes}
    prov = {
        **features.provenance,
        "features": features.name,
        "extractor": extractor_id(features.provenance),
        "mode": features.mode,
        "resolution": resolution_of(sorted(sizes)),
        "center_crop": center_crop,
        "image_set_sha256": digest,
        "n_images": len(files),
        "source": str(root),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra or {}),
    }
    return collector.to_reference(prov)


def _reference_from_dir(plan: EvaluationPlan, features: Any, progress: bool):
    """Statistics of the ``--reference DIR`` folder, from the cache when already computed."""
    from evaluators.reference import (
        cached_reference_path,
        check_compatible,
        image_set_sha256,
        load_reference,
    )

    root = Path(plan.options.reference)
    digest = image_set_sha256(plan.reference_files, root)
    key = {"image_set_sha256": digest, **{k: plan.fid_settings[k] for k in ("extractor", "mode")}}
    cached = cached_reference_path(key, root.name)
    if cached.is_file():
        log.info("reference statistics of %s from cache %s", root, cached)
        ref = load_reference(cached)
    else:
        ref = compute_reference(
            plan.reference_files,
            root,
            features,
            batch_size=plan.options.batch_size,
            workers=plan.options.workers,
            progress=progress,
            image_set_sha256=digest,
        )
        ref.save(cached)
    try:
        check_compatible(ref.provenance, plan.fid_settings, where=f"reference folder {root}")
    except ValueError as err:
        raise EvaluationError(str(err)) from None
    return ref


# --------------------------------------------------------------------------- running


def build_evaluators(plan: EvaluationPlan, progress: bool = True) -> dict[str, Any]:
    """Create the models and evaluators of a plan (registry name -> evaluator)."""
    from evaluators.registry import create_evaluator

    opts, out = plan.options, {}
    if {"fid", "kid"} & set(plan.metrics):
        from evaluators.fid import create_fid_features

        features = create_fid_features(
            opts.fid_features,
            plan.device,
            opts.fid_mode,
            plan.inception_weights,
            RANDOM_WEIGHTS_SEED,
        )
        if plan.reference is None:
            plan.reference = _reference_from_dir(plan, features, progress)
        settings = {"resolution": plan.fid_settings["resolution"]}
        for name in ("fid", "kid"):
            if name in plan.metrics:
                kw: dict[str, Any] = {"seed": opts.seed}
                if name == "fid":
                    kw["bootstrap_rounds"] = opts.fid_bootstrap
                    kw["reference_labels"] = plan.reference_labels
                out[name] = create_evaluator(
                    name, features=features, reference=plan.reference, settings=settings, **kw
                )
    if "clip" in plan.metrics:
        out["clip"] = create_evaluator(
            "clip",
            model_name=opts.clip_model,
            pretrained=opts.clip_pretrained,
            weights=plan.clip_weights,
            device=plan.device,
            random_seed=RANDOM_WEIGHTS_SEED,
            seed=opts.seed,
        )
    return out


def run_evaluation(
    plan: EvaluationPlan, progress: bool = True, write: bool = True
) -> dict[str, Any]:
    """Build, decode once, compute, and merge into ``<run>/metrics.json``; returns name -> MetricResult."""
    import torch

    from evaluators.registry import METRIC_NAMES

    with NoTf32(plan.device, plan.options.allow_tf32) as tf32_on:
        evaluators = build_evaluators(plan, progress)  # may compute a --reference DIR first
        report = decode_pass(
            plan.items,
            list(evaluators.values()),
            plan.options.batch_size,
            plan.options.workers,
            progress,
            desc=f"evaluate {plan.run.name}",
            pin_memory=plan.device.startswith("cuda"),
        )
        results = {METRIC_NAMES[name]: ev.compute() for name, ev in evaluators.items()}
    for name, result in results.items():
        if name in ("fid", "kid"):
            result.warnings += plan.input_warnings
        if tf32_on:
            result.warnings.append(
                "TF32 was enabled on CUDA: features lose precision; evaluate without --allow-tf32"
            )
        result.provenance.update(
            {
                "device": plan.device,
                "precision": "fp32+tf32" if tf32_on else "fp32",
                "torch_version": torch.__version__,
                "images_per_s": round(report.images_per_s, 2),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        )
        if result.provenance.get("random_weights"):
            result.warnings.insert(0, RANDOM_WEIGHTS_NOTICE)
    if write:
        write_results(plan.run, results)
        if "fid" in evaluators:
            _save_run_stats(plan, evaluators)
    return results


class NoTf32:
    """Turn TF32 off on CUDA for the pass (unless allowed); yields whether it is on; restores after."""

    def __init__(self, device: str, allow: bool):
        self.device, self.allow = device, allow

    def __enter__(self) -> bool:
        import torch

        self.saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        if not self.device.startswith("cuda"):
            return False
        if not self.allow:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        return bool(torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32)

    def __exit__(self, *exc) -> bool:
        import torch

        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self.saved
        return False


def write_results(run: RunDirectory, results: dict[str, Any]) -> dict[str, Any]:
    """Merge ``results`` (metrics.json name -> MetricResult) into the run's metrics.json."""
    existing = run.read_metrics()
    info = run.info
    doc = {
        "run": {
            "name": run.name,
            "path": str(run.path),
            "generator": info.get("generator"),
            "prompt_set": info.get("prompt_set"),
            "seed": info.get("seed"),
            "images_per_prompt": info.get("images_per_prompt"),
        },
        "metrics": {**existing.get("metrics", {}), **{k: r.to_dict() for k, r in results.items()}},
    }
    run.write_metrics(doc)
    return doc


def _save_run_stats(plan: EvaluationPlan, evaluators: dict[str, Any]) -> None:
    """Keep the run's own FID statistics (``fid_stats_<mode>.npz`` for Inception features,
    ``fid_stats_<toy CLIP name>.npz`` for toy ones): usable as another run's reference."""
    from evaluators.reference import ReferenceStats, extractor_id

    fid = evaluators["fid"]
    features = fid.feature_set
    feats = None
    if "kid" in evaluators and evaluators["kid"].feats:
        import numpy as np

        feats = np.concatenate(evaluators["kid"].feats)
    prov = {
        **features.provenance,
        "features": features.name,
        "extractor": extractor_id(features.provenance),
        "mode": features.mode,
        "resolution": plan.fid_settings["resolution"],
        "center_crop": False,
        "n_images": fid.stats.count,
        "source": f"run {plan.run.name}",
    }
    ReferenceStats(fid.stats, prov, feats).save(
        plan.run.path / f"fid_stats_{features.file_tag}.npz"
    )
