"""Creating studies and inviting raters: run directories -> items in the database; tokens.

Tokens come from ``secrets.token_urlsafe(32)``; only their sha256 is stored, so the database
alone cannot be used to rate as someone else.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from drawbench.prompts import PromptSet
from drawbench.runs import RunDirectory, RunDirectoryError
from rater_app.design import (
    REFERENCE_RUN,
    DesignError,
    ItemSpec,
    RunImages,
    check_images,
    create_items,
    get_protocol,
)
from rater_app.storage import (
    Assignment,
    Database,
    Item,
    Rater,
    Run,
    Study,
    Vote,
    get_study,
    hash_token,
)

log = logging.getLogger(__name__)

#: Items a rater is given by default (the progress bar's total); a study-wide default, overridable
#: per rater with ``invite --items``.
DEFAULT_ITEMS_PER_RATER = 50
DEFAULT_IMAGES_PER_SET = 8  # DESIGN.md: two sets of N images, default 8
DEFAULT_RATINGS_PER_ITEM = 3
DEFAULT_GOLD_SHARE = 0.05


class StudyError(ValueError):
    """A study cannot be created or found; the message says what to do."""


@dataclass(frozen=True)
class CreatedStudy:
    name: str
    n_items: int
    n_gold: int
    admin_token: str


def _load_run(path: str | Path) -> RunDirectory:
    try:
        return RunDirectory.open(path)
    except RunDirectoryError as err:
        raise StudyError(
            f"{err} (pass run directories made by 'drawbench generate' to --runs)"
        ) from None


def _run_images(run: RunDirectory) -> RunImages:
    images: dict[str, list[tuple[int, str]]] = {}
    for rec in run.read_manifest().records:
        if (run.path / rec.path).is_file():
            images.setdefault(rec.prompt_id, []).append((rec.sample, rec.path))
    return RunImages(run.name, {pid: [p for _, p in sorted(v)] for pid, v in images.items()})


def _prompt_set_for(runs: Sequence[RunDirectory], prompts: str | None) -> PromptSet:
    shas = {r.name: (r.info.get("prompt_set") or {}).get("sha256") for r in runs}
    if len(set(shas.values())) != 1 or None in shas.values():
        listing = ", ".join(f"{n}: {str(s)[:12]}" for n, s in shas.items())
        raise StudyError(
            f"the runs do not share one prompt set (sha256 per run: {listing}); "
            "compare runs made on the same prompt set"
        )
    try:
        return runs[0].load_prompts(prompts)
    except ValueError as err:  # RunDirectoryError
        raise StudyError(
            f"{err}; pass the prompt file the runs were made from with --prompts FILE"
        ) from None


def create_study(
    db: Database,
    name: str,
    run_paths: Sequence[str | Path],
    protocol: str,
    *,
    images_per_set: int = DEFAULT_IMAGES_PER_SET,
    ratings_per_item: int = DEFAULT_RATINGS_PER_ITEM,
    gold_share: float = DEFAULT_GOLD_SHARE,
    items_per_rater: int = DEFAULT_ITEMS_PER_RATER,
    seed: int = 0,
    coco_images: str | Path | None = None,
    prompts: str | None = None,
) -> CreatedStudy:
    """Check the runs, build the items and store the study; returns the admin token (shown once).

    Prompts rated: those of the prompt set that every run has images for (a run made on a subset,
    e.g. with ``--category``, limits the study to that subset); each needs ``images_per_set``
    images in every run (1 for the COCO protocols).
    """
    proto = get_protocol(protocol)
    if images_per_set < 1 or ratings_per_item < 1 or items_per_rater < 1:
        raise StudyError("--images-per-set, --ratings-per-item and --items-per-rater must be >= 1")
    runs = [_load_run(p) for p in run_paths]
    if len(runs) < proto.min_runs:
        raise StudyError(
            f"protocol {protocol} needs at least {proto.min_runs} runs in --runs, got {len(runs)}"
        )
    pset = _prompt_set_for(runs, prompts)
    run_images = [_run_images(r) for r in runs]
    common = set.intersection(*(set(ri.images) for ri in run_images))
    ordered = [(p.id, p.category) for p in pset if p.id in common]
    if not ordered:
        raise StudyError("the runs have no prompt with images in common; check --runs")
    n_images = 1 if protocol != "drawbench" else images_per_set
    try:
        check_images(run_images, [pid for pid, _ in ordered], n_images)
        specs = create_items(proto, run_images, ordered, gold_share=gold_share, seed=seed)
    except DesignError as err:
        raise StudyError(str(err)) from None
    reference: dict[str, str] = {}
    if proto.uses_reference:
        reference = _reference_images(pset, [pid for pid, _ in ordered], coco_images)
    admin_token = secrets.token_urlsafe(32)
    by_id = pset.by_id()
    with db.session() as s:
        if get_study(s, name) is not None:
            raise StudyError(
                f"a study named {name!r} already exists in {db.url}; choose another NAME"
            )
        study = Study(
            name=name,
            protocol=protocol,
            seed=seed,
            images_per_set=n_images,
            ratings_per_item=ratings_per_item,
            gold_share=gold_share,
            items_per_rater=items_per_rater,
            prompt_set={k: pset.describe()[k] for k in ("name", "sha256", "n_prompts")},
            secret=secrets.token_hex(32),
            admin_token_hash=hash_token(admin_token),
        )
        s.add(study)
        s.flush()
        run_rows = {
            r.name: Run(study_id=study.id, name=r.name, path=str(r.path.resolve()), info=r.info)
            for r in runs
        }
        if proto.uses_reference:
            run_rows[REFERENCE_RUN] = Run(
                study_id=study.id,
                name=REFERENCE_RUN,
                path=str(Path(coco_images).resolve()),
                info={"reference": "COCO"},
            )
        s.add_all(run_rows.values())
        s.flush()
        images = {ri.name: ri.images for ri in run_images}
        images[REFERENCE_RUN] = {pid: [f] for pid, f in reference.items()}
        for spec in specs:
            s.add(_item_row(study.id, spec, run_rows, images, n_images, by_id[spec.prompt_id].text))
    n_gold = sum(spec.is_gold for spec in specs)
    log.info("study %s: %d items (%d gold)", name, len(specs), n_gold)
    return CreatedStudy(name, len(specs), n_gold, admin_token)


def _item_row(study_id, spec: ItemSpec, run_rows, images, n: int, caption: str) -> Item:
    images_a = list(images[spec.run_a][spec.prompt_id][:n])
    images_b: list[str] = []
    if spec.run_b is not None:
        images_b = list(images[spec.run_b][spec.prompt_b or spec.prompt_id][:n])
    elif spec.prompt_b is not None:  # one-image gold: the image of the unrelated prompt
        images_a = list(images[spec.run_a][spec.prompt_b][:n])
    return Item(
        study_id=study_id,
        key=spec.key,
        prompt_id=spec.prompt_id,
        category=spec.category,
        caption=caption,
        run_a_id=run_rows[spec.run_a].id,
        run_b_id=run_rows[spec.run_b].id if spec.run_b else None,
        images_a=images_a,
        images_b=images_b,
        prompt_b_id=spec.prompt_b,
        is_gold=spec.is_gold,
        gold=dict(spec.gold),
    )


def _reference_images(pset: PromptSet, prompt_ids: Sequence[str], coco_images) -> dict[str, str]:
    if coco_images is None:
        raise StudyError(
            "protocol coco-photorealism needs the real COCO images: pass --coco-images DIR "
            "(the folder holding COCO_val2014_*.jpg)"
        )
    folder = Path(coco_images)
    by_id = pset.by_id()
    found, missing = {}, []
    for pid in prompt_ids:
        file_name = by_id[pid].meta.get("file_name")
        if file_name and (folder / file_name).is_file():
            found[pid] = file_name
        else:
            missing.append(file_name or f"{pid} (no file_name in the prompt set)")
    if missing:
        raise StudyError(
            f"{len(missing)} real COCO images not found in {folder}, e.g. {', '.join(missing[:3])}; "
            "check --coco-images"
        )
    return found


def require_study(s, name: str) -> Study:
    study = get_study(s, name)
    if study is None:
        names = s.scalars(select(Study.name).order_by(Study.name)).all()
        raise StudyError(
            f"no study named {name!r}; existing: {', '.join(names) or 'none'} "
            "(create one with 'drawbench study create', or pass the right --db)"
        )
    return study


def invite_rater(
    db: Database,
    study_name: str,
    rater: str,
    *,
    daily_cap: int | None = None,
    items: int | None = None,
) -> str:
    """Add a rater (or give an existing one a new link, revoking the old) and return the token."""
    rater = rater.strip()
    if not rater or len(rater) > 320:
        raise StudyError("--rater must be a non-empty name or email of at most 320 characters")
    if daily_cap is not None and daily_cap < 1:
        raise StudyError("--daily-cap must be >= 1")
    token = secrets.token_urlsafe(32)
    with db.session() as s:
        study = require_study(s, study_name)
        row = s.scalar(select(Rater).where(Rater.study_id == study.id, Rater.name == rater))
        if row is None:
            row = Rater(
                study_id=study.id, name=rater, token_hash="", quota=items or study.items_per_rater
            )
            s.add(row)
        row.token_hash = hash_token(token)
        row.daily_cap = daily_cap
        if items is not None:
            row.quota = items
    return token


def new_admin_token(db: Database, study_name: str) -> str:
    """Replace the study's admin token (the old one stops working) and return the new one."""
    token = secrets.token_urlsafe(32)
    with db.session() as s:
        require_study(s, study_name).admin_token_hash = hash_token(token)
    return token


