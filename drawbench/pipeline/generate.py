"""Generation orchestration: ``drawbench generate`` as a library.

One run is the ordered work list ``[(prompt, sample) for prompt in prompts for sample in
range(images_per_prompt)]``; item ``k`` of that list has seed ``derive_seed(run_seed, prompt.id,
sample)`` and belongs to shard ``k mod N``. A process generates the items of its shard that the run
directory does not hold yet (resume), in batches that cross prompt boundaries, so an image depends
only on (generator configuration, prompt, sample, run seed), never on batch size, shard or subset.

Everything is validated before any model loads (:func:`plan_generation`): generator name, options
(the factory's ``check_options``), optional dependencies, prompt selection and the output
directory's compatibility. ``run.json`` records the generator identity ``{"name", "options"}``
(options without ``device``, which may differ between shards) and, separately, the loaded
generator's ``describe()`` under ``generator_description``.

Optional generator hook: ``bind_run(prompts: list[Prompt], images_per_prompt: int, run_seed:
int)`` is called once after loading and before the run directory is created, for generators that
need the whole run up front (the ``folder`` adapter maps seeds back to prompt ids and samples).

Parts live in :mod:`drawbench.pipeline.work` (shards, the work list, option and prompt parsing) and
:mod:`drawbench.pipeline.saving` (image checks, background saving); every name is importable from
here as before (``name as name`` marks a re-export this module does not use itself).
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from collections import deque as deque
from collections.abc import Mapping
from collections.abc import Sequence as Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from drawbench.images import save_png_atomic
from drawbench.pipeline.saving import SAVE_THREADS, _Saver, _where, check_images
from drawbench.pipeline.saving import _save_chunk as _save_chunk
from drawbench.pipeline.work import (
    GenerateConfigError,
    Shard,
    WorkItem,
    parse_options,
    select_prompts,
    work_list,
)
from drawbench.pipeline.work import parse_option_value as parse_option_value
from drawbench.prompts import Prompt as Prompt
from drawbench.prompts import PromptSet
from drawbench.runs import RUN_JSON, RunDirectory, RunDirectoryError, image_relpath
from drawbench.runs import ManifestRecord as ManifestRecord
from drawbench.seeding import derive_seed as derive_seed
from generators.base import GeneratorError
from generators.registry import accepts_option, check_generator_options

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "GenerateConfigError",
    "GenerateRequest",
    "GenerateResult",
    "GenerationPlan",
    "Shard",
    "WorkItem",
    "check_images",
    "describe_plan",
    "package_versions",
    "parse_options",
    "plan_generation",
    "run_generation",
    "select_prompts",
    "work_list",
]

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 8
#: Options that do not change the images' identity (shards on different GPUs share a run).
NON_IDENTITY_OPTIONS = ("device",)
#: Distributions whose versions run.json records (when installed).
RECORDED_PACKAGES = ("drawbench", "numpy", "pillow", "torch", "diffusers", "transformers", "tqdm")


@dataclass
class GenerateRequest:
    """Everything one ``drawbench generate`` process is asked to do."""

    generator: str
    prompts: PromptSet
    images_per_prompt: int
    seed: int
    out: Path
    options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = DEFAULT_BATCH_SIZE
    shard: Shard = field(default_factory=Shard)
    device: str | None = None
    selection: dict[str, Any] | None = None
    command_line: list[str] | None = None


@dataclass
class GenerationPlan:
    """A validated request: the factory, its options, run identity and this shard's work."""

    request: GenerateRequest
    factory: Any
    factory_options: dict[str, Any]
    identity: dict[str, Any]
    todo: list[WorkItem]
    shard_total: int

    @property
    def already_done(self) -> int:
        return self.shard_total - len(self.todo)


@dataclass
class GenerateResult:
    """What a generation process did."""

    run_dir: Path
    generated: int
    already_done: int
    seconds: float
    batch_size: int
    oom_halvings: int = 0

    @property
    def images_per_s(self) -> float:
        return self.generated / self.seconds if self.seconds > 0 else 0.0


# --------------------------------------------------------------------------- validation


def _identity(
    request: GenerateRequest, options: Mapping[str, Any], factory: Any = None
) -> dict[str, Any]:
    """The run.json keys that must match (drawbench.runs.IDENTITY_KEYS).

    A factory with a classmethod ``weights_identity(**options)`` (e.g. the shipped toy cascade:
    the sha256 of its weight files) adds what it returns as ``generator.weights``, so a run made
    with other weights under the same name and options is refused instead of resumed.
    """
    prompt_set = request.prompts.describe()
    if request.selection is not None:
        prompt_set["selection"] = request.selection
    kept = {k: v for k, v in sorted(options.items()) if k not in NON_IDENTITY_OPTIONS}
    generator: dict[str, Any] = {"name": request.generator, "options": kept}
    weights = getattr(factory, "weights_identity", None)
    if callable(weights) and (found := weights(**options)) is not None:
        generator["weights"] = found
    return {
        "generator": generator,
        "prompt_set": prompt_set,
        "seed": request.seed,
        "images_per_prompt": request.images_per_prompt,
    }


