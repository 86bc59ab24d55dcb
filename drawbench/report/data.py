"""Gather what a report shows: runs (run.json, manifest, metrics.json) and pairwise votes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drawbench.runs import ManifestRecord, RunDirectory, RunDirectoryError

log = logging.getLogger(__name__)

#: Columns of a votes file as written by ``drawbench study export`` (DESIGN.md, Study).
VOTE_COLUMNS = (
    "study", "item_id", "prompt_id", "category", "question", "rater", "run_left", "run_right",
    "choice", "model_a", "model_b", "winner", "is_gold", "created_at",
)  # fmt: skip
#: The columns a report needs; the others are optional.
REQUIRED_VOTE_COLUMNS = ("prompt_id", "model_a", "model_b", "winner")
#: Keys searched (depth-first) in run.json's ``generator`` entry for the guidance scale.
GUIDANCE_KEYS = ("guidance_scale", "guidance", "cfg_scale", "cond_scale")


class ReportError(ValueError):
    """Inputs of a report are missing or malformed; the message says which and what to do."""


@dataclass
class RunSummary:
    """One run as a report sees it.

    Attributes:
        name: the run directory's name; path: its path.
        info: run.json; records: manifest records; metrics: metric name -> MetricResult dict.
        guidance: guidance scale found in run.json's generator options (None if absent).
        random_weights: some metric or the generator says its model has random weights.
    """

    name: str
    path: Path
    info: dict[str, Any]
    records: list[ManifestRecord]
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    guidance: float | None = None
    random_weights: bool = False

    @property
    def label(self) -> str:
        return self.name if self.guidance is None else f"{self.name} (guidance {self.guidance:g})"


def find_key(tree: Any, keys: Sequence[str]) -> Any:
    """First value under any of ``keys`` in nested dicts / lists (depth-first), else None."""
    if isinstance(tree, dict):
        for k in keys:
            if k in tree and isinstance(tree[k], (int, float)) and not isinstance(tree[k], bool):
                return tree[k]
        children = tree.values()
    elif isinstance(tree, list):
        children = tree
    else:
        return None
    for child in children:
        found = find_key(child, keys)
        if found is not None:
            return found
    return None


def load_run(path: str | Path) -> RunSummary:
    """Read one run directory (run.json, manifest.jsonl, metrics.json if present)."""
    try:
        run = RunDirectory.open(path)
    except RunDirectoryError as err:
        raise ReportError(f"{err}; pass run directories made by `drawbench generate`") from None
    view = run.read_manifest()
    for note in view.notes:
        log.warning("%s", note)
    metrics = (run.read_metrics() or {}).get("metrics", {})
    guidance = find_key(run.info.get("generator"), GUIDANCE_KEYS)
    random_weights = bool(find_key_bool(run.info.get("generator"), "random_weights")) or any(
        bool((m.get("provenance") or {}).get("random_weights")) for m in metrics.values()
    )
    return RunSummary(
        name=run.name,
        path=Path(path),
        info=run.info,
        records=view.records,
        metrics=metrics,
        guidance=None if guidance is None else float(guidance),
        random_weights=random_weights,
    )


def find_key_bool(tree: Any, key: str) -> bool:
    """True when ``key`` is true anywhere in nested dicts / lists."""
    if isinstance(tree, dict):
        return bool(tree.get(key)) or any(find_key_bool(v, key) for v in tree.values())
    if isinstance(tree, list):
        return any(find_key_bool(v, key) for v in tree)
    return False


def load_runs(paths: Sequence[str | Path]) -> list[RunSummary]:
    """Read several run directories; names must be distinct."""
    runs = [load_run(p) for p in paths]
    names = [r.name for r in runs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ReportError(
            f"several runs are named {', '.join(dupes)}; give the run directories distinct names"
        )
    return runs


def load_votes(source: Any):
    """Votes as a pandas DataFrame from a DataFrame or a CSV path, checked for required columns."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        votes, where = source.copy(), "votes"
    else:
        path = Path(source)
        if not path.is_file():
            raise ReportError(
                f"{path}: no such votes file (write one with `drawbench study export`)"
            )
        votes, where = pd.read_csv(path, dtype=str, keep_default_na=False), str(path)
    missing = [c for c in REQUIRED_VOTE_COLUMNS if c not in votes.columns]
    if not missing:
        # Non-pairwise rows (coco-alignment: no model_b, no winner) are not preference votes.
        pairwise = (votes["model_b"].astype(str).str.strip() != "") & (
            votes["winner"].astype(str).str.strip() != ""
        )
        if not pairwise.all():
            log.info("%s: %d non-pairwise row(s) left out", where, int((~pairwise).sum()))
            votes = votes[pairwise].reset_index(drop=True)
    if missing:
        raise ReportError(
            f"{where}: missing column(s) {', '.join(missing)}; expected {', '.join(VOTE_COLUMNS)}"
        )
    from drawbench.stats import VoteError, winner_scores

    try:
        winner_scores(votes["model_a"], votes["model_b"], votes["winner"])
    except VoteError as err:
        line = f"line {err.index + 2}" if where != "votes" else f"row {err.index}"
        raise ReportError(f"{where} {line}: {err}") from None
    return votes


