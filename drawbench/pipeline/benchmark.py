"""``drawbench run``: the whole benchmark from one config, validated before any model loads.

Stages, each resumable:
1. generate every run (``run_generation`` makes only the missing images);
2. evaluate every run (skipped for a run whose metrics.json already holds every requested metric
   over the run's current image count, unless ``force_evaluate``);
3. the optional study (created once in its database; its votes, or a votes CSV, go to the report);
4. the report (always rewritten).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drawbench.pipeline.config import ConfigError, RunConfig

log = logging.getLogger(__name__)


@dataclass
class BenchmarkPlan:
    """A validated config: generation requests and evaluation options, nothing loaded."""

    config: RunConfig
    requests: list[Any]  # drawbench.pipeline.generate.GenerateRequest, one per generator
    evaluate_options: Any | None  # drawbench.pipeline.evaluate.EvaluateOptions
    notes: list[str] = field(default_factory=list)


def _evaluate_options(cfg: RunConfig):
    from dataclasses import fields

    from drawbench.pipeline.evaluate import EvaluateOptions

    m = cfg.metrics
    known = {f.name for f in fields(EvaluateOptions)}
    unknown = sorted(set(m.options) - known)
    if unknown:
        raise ConfigError(
            f"{cfg.source}: [metrics] options: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    reference = m.reference
    if reference is not None:
        ref = Path(reference).expanduser()
        if not ref.exists():
            raise ConfigError(
                f"{cfg.source}: [metrics] reference {reference!r} not found (looked at {ref})"
            )
        reference = str(ref)
    return EvaluateOptions(
        metrics=tuple(m.names),
        reference=reference,
        batch_size=m.batch_size,
        workers=m.workers,
        device=m.device,
        **m.options,
    )


def check_metric_models(options) -> list[str]:
    """Resolve every model file and the reference the metrics need, before anything runs.

    Returns the names of models that will use random weights (allowed by the options).
    """
    from drawbench.pipeline.evaluate import resolve_clip_file, resolve_fid_features_file
    from evaluators.registry import check_evaluator_names

    names = list(options.metrics or ("clip",))
    check_evaluator_names(names)
    random = []
    if {"fid", "kid"} & set(names):
        if not options.reference:
            raise ConfigError(
                "FID/KID need [metrics] reference (a STATS.npz or a folder of real images)"
            )
        if resolve_fid_features_file(options) is None:
            random.append("inception")
    if "clip" in names and resolve_clip_file(options) is None:
        random.append("clip")
    return random


def plan_benchmark(cfg: RunConfig) -> BenchmarkPlan:
    """Validate everything (prompts, generators and options, run directories, metric models,
    reference, study) without loading a model or writing a file."""
    from drawbench.pipeline.generate import GenerateRequest, plan_generation
    from drawbench.prompts import select_prompts

    p = cfg.prompts
    try:
        prompts = select_prompts(p.set, category=p.category, limit=p.limit)
    except ValueError as err:
        raise ConfigError(f"{cfg.source}: [prompts] {err}") from None
    selection = {"spec": p.set, "category": p.category, "limit": p.limit}
    requests = []
    for g in cfg.generators:
        req = GenerateRequest(
            generator=g.generator,
            prompts=prompts,
            images_per_prompt=p.images_per_prompt,
            seed=cfg.seed,
            out=cfg.run_dir(g),
            options=dict(g.options),
            batch_size=g.batch_size,
            device=g.device,
            selection=selection,
            command_line=list(sys.argv),
        )
        try:
            plan_generation(req)
        except ValueError as err:  # GenerateConfigError, RunDirectoryError
            raise ConfigError(f"{cfg.source}: generator {g.name!r}: {err}") from None
        requests.append(req)
    plan = BenchmarkPlan(cfg, requests, None)
    if cfg.metrics is not None:
        plan.evaluate_options = _evaluate_options(cfg)
        random = check_metric_models(plan.evaluate_options)
        if random:
            plan.notes.append(
                f"RANDOM WEIGHTS for {', '.join(random)}: those numbers are meaningless"
            )
    if cfg.study is not None and cfg.study.votes is None:
        try:
            from rater_app.design import get_protocol
            from rater_app.storage import resolve_db_url
        except ImportError as err:
            raise ConfigError(
                f"{cfg.source}: [study] needs the rating app: pip install 'drawbench[rater]' ({err})"
            ) from None
        try:
            get_protocol(cfg.study.protocol)
            resolve_db_url(cfg.study.db)
        except ValueError as err:
            raise ConfigError(f"{cfg.source}: [study] {err}") from None
    elif cfg.study is not None and not Path(cfg.study.votes).expanduser().is_file():
        raise ConfigError(f"{cfg.source}: [study] votes file {cfg.study.votes!r} not found")
    return plan


def _metrics_current(run_dir: Path, options) -> bool:
    from drawbench.runs import RunDirectory
    from evaluators.registry import METRIC_NAMES

    run = RunDirectory.open(run_dir)
    have = run.read_metrics().get("metrics", {})
    n_images = len(run.read_manifest().records)
    wanted = [METRIC_NAMES[m] for m in (options.metrics or ("clip",))]
    return all(name in have and have[name].get("n") == n_images for name in wanted)


def run_benchmark(cfg: RunConfig, *, progress: bool = True, force_evaluate: bool = False) -> Path:
    """Run every stage of a validated config; returns the path of report.html."""
    from drawbench.pipeline.generate import run_generation
    from drawbench.report import write_report

    plan = plan_benchmark(cfg)
    for note in plan.notes:
        log.warning(note)
    run_dirs = []
    for g, req in zip(cfg.generators, plan.requests, strict=True):
        result = run_generation(req, progress=progress)
        log.info(
            "%s: %d generated, %d already there", g.name, result.generated, result.already_done
        )
        run_dirs.append(Path(req.out))
    if plan.evaluate_options is not None:
        from drawbench.pipeline.evaluate import plan_evaluation, run_evaluation

        for run_dir in run_dirs:
            if not force_evaluate and _metrics_current(run_dir, plan.evaluate_options):
                log.info("%s: metrics up to date, not recomputed", run_dir)
                continue
            run_evaluation(plan_evaluation(run_dir, plan.evaluate_options), progress=progress)
    votes = _study_votes(cfg, run_dirs)
    return write_report(run_dirs, cfg.report_dir, votes=votes, title=cfg.title, notes=plan.notes)


def _study_votes(cfg: RunConfig, run_dirs: list[Path]):
    """The votes to report: a given CSV, or the study's current votes (created if new)."""
    study = cfg.study
    if study is None:
        return None
    if study.votes:
        return Path(study.votes).expanduser()
    import pandas as pd

    from rater_app.export import iter_vote_rows
    from rater_app.manage import create_study
    from rater_app.storage import Database, get_study, resolve_db_url

    db = Database(resolve_db_url(study.db))
    try:
        with db.session() as s:
            exists = get_study(s, study.name) is not None
        if not exists:
            created = create_study(
                db,
                study.name,
                run_dirs,
                study.protocol,
                images_per_set=study.images_per_set,
                ratings_per_item=study.ratings_per_item,
                gold_share=study.gold_share,
                seed=cfg.seed,
            )
            log.warning(
                "study %r created in %s; admin token (shown once): %s; invite raters with "
                "'drawbench study invite %s --rater NAME' and serve with 'drawbench study serve %s'",
                study.name,
                db.url,
                created.admin_token,
                study.name,
                study.name,
            )
        rows = list(iter_vote_rows(db, study.name))
    finally:
        db.dispose()
    return pd.DataFrame(rows) if rows else None