def _factory_options(request: GenerateRequest, factory: Any) -> dict[str, Any]:
    options = dict(request.options)
    if request.device is None:
        return options
    if "device" in options and options["device"] != request.device:
        raise GenerateConfigError(
            f"--device {request.device} conflicts with --option device={options['device']}; give one"
        )
    if accepts_option(factory, "device"):
        options["device"] = request.device
    else:
        log.warning(
            "generator %r takes no device option; --device %s ignored",
            request.generator,
            request.device,
        )
    return options


def _check_request(request: GenerateRequest) -> None:
    for name in ("images_per_prompt", "batch_size"):
        value = getattr(request, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise GenerateConfigError(
                f"--{name.replace('_', '-')} must be a positive integer, got {value!r}"
            )
    if isinstance(request.seed, bool) or not isinstance(request.seed, int):
        raise GenerateConfigError(f"--seed must be an integer, got {request.seed!r}")
    if not len(request.prompts):
        raise GenerateConfigError("the prompt set is empty")
    try:
        json.dumps(request.options, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise GenerateConfigError(f"generator options must be JSON values ({err})") from None


def _existing_run(out: Path, identity: Mapping[str, Any]) -> RunDirectory | None:
    """The run directory at ``out`` if there is one (checked compatible); None if ``out`` is new."""
    if out.exists() and not out.is_dir():
        raise RunDirectoryError(f"{out} exists and is not a directory; choose another --out")
    if (out / RUN_JSON).exists():
        run = RunDirectory.open(out)
        run.check_compatible(identity)
        return run
    if out.is_dir() and any(out.iterdir()):
        raise RunDirectoryError(
            f"{out} is a non-empty folder without {RUN_JSON}; choose another --out"
        )
    return None


def _todo(request: GenerateRequest, run: RunDirectory | None) -> tuple[list[WorkItem], int]:
    """This shard's items still missing from ``run``, and the shard's total item count."""
    mine = [
        item
        for item in work_list(request.prompts, request.images_per_prompt, request.seed)
        if item.index % request.shard.count == request.shard.index
    ]
    if run is None:
        return mine, len(mine)
    missing = {(p.id, j) for p, j in run.missing(request.prompts, request.images_per_prompt)}
    return [item for item in mine if item.key in missing], len(mine)


def plan_generation(request: GenerateRequest) -> GenerationPlan:
    """Validate a request without loading a model or writing a file; list this shard's work.

    Raises:
        GenerateConfigError: a bad name, option, number, prompt selection or missing dependency.
        RunDirectoryError: ``out`` holds a different run (or is not a run directory).
    """
    _check_request(request)
    try:
        factory = check_generator_options(request.generator, **request.options)
        options = _factory_options(request, factory)
        if options != request.options:
            check_generator_options(request.generator, **options)
    except (TypeError, ValueError, ImportError, OSError) as err:  # OSError: a missing file
        if isinstance(err, GenerateConfigError):
            raise
        raise GenerateConfigError(str(err)) from None
    identity = _identity(request, request.options, factory)
    run = _existing_run(Path(request.out), identity)
    todo, total = _todo(request, run)
    return GenerationPlan(request, factory, options, identity, todo, total)


# --------------------------------------------------------------------------- running


def package_versions() -> dict[str, str]:
    """Versions of Python and of the installed RECORDED_PACKAGES (read from metadata, not imported)."""
    versions = {"python": platform.python_version()}
    for dist in RECORDED_PACKAGES:
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return versions


def build_run_info(plan: GenerationPlan, description: Mapping[str, Any]) -> dict[str, Any]:
    """run.json content (DESIGN.md, "Run directory"): identity plus provenance."""
    request = plan.request
    return {
        **plan.identity,
        "generator_description": dict(description),
        "versions": package_versions(),
        "command_line": list(request.command_line)
        if request.command_line is not None
        else list(sys.argv),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": request.device,
        "platform": platform.platform(),
    }


def _describe(generator: Any, name: str) -> dict[str, Any]:
    description = generator.describe()
    try:
        json.dumps(description, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise GeneratorError(
            f"generator {name!r}: describe() must return JSON values ({err})"
        ) from None
    if not isinstance(description, Mapping):
        raise GeneratorError(
            f"generator {name!r}: describe() returned {type(description).__name__}, not a dict"
        )
    return dict(description)


def _oom_errors() -> tuple[type[BaseException], ...]:
    """torch's CUDA out-of-memory error if torch is loaded (a generator using it imported it)."""
    torch = sys.modules.get("torch")
    return (torch.cuda.OutOfMemoryError,) if torch is not None else ()


def _free_cuda_cache() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _generate_batches(
    generator: Any, plan: GenerationPlan, run: RunDirectory, todo: list[WorkItem], bar
) -> tuple[int, int]:
    """Generate ``todo`` in batches, saving in the background; halve the batch on CUDA OOM.

    Returns:
        (final batch size, number of halvings).
    """
    name = plan.request.generator
    batch_size = plan.request.batch_size
    records = run.read_manifest().records
    size = (records[0].width, records[0].height) if records else None
    wanted = {it.key for it in todo}
    recorded = {(r.prompt_id, r.sample): r for r in records if (r.prompt_id, r.sample) in wanted}
    oom_errors = _oom_errors()
    halvings = 0
    pos = 0
    max_pending = max(batch_size, 2 * SAVE_THREADS)
    # save_png_atomic is looked up here, in this module, at call time (tests replace it here).
    with _Saver(run, recorded, bar, max_pending, save=save_png_atomic) as saver:
        while pos < len(todo):
            batch = todo[pos : pos + batch_size]
            start = time.perf_counter()
            try:
                images = generator.generate(
                    [it.prompt.text for it in batch], [it.seed for it in batch]
                )
            except oom_errors as err:
                if len(batch) == 1:
                    raise GeneratorError(
                        f"{_where(name, batch[0])}: CUDA out of memory even with batch size 1; use a "
                        "smaller resolution, dtype=float16 or a larger GPU"
                    ) from err
                batch_size = max(1, len(batch) // 2)
                halvings += 1
                log.warning(
                    "CUDA out of memory at batch size %d; continuing with batch size %d",
                    len(batch),
                    batch_size,
                )
                bar.set_postfix_str(f"batch {batch_size} (halved after OOM)")
                _free_cuda_cache()
                continue
            seconds = (time.perf_counter() - start) / len(batch)
            size = check_images(images, batch, name, size)
            saver.submit(batch, images, seconds)
            pos += len(batch)
        saver.wait()
    return batch_size, halvings


def run_generation(request: GenerateRequest, progress: bool = True) -> GenerateResult:
    """Validate, load the generator, create (or reopen) the run directory, generate what is missing.

    Args:
        request: What to generate.
        progress: Show a tqdm bar (images/s and ETA) on stderr.

    Raises:
        GenerateConfigError, RunDirectoryError: before any model loads (see plan_generation).
        GeneratorError: the generator failed to load or returned unusable images.
    """
    from tqdm.auto import tqdm

    plan = plan_generation(request)
    if not plan.todo:
        log.info(
            "%s: shard %s already complete (%d images)",
            request.out,
            request.shard,
            plan.shard_total,
        )
        return GenerateResult(Path(request.out), 0, plan.already_done, 0.0, request.batch_size)
    generator = plan.factory(**plan.factory_options)
    bind_run = getattr(generator, "bind_run", None)
    if callable(bind_run):
        bind_run(list(request.prompts), request.images_per_prompt, request.seed)
    run = RunDirectory.create(
        request.out, build_run_info(plan, _describe(generator, request.generator))
    )
    todo, total = _todo(
        request, run
    )  # again: another shard may have created the directory meanwhile
    log.info(
        "%s: %d of %d images of shard %s to generate", run.path, len(todo), total, request.shard
    )
    start = time.perf_counter()
    with tqdm(
        total=len(todo), unit="img", desc=f"generate {request.shard}", disable=not progress
    ) as bar:
        batch_size, halvings = _generate_batches(generator, plan, run, todo, bar)
    seconds = time.perf_counter() - start
    return GenerateResult(run.path, len(todo), total - len(todo), seconds, batch_size, halvings)


def describe_plan(plan: GenerationPlan) -> list[str]:
    """Lines for ``--dry-run``: a summary, then ``prompt_id  sample  seed  path  prompt`` per image."""
    request = plan.request
    lines = [
        f"# generator {request.generator} options {json.dumps(plan.factory_options, sort_keys=True)}",
        f"# prompts {request.prompts.name} ({len(request.prompts)} prompts, sha256 {request.prompts.sha256[:12]}), "
        f"{request.images_per_prompt} per prompt, seed {request.seed}, shard {request.shard}",
        f"# {len(plan.todo)} image(s) to generate into {request.out}, {plan.already_done} already there; "
        "nothing written (dry run)",
        "prompt_id\tsample\tseed\tpath\tprompt",
    ]
    lines += [
        f"{it.prompt.id}\t{it.sample}\t{it.seed}\t{image_relpath(it.prompt.id, it.sample)}\t{it.prompt.text}"
        for it in plan.todo
    ]
    return lines
