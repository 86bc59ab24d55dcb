"""Report plots (matplotlib's object API with the Agg canvas; no pyplot state) and sample grids."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drawbench.report.data import RunSummary

#: Figure resolution; 110 dpi keeps PNGs small enough to embed in report.html.
DPI = 110
RANDOM_LABEL = "RANDOM WEIGHTS: numbers are meaningless"
SIMULATED_LABEL = "SIMULATED VOTES: not human ratings"
JUDGE_TAG = "AUTOMATIC JUDGE VOTES"
JUDGE_LABEL = f"{JUDGE_TAG}: not human ratings"


def vote_labels(simulated: bool = False, judge: str | None = None) -> list[str]:
    """Warning labels for plots of votes: simulated, or cast by the automatic ``judge``."""
    labels = [SIMULATED_LABEL] if simulated else []
    if judge:
        labels.append(f"{JUDGE_LABEL}\nvotes by {judge}")
    return labels


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _stamp(fig, labels: Sequence[str]) -> None:
    """Write warning labels in bold red as the figure's super-title (constrained layout places it);
    one line per label."""
    if labels:
        fig.suptitle("\n".join(labels), color="#b00020", fontsize=9, fontweight="bold")


def _save(fig, path: Path) -> Path:
    fig.savefig(path, format="png")
    return path


def plot_preference_by_category(
    table, path: Path, *, title: str, simulated: bool = False, judge: str | None = None
) -> Path:
    """Imagen Figure 3 view: preference of A over B per category with intervals, one panel per
    question. ``table``: rows of ``drawbench.stats.preference_table`` for one (A, B) pair;
    ``judge``: the automatic judge that cast the votes (stamped on the figure), if any."""
    questions = list(dict.fromkeys(table["question"]))
    cats = list(dict.fromkeys(table["category"]))
    fig = _figure(4.2 * len(questions) + 1.5, 0.34 * len(cats) + 1.6)
    axes = fig.subplots(1, len(questions), sharey=True, squeeze=False)[0]
    for ax, q in zip(axes, questions, strict=True):
        sub = table[table["question"] == q].set_index("category").reindex(cats)
        y = range(len(cats))
        err = [sub["preference"] - sub["ci_low"], sub["ci_high"] - sub["preference"]]
        colors = ["#1f4e79" if c == "overall" else "#4a90c2" for c in cats]
        ax.barh(list(y), sub["preference"] - 0.5, left=0.5, color=colors, alpha=0.8)
        ax.errorbar(
            sub["preference"], list(y), xerr=err, fmt="none", ecolor="black", capsize=2, lw=1
        )
        ax.axvline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_xlim(0, 1)
        ax.set_title(f"{title}: {q}", fontsize=10)
        ax.set_xlabel(f"preference for {table['model_a'].iloc[0]} (95% interval)")
        ax.set_yticks(list(y), cats)
        ax.invert_yaxis()
    _stamp(fig, vote_labels(simulated, judge))
    return _save(fig, path)


def plot_fid_vs_clip(
    runs: Sequence[RunSummary],
    path: Path,
    *,
    fid_label: str = "FID",
    clip_label: str = "CLIP score",
) -> Path | None:
    """Imagen Figure 4 view: FID against CLIP score, one point per run, joined in guidance order.

    ``fid_label`` / ``clip_label`` name the axes (e.g. "FID (toyclip-vit features)")."""
    pts = [(r, r.metrics["clip_score"]["value"], r.metrics["fid"]["value"]) for r in runs
           if "clip_score" in r.metrics and "fid" in r.metrics]  # fmt: skip
    if not pts:
        return None
    fig = _figure(5.5, 4.2)
    ax = fig.subplots()
    guided = sorted((p for p in pts if p[0].guidance is not None), key=lambda p: p[0].guidance)
    if len(guided) > 1:
        ax.plot([p[1] for p in guided], [p[2] for p in guided], "-", color="#999999", lw=1)
    for run, clip, fid in pts:
        ax.plot(clip, fid, "o", color="#b00020" if run.random_weights else "#1f4e79")
        ax.annotate(run.label, (clip, fid), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(f"{clip_label} (higher is better)")
    ax.set_ylabel(f"{fid_label} (lower is better)")
    ax.set_title(f"{fid_label} vs {clip_label} across runs", fontsize=10)
    _stamp(fig, [RANDOM_LABEL] if any(p[0].random_weights for p in pts) else [])
    return _save(fig, path)


def plot_metric_by_category(runs: Sequence[RunSummary], metric: str, path: Path) -> Path | None:
    """Grouped bars of a metric's per-category values (with per_category_ci when present)."""
    have = [r for r in runs if r.metrics.get(metric, {}).get("per_category")]
    if not have:
        return None
    cats = sorted({c for r in have for c in r.metrics[metric]["per_category"]})
    fig = _figure(max(6.0, 0.7 * len(cats) + 2), 4.0)
    ax = fig.subplots()
    width = 0.8 / len(have)
    for i, run in enumerate(have):
        m = run.metrics[metric]
        vals = [m["per_category"].get(c, float("nan")) for c in cats]
        ci = m.get("per_category_ci") or {}
        lo = [v - ci[c][0] if c in ci else 0 for c, v in zip(cats, vals, strict=True)]
        hi = [ci[c][1] - v if c in ci else 0 for c, v in zip(cats, vals, strict=True)]
        xs = [j + (i - (len(have) - 1) / 2) * width for j in range(len(cats))]
        ax.bar(xs, vals, width, label=run.label, yerr=[lo, hi], capsize=2)
    ax.set_xticks(range(len(cats)), cats, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per category")
    ax.legend(fontsize=8)
    _stamp(fig, [RANDOM_LABEL] if any(r.random_weights for r in have) else [])
    return _save(fig, path)


def plot_leaderboard(
    rows: Sequence[Any],
    path: Path,
    *,
    title: str,
    simulated: bool = False,
    judge: str | None = None,
) -> Path:
    """Bradley-Terry ratings with their intervals (rows: drawbench.stats.LeaderboardRow)."""
    fig = _figure(5.5, 0.4 * len(rows) + 1.4)
    ax = fig.subplots()
    ys = range(len(rows))
    ax.errorbar([r.rating for r in rows], list(ys), xerr=[[r.rating - r.ci_low for r in rows],
                [r.ci_high - r.rating for r in rows]], fmt="o", color="#1f4e79", capsize=3)  # fmt: skip
    ax.set_yticks(list(ys), [f"#{r.rank} {r.model}" for r in rows])
    ax.invert_yaxis()
    ax.axvline(1000, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("Bradley-Terry rating (Elo scale, 95% interval)")
    ax.set_title(title, fontsize=10)
    _stamp(fig, vote_labels(simulated, judge))
    return _save(fig, path)


def sample_grid(runs: Sequence[RunSummary], category: str, path: Path, *, per_run: int = 4,
                thumb: int = 96) -> Path | None:  # fmt: skip
    """A PIL grid: one row per run, the first sample of up to ``per_run`` prompts of
    ``category`` (the same prompts in every row), labelled with the run name."""
    from PIL import Image, ImageDraw

    prompt_ids: list[str] = []
    for run in runs:
        for rec in run.records:
            if (
                rec.category == category
                and rec.prompt_id not in prompt_ids
                and len(prompt_ids) < per_run
            ):
                prompt_ids.append(rec.prompt_id)
    if not prompt_ids:
        return None
    label_w, pad = 150, 4
    grid = Image.new(
        "RGB", (label_w + len(prompt_ids) * (thumb + pad), len(runs) * (thumb + pad)), "white"
    )
    draw = ImageDraw.Draw(grid)
    for i, run in enumerate(runs):
        first = {}
        for rec in sorted(run.records, key=lambda r: r.sample):
            first.setdefault(rec.prompt_id, rec)
        y = i * (thumb + pad)
        label = run.name + (" [random weights]" if run.random_weights else "")
        draw.text(
            (4, y + thumb // 2 - 6), label[:24], fill="#b00020" if run.random_weights else "black"
        )
        for j, pid in enumerate(prompt_ids):
            x = label_w + j * (thumb + pad)
            rec = first.get(pid)
            if rec is None or not (run.path / rec.path).is_file():
                draw.rectangle([x, y, x + thumb, y + thumb], outline="#cccccc")
                draw.text((x + 8, y + thumb // 2 - 6), "missing", fill="#999999")
                continue
            with Image.open(run.path / rec.path) as im:
                grid.paste(im.convert("RGB").resize((thumb, thumb)), (x, y))
    grid.save(path, format="PNG")
    return path


def _interval_errors(values, lows, highs) -> list[list[float]]:
    """matplotlib ``xerr`` from values and interval ends (0 where an end is missing)."""
    return [[v - lo if lo is not None else 0.0 for v, lo in zip(values, lows, strict=True)],
            [hi - v if hi is not None else 0.0 for v, hi in zip(values, highs, strict=True)]]  # fmt: skip


def plot_paired_view(
    rows: Sequence[Any],
    path: Path,
    *,
    run_a: str,
    run_b: str,
    metric_title: str,
    preference_title: str,
    labels: Sequence[str] = (),
) -> Path:
    """Two panels per category: the metric of ``run_a`` and ``run_b`` (points with their
    intervals, on a zoomed axis so small differences show), and the preference for ``run_a`` over
    ``run_b`` with its interval (rows: ``drawbench.report.paired.PairedRow``)."""
    nan = float("nan")
    cats = [r.category for r in rows]
    fig = _figure(10.0, 0.45 * len(cats) + 1.9)
    left, right = fig.subplots(1, 2, sharey=True)
    y = list(range(len(cats)))
    for off, run, key, style in ((-0.15, run_a, "a", "o"), (0.15, run_b, "b", "s")):
        vals = [
            nan if getattr(r, f"value_{key}") is None else getattr(r, f"value_{key}") for r in rows
        ]
        err = _interval_errors(vals, [getattr(r, f"low_{key}") for r in rows],
                               [getattr(r, f"high_{key}") for r in rows])  # fmt: skip
        left.errorbar(vals, [v + off for v in y], xerr=err, fmt=style, capsize=2, label=run)
    left.set_yticks(y, cats)
    left.invert_yaxis()
    left.set_xlabel(metric_title)
    left.set_title(f"{metric_title} per category (95% interval)", fontsize=10)
    left.legend(fontsize=8)
    pref = [nan if r.preference is None else r.preference for r in rows]
    err = _interval_errors(pref, [r.pref_low for r in rows], [r.pref_high for r in rows])
    right.barh(y, [p - 0.5 for p in pref], left=0.5, color="#4a90c2", alpha=0.8)
    right.errorbar(pref, y, xerr=err, fmt="none", ecolor="black", capsize=2, lw=1)
    right.axvline(0.5, color="grey", lw=0.8, ls="--")
    right.set_xlim(0, 1)
    right.set_xlabel(f"preference for {run_a} over {run_b} (95% interval)")
    right.set_title(preference_title, fontsize=10)
    _stamp(fig, labels)
    return _save(fig, path)