def study_status(db: Database, study_name: str) -> dict:
    """Counts for ``drawbench study status``: items, raters, votes, items at K ratings."""
    with db.session() as s:
        study = require_study(s, study_name)
        n_items = s.scalar(select(func.count()).select_from(Item).where(Item.study_id == study.id))
        n_gold = s.scalar(
            select(func.count()).select_from(Item).where(Item.study_id == study.id, Item.is_gold)
        )
        done = (
            select(Assignment.item_id, func.count().label("n"))
            .join(Item)
            .where(Item.study_id == study.id, Assignment.completed_at.is_not(None))
            .group_by(Assignment.item_id)
            .subquery()
        )
        at_k = s.scalar(
            select(func.count()).select_from(done).where(done.c.n >= study.ratings_per_item)
        )
        n_raters = s.scalar(
            select(func.count()).select_from(Rater).where(Rater.study_id == study.id)
        )
        n_votes = s.scalar(
            select(func.count())
            .select_from(Vote)
            .join(Assignment)
            .join(Item)
            .where(Item.study_id == study.id)
        )
        n_done = s.scalar(
            select(func.count())
            .select_from(Assignment)
            .join(Item)
            .where(Item.study_id == study.id, Assignment.completed_at.is_not(None))
        )
        runs = s.scalars(select(Run.name).where(Run.study_id == study.id).order_by(Run.id)).all()
        return {
            "study": study.name,
            "protocol": study.protocol,
            "runs": list(runs),
            "items": n_items,
            "gold_items": n_gold,
            "ratings_per_item": study.ratings_per_item,
            "items_at_k": at_k,
            "raters": n_raters,
            "completed_presentations": n_done,
            "votes": n_votes,
            "presentations_needed": n_items * study.ratings_per_item,
        }
