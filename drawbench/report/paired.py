"""Paired views: a metric and a preference side by side, per category, for two named runs.

The toy world's "relation blindness" view is the motivating case: X is a trained cascade and Y
the same cascade sampled with left/right and above/below swapped in its captions. A relation-blind
CLIP-score model scores Y's Positional images about as high as X's, while a judge that sees the
arrangement (the CoordConv toy CLIP) prefers X there. Putting the two numbers in one table makes
the blind spot of the metric visible. ``write_report(..., paired_views=[PairedView(...)])`` adds
one section per view; without paired views there is no such section.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drawbench import stats
from drawbench.report import plots
from drawbench.report.blocks import Block, fmt, fmt_ci
from drawbench.report.data import ReportError, RunSummary, metric_label, metric_model

#: How metrics are named in a paired view's headers (others by their metrics.json name).
METRIC_TITLES = {"clip_score": "CLIP score", "fid": "FID", "kid": "KID"}

DEFAULT_NOTE = (
    "{b} differs from {a} only in its spatial relations. A relation-blind CLIP-score model (as "
    "real CLIP is on DrawBench's Positional prompts) scores a mirrored arrangement about as high "
    "as the correct one, so its score of {b} would not drop where the votes (by {source}), which "
    "see the arrangement, prefer {a} (a preference above 0.5). The table shows what {model} and "
    "the votes measured; how blind {model} is, is measured separately (benchmarks/RESULTS.md)."
)


@dataclass(frozen=True)
class PairedView:
    """A report section comparing runs ``run_a`` (X) and ``run_b`` (Y) per prompt category.

    Attributes:
        run_a, run_b: run directory names (as the report lists them; votes name runs the same way).
        title: the section heading.
        note: the caption under the heading; None uses ``DEFAULT_NOTE`` (relation blindness),
            filled in with the run names, the metric's model and the source of the votes.
        metric: the metrics.json entry shown (per-category values and intervals).
        question: the votes' question whose preference is shown ("alignment": does the image
            match its caption).
    """

    run_a: str
    run_b: str
    title: str = "Relation blindness"
    note: str | None = None
    metric: str = "clip_score"
    question: str = "alignment"

    def __post_init__(self) -> None:
        if self.run_a == self.run_b:
            raise ValueError(f"a paired view needs two different runs, got {self.run_a!r} twice")


@dataclass(frozen=True)
class PairedRow:
    """One category of a paired view (None where the input has no value).

    ``value_*``, ``low_*``, ``high_*``: the metric of run a / b and its stored 95% interval;
    ``diff``: mean over shared prompts of (a − b) per prompt (from metrics.json per_prompt) or,
    without per-prompt values, the difference of the category values; ``diff_low``/``diff_high``:
    paired bootstrap interval over prompts; ``preference``: (wins + ½ ties) / n for a over b with
    its prompt-bootstrap interval ``pref_low``/``pref_high`` from ``n_votes`` votes.
    """

    category: str
    value_a: float | None = None
    low_a: float | None = None
    high_a: float | None = None
    value_b: float | None = None
    low_b: float | None = None
    high_b: float | None = None
    diff: float | None = None
    diff_low: float | None = None
    diff_high: float | None = None
    preference: float | None = None
    pref_low: float | None = None
    pref_high: float | None = None
    n_votes: int = 0


def check_paired_views(views: Sequence[PairedView], runs: Sequence[RunSummary]) -> None:
    """Raise ReportError when a view names a run that is not in the report."""
    names = [r.name for r in runs]
    for view in views:
        for run in (view.run_a, view.run_b):
            if run not in names:
                raise ReportError(
                    f"paired view {view.title!r} names run {run!r}, which is not in the report; "
                    f"runs: {', '.join(names)}"
                )


def _metric_cells(entry: dict[str, Any] | None, category: str) -> tuple[Any, Any, Any]:
    if not entry:
        return None, None, None
    if category == stats.OVERALL:
        return entry.get("value"), entry.get("ci_low"), entry.get("ci_high")
    ci = (entry.get("per_category_ci") or {}).get(category) or (None, None)
    return (entry.get("per_category") or {}).get(category), ci[0], ci[1]


def _prompt_categories(*runs: RunSummary) -> dict[str, str]:
    found: dict[str, str] = {}
    for run in runs:
        for rec in run.records:
            found.setdefault(rec.prompt_id, rec.category)
    return found


def _difference(
    entry_a, entry_b, category: str, categories: dict[str, str], n_boot: int, rng
) -> tuple[Any, Any, Any]:
    """(a − b, paired-bootstrap low, high) for a category (or overall)."""
    per_a, per_b = (entry_a or {}).get("per_prompt") or {}, (entry_b or {}).get("per_prompt") or {}
    shared = [p for p in per_a if p in per_b]
    if category != stats.OVERALL:
        shared = [p for p in shared if categories.get(p) == category]
    if not shared:
        va, vb = _metric_cells(entry_a, category)[0], _metric_cells(entry_b, category)[0]
        return (None if va is None or vb is None else float(va) - float(vb)), None, None
    d = np.array([float(per_a[p]) - float(per_b[p]) for p in shared])
    if d.size < 2:
        return float(d.mean()), None, None
    boot = stats.bootstrap_prompt_means(d, np.arange(d.size), n_boot, rng)
    low, high = np.quantile(boot, [0.025, 0.975])
    return float(d.mean()), float(low), float(high)


def compute_paired_rows(
    view: PairedView,
    run_a: RunSummary,
    run_b: RunSummary,
    votes: Any = None,
    *,
    n_boot: int = stats.DEFAULT_BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> list[PairedRow]:
    """The rows of a paired view: "overall", then each category (runs' manifest order first).

    Preferences come from ``stats.preference_table`` on the votes comparing the two runs (either
    orientation) on ``view.question`` (all votes when there is no question column), oriented
    a over b; row k's difference interval uses ``numpy.random.default_rng([seed, k])``.
    """
    entry_a, entry_b = run_a.metrics.get(view.metric), run_b.metrics.get(view.metric)
    categories = _prompt_categories(run_a, run_b)
    prefs: dict[str, Any] = {}
    if votes is not None and len(votes):
        a_col, b_col = votes["model_a"].astype(str), votes["model_b"].astype(str)
        pair = ((a_col == view.run_a) & (b_col == view.run_b)) | (
            (a_col == view.run_b) & (b_col == view.run_a)
        )
        if "question" in votes.columns:
            pair &= votes["question"].astype(str) == view.question
        if pair.any():
            table = stats.preference_table(
                votes[pair], pairs=[(view.run_a, view.run_b)], n_boot=n_boot, seed=seed
            )
            prefs = {row.category: row for row in table.itertuples()}
    order = list(dict.fromkeys(categories.values()))
    for entry in (entry_a, entry_b):
        order += sorted(set((entry or {}).get("per_category") or {}) - set(order))
    order += sorted(set(prefs) - set(order) - {stats.OVERALL})
    rows = []
    for k, cat in enumerate([stats.OVERALL, *order]):
        diff = _difference(
            entry_a, entry_b, cat, categories, n_boot, np.random.default_rng([seed, k])
        )
        p = prefs.get(cat)
        rows.append(
            PairedRow(
                cat,
                *_metric_cells(entry_a, cat),
                *_metric_cells(entry_b, cat),
                *diff,
                None if p is None else float(p.preference),
                None if p is None else float(p.ci_low),
                None if p is None else float(p.ci_high),
                0 if p is None else int(p.n),
            )
        )
    return rows


def metric_title(view: PairedView, run_a: RunSummary, run_b: RunSummary) -> str:
    """The metric's name with the model it was computed with: "CLIP score (toyclip-vit)"."""
    runs = [r for r in (run_a, run_b) if view.metric in r.metrics]
    name = metric_label(runs, view.metric, METRIC_TITLES.get(view.metric, view.metric))
    models = list(dict.fromkeys(m for r in runs if (m := metric_model(r.metrics[view.metric]))))
    return f"{name} ({' / '.join(models)})" if models else name


def paired_view_blocks(
    view: PairedView,
    runs: Sequence[RunSummary],
    votes: Any,
    out: Path,
    *,
    index: int,
    source: str,
    labels: Sequence[str] = (),
    n_boot: int = stats.DEFAULT_BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> list[Block]:
    """The section of one paired view: heading, caption, plot and table (markdown and HTML).

    ``source`` says who cast the votes ("automatic judge: toyclip-coordconv", "human raters",
    "SIMULATED votes"); ``labels`` are stamped on the plot.
    """
    by_name = {r.name: r for r in runs}
    run_a, run_b = by_name[view.run_a], by_name[view.run_b]
    a, b = view.run_a, view.run_b
    title = metric_title(view, run_a, run_b)
    rows = compute_paired_rows(view, run_a, run_b, votes, n_boot=n_boot, seed=seed)
    models = [m for r in (run_a, run_b) if (m := metric_model(r.metrics.get(view.metric)))]
    note = view.note
    if note is None:
        model = " / ".join(dict.fromkeys(models)) or "not named in metrics.json"
        note = DEFAULT_NOTE.format(a=a, b=b, model=model, source=source)
    blocks = [Block("heading", view.title), Block("text", note)]
    if len(set(models)) > 1:
        blocks.append(
            Block(
                "warn",
                f"{a} and {b} were scored by different models ({', '.join(models)}): "
                "their difference compares unlike numbers.",
            )
        )
    blocks.append(
        Block(
            "text",
            f"Per category: {title} of {a} (X) and {b} (Y) from each run's metrics.json (95% "
            "interval as stored); their difference X − Y, the mean over shared prompts of the "
            f"per-prompt difference (95% interval: paired bootstrap over prompts, {n_boot} rounds, "
            f"seed {seed}); and the preference for X over Y = (wins + ½ ties) / n on the question "
            f"'{view.question}', votes by {source} (95% interval: bootstrap over prompts).",
        )
    )
    missing = [r for r in (a, b) if view.metric not in by_name[r].metrics]
    if missing:
        blocks.append(
            Block(
                "text",
                f"No {view.metric} in the metrics.json of {', '.join(missing)} "
                "(run `drawbench evaluate`).",
            )
        )
    if not any(r.n_votes for r in rows):
        blocks.append(
            Block(
                "text",
                f"No votes compare {a} and {b} on '{view.question}': the preference "
                "columns are empty.",
            )
        )
    if len(missing) < 2 or any(r.n_votes for r in rows):
        path = plots.plot_paired_view(
            rows, out / f"paired_{index}.png", run_a=a, run_b=b, metric_title=title,
            preference_title=f"votes by {source}", labels=labels,
        )  # fmt: skip
        blocks.append(Block("image", f"{view.title}: {a} vs {b}", path=path))
    header = ["category", f"{title}: {a}", "95% CI", f"{title}: {b}", "95% CI",
              f"difference {a} − {b}", "95% CI (paired)",
              f"preference for {a} over {b} ({source})", "95% CI", "votes"]  # fmt: skip
    body = [[r.category, fmt(r.value_a), fmt_ci(r.low_a, r.high_a), fmt(r.value_b),
             fmt_ci(r.low_b, r.high_b), fmt(r.diff, 3), fmt_ci(r.diff_low, r.diff_high, 3),
             fmt(r.preference, 3), fmt_ci(r.pref_low, r.pref_high, 3), r.n_votes]
            for r in rows]  # fmt: skip
    blocks.append(Block("table", header=header, rows=body))
    return blocks