def load_study_votes(study: str, db_url: str | None = None):
    """Votes of a study read from the rating database through ``rater_app.export.iter_vote_rows``.

    ``db_url`` follows ``rater_app.storage.resolve_db_url`` (--db, $DRAWBENCH_STUDY_DB, or
    studies.db). The rating app is an optional part; without it the error says what to install.
    """
    try:
        import pandas as pd

        from rater_app.export import EXPORT_COLUMNS, iter_vote_rows
        from rater_app.storage import Database, resolve_db_url
    except ImportError:
        raise ReportError(
            f"--study {study} needs the rating app (pip install 'drawbench[rater]'); or export the "
            "votes with `drawbench study export` and pass --votes votes.csv"
        ) from None
    db = Database(resolve_db_url(db_url))
    try:
        rows = list(iter_vote_rows(db, study))
    except ValueError as err:  # rater_app's StudyError (unknown study) names the fix
        raise ReportError(str(err)) from None
    finally:
        db.dispose()
    frame = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS)).astype(str)
    return load_votes(frame)


def votes_are_simulated(votes) -> bool:
    """True when a ``simulated`` column is truthy or the study name starts with "simulated"."""
    if votes is None or len(votes) == 0:
        return False
    if (
        "simulated" in votes.columns
        and votes["simulated"].astype(str).str.lower().isin(["1", "true", "yes"]).any()
    ):
        return True
    return "study" in votes.columns and votes["study"].astype(str).str.startswith("simulated").any()


#: Column naming the automatic judge that cast each vote ("automatic judge: <model>"), as written
#: by ``evaluators.toyclip_judge.judge_votes``; empty or absent for human and simulated votes.
JUDGE_COLUMN = "judge"


def votes_judge(votes) -> str | None:
    """The automatic judge that cast ``votes`` (the distinct ``judge`` values joined by "; "), or
    None when the votes carry no judge (human or simulated votes).

    Raises:
        ReportError: some rows name a judge and others do not (report them separately).
    """
    if votes is None or len(votes) == 0 or JUDGE_COLUMN not in votes.columns:
        return None
    labels = votes[JUDGE_COLUMN].fillna("").astype(str).str.strip()
    named = labels != ""
    if not named.any():
        return None
    if not named.all():
        raise ReportError(
            f"{int(named.sum())} vote(s) come from an automatic judge and {int((~named).sum())} "
            "do not; a preference must not pool them: report the two sets separately"
        )
    return "; ".join(dict.fromkeys(labels))


#: Metrics computed on a feature extractor (settings["features"]); Inception is the default, any
#: other extractor is named wherever the metric is shown.
FEATURE_METRICS = ("fid", "kid")
DEFAULT_FEATURES = "inception"


def metric_features(runs: Sequence[RunSummary], metric: str) -> list[str]:
    """Distinct feature extractors behind ``metric`` across ``runs`` (``settings["features"]``;
    absent means Inception), in run order."""
    found = []
    for run in runs:
        if metric in run.metrics:
            features = (run.metrics[metric].get("settings") or {}).get("features")
            found.append(str(features) if features else DEFAULT_FEATURES)
    return list(dict.fromkeys(found))


def metric_label(runs: Sequence[RunSummary], metric: str, display: str | None = None) -> str:
    """How ``metric`` is named in tables and plots: ``display`` (default the metric name), plus
    "(<extractor> features)" when a feature metric (FID, KID) did not use Inception features."""
    name = display or metric
    if metric not in FEATURE_METRICS:
        return name
    features = metric_features(runs, metric)
    if (
        not features
        or features == [DEFAULT_FEATURES]
        or all(DEFAULT_FEATURES in f.lower() for f in features)
    ):
        return name
    if len(features) == 1:
        return f"{name} ({features[0]} features)"
    return f"{name} (features differ: {', '.join(features)})"


def metric_model(entry: dict[str, Any] | None) -> str | None:
    """The model a metric entry of metrics.json names (``settings["model"]``, else
    ``provenance["model"]``), with its pretrained tag when given: "ViT-B-32 (openai)"."""
    if not entry:
        return None
    settings, prov = entry.get("settings") or {}, entry.get("provenance") or {}
    model = settings.get("model") or prov.get("model")
    if not model:
        return None
    tag = settings.get("pretrained") or prov.get("pretrained")
    return f"{model} ({tag})" if tag else str(model)
