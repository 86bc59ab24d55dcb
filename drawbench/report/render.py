"""Write report.md and a self-contained report.html (plots embedded as base64 data URIs)."""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from drawbench import stats
from drawbench.report import plots
from drawbench.report.blocks import Block, fmt, fmt_ci
from drawbench.report.data import (
    FEATURE_METRICS,
    ReportError,
    RunSummary,
    load_runs,
    load_votes,
    metric_features,
    metric_label,
    metric_model,
    votes_are_simulated,
    votes_judge,
)
from drawbench.report.paired import PairedView, check_paired_views, paired_view_blocks

log = logging.getLogger(__name__)

#: Bootstrap rounds for the report's intervals (the project default).
REPORT_BOOTSTRAP_ROUNDS = stats.DEFAULT_BOOTSTRAP_ROUNDS
#: Thumbnails per run and category in the sample grids.
SAMPLES_PER_CATEGORY = 4
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #1f4e79}h2{color:#1f4e79;margin-top:1.8em}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.88em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#eef3f8}
.warn{background:#fde8ec;border-left:5px solid #b00020;color:#b00020;padding:0.6em 1em;font-weight:bold}
img{max-width:100%;border:1px solid #eee;margin:0.4em 0}code{background:#f4f4f4;padding:0 3px}
details pre{font-size:0.8em;background:#f7f7f7;padding:0.6em;overflow-x:auto}
"""


def _provenance_row(run: RunSummary, name: str, m: dict[str, Any]) -> list[Any]:
    prov, settings = m.get("provenance") or {}, m.get("settings") or {}
    version = prov.get("version") or next(
        (f"{k}={v}" for k, v in prov.items() if k.endswith("_version")), ""
    )
    mode = settings.get("mode") or settings.get("resize_mode") or prov.get("mode") or ""
    reference = prov.get("reference")  # evaluate writes {"path", "sha256", "provenance"}
    ref = reference.get("sha256", "") if isinstance(reference, dict) else ""
    seeds = ", ".join(str(s) for s in (run.info.get("seed"), prov.get("seed")) if s is not None)
    return [run.name, metric_label([run], name), fmt(m.get("value")), fmt_ci(m.get("ci_low"), m.get("ci_high")), m.get("n", ""),
            prov.get("implementation") or settings.get("implementation") or "", version, mode,
            str(ref)[:16], seeds, "RANDOM WEIGHTS" if prov.get("random_weights") else "",
            "; ".join(m.get("warnings") or [])]  # fmt: skip


def _metric_blocks(runs: Sequence[RunSummary], out: Path) -> list[Block]:
    names = sorted({n for r in runs for n in r.metrics})
    blocks = [Block("heading", "Leaderboard: metrics")]
    if not names:
        return [*blocks, Block("text", "No metrics.json in these runs (run `drawbench evaluate`).")]
    labels = {n: metric_label(runs, n) for n in names}
    arrows = {n: next(("↑" if r.metrics[n].get("higher_is_better") else "↓") for r in runs if n in r.metrics)
              for n in names}  # fmt: skip
    rows = [[r.name + (" (RANDOM WEIGHTS)" if r.random_weights else ""), fmt(r.guidance), len(r.records)]
            + [fmt(r.metrics[n]["value"]) + (" " + fmt_ci(r.metrics[n].get("ci_low"), r.metrics[n].get("ci_high"))
               if r.metrics[n].get("ci_low") is not None else "") if n in r.metrics else "" for n in names]
            for r in runs]  # fmt: skip
    blocks.append(
        Block(
            "table",
            header=["run", "guidance", "images", *[f"{labels[n]} {arrows[n]}" for n in names]],
            rows=rows,
        )
    )
    for n in (n for n in names if n in FEATURE_METRICS):
        if len(features := metric_features(runs, n)) > 1:
            blocks.append(Block("warn", f"{n} was computed on different features across runs "
                                f"({', '.join(features)}): its values are not comparable."))  # fmt: skip
    blocks.append(Block("heading", "Provenance of every metric", level=3))
    header = ["run", "metric", "value", "95% CI", "n", "implementation", "version", "mode",
              "reference hash", "seeds", "weights", "warnings"]  # fmt: skip
    blocks.append(
        Block(
            "table",
            header=header,
            rows=[_provenance_row(r, n, r.metrics[n]) for r in runs for n in sorted(r.metrics)],
        )
    )
    full = {r.name: {n: {"settings": m.get("settings"), "provenance": m.get("provenance")}
                     for n, m in r.metrics.items()} for r in runs}  # fmt: skip
    blocks.append(
        Block(
            "details",
            "full settings and provenance (JSON)",
            rows=[[json.dumps(full, indent=2, default=str)]],
        )
    )
    fid_label = metric_label(runs, "fid", "FID")
    clip_models = {
        metric_model(r.metrics.get("clip_score")) for r in runs if "clip_score" in r.metrics
    }
    clip_label = "CLIP score" + (
        f" ({next(iter(clip_models))})" if len(clip_models) == 1 and None not in clip_models else ""
    )
    fig = plots.plot_fid_vs_clip(
        runs, out / "fid_vs_clip.png", fid_label=fid_label, clip_label=clip_label
    )
    if fig:
        blocks += [
            Block("heading", f"{fid_label} vs {clip_label} (Imagen Figure 4 view)"),
            Block("image", f"{fid_label} vs {clip_label}", path=fig),
        ]
    for metric in ("clip_score",):
        fig = plots.plot_metric_by_category(runs, metric, out / f"{metric}_by_category.png")
        if fig:
            have = [r for r in runs if r.metrics.get(metric, {}).get("per_category")]
            cats = sorted({c for r in have for c in r.metrics[metric]["per_category"]})
            rows = [
                [c, *(fmt(r.metrics[metric]["per_category"].get(c)) for r in have)] for c in cats
            ]
            blocks += [
                Block("heading", f"{metric} per category"),
                Block("image", metric, path=fig),
                Block("table", header=["category", *(r.name for r in have)], rows=rows),
            ]
    return blocks


def _judge_banner(judge: str) -> str:
    """The banner of automatic-judge votes: who cast them, and that no human did."""
    return (f"{plots.JUDGE_TAG}: no human rated anything in this report; every vote comes from "
            f"{judge}, a model that compares each prompt's two image sets with its caption.")  # fmt: skip


def _vote_blocks(
    votes, simulated: bool, judge: str | None, out: Path, n_boot: int, seed: int
) -> list[Block]:
    heading = "Human preference (DrawBench)"
    if judge:
        heading = "Automatic-judge preference (DrawBench protocol, no human raters)"
    blocks = [Block("heading", heading)]
    if judge:
        blocks.append(Block("warn", _judge_banner(judge)))
    if simulated:
        blocks.append(
            Block(
                "warn",
                plots.SIMULATED_LABEL
                + " (seeded synthetic votes; they say nothing about the models)",
            )
        )
    table = stats.preference_table(votes, n_boot=n_boot, seed=seed)
    by = f" by {judge}" if judge else ""
    blocks.append(
        Block(
            "text",
            f"{len(votes)} votes{by}. Preference of A over B = (wins + ½ ties) / n; 95% intervals "
            f"by bootstrap over prompts ({n_boot} rounds, seed {seed}); gold items excluded.",
        )
    )
    for k, ((a, b), sub) in enumerate(table.groupby(["model_a", "model_b"], sort=False)):
        path = plots.plot_preference_by_category(
            sub, out / f"preference_{k}.png", title=f"{a} vs {b}", simulated=simulated, judge=judge
        )
        blocks += [
            Block("heading", f"{a} (A) vs {b} (B)", level=3),
            Block("image", f"preference {a} vs {b}", path=path),
        ]
        rows = [[r.question, r.category, fmt(r.preference, 3), fmt_ci(r.ci_low, r.ci_high), f"{r.win:.0%}",
                 f"{r.tie:.0%}", f"{r.loss:.0%}", r.n, r.n_prompts] for r in sub.itertuples()]  # fmt: skip
        blocks.append(
            Block(
                "table",
                header=[
                    "question",
                    "category",
                    "preference",
                    "95% CI",
                    "A",
                    "tie",
                    "B",
                    "n",
                    "prompts",
                ],
                rows=rows,
            )
        )
    quality = stats.rater_quality(votes)
    rows = [[q, fmt(a, 3)] for q, a in quality["agreement"].items()]
    blocks.append(Block("heading", "Rater agreement and position bias", level=3))
    if judge:  # one deterministic rater: agreement between raters does not exist
        blocks.append(
            Block("text", f"One automatic rater ({judge}): rater agreement does not apply.")
        )
    else:
        blocks.append(
            Block("table", header=["question", "Krippendorff's alpha (ordinal)"], rows=rows)
        )
    bias = quality["position_bias"]
    if bias is not None:
        blocks.append(
            Block(
                "text",
                f"Position bias: {bias.share_left:.1%} of decisive votes chose the left set "
                f"(95% CI {fmt_ci(bias.ci_low, bias.ci_high)}, binomial p = {bias.p_value:.3g}; 50% = none).",
            )
        )
    models = sorted(set(votes["model_a"].astype(str)) | set(votes["model_b"].astype(str)))
    if len(models) > 2:
        blocks.append(Block("heading", "Bradley-Terry leaderboard (Elo scale)"))
        questions = sorted(set(votes["question"])) if "question" in votes.columns else [None]
        for k, q in enumerate(questions):
            v = votes
            if "is_gold" in v.columns:
                v = v[~v["is_gold"].astype(str).str.lower().isin(["1", "true", "yes"])]
            v = v if q is None else v[v["question"] == q]
            scores = stats.winner_scores(v["model_a"], v["model_b"], v["winner"])
            rows = stats.compute_leaderboard(
                v["model_a"], v["model_b"], scores, v["prompt_id"], n_boot=n_boot, seed=seed
            )
            title = "Bradley-Terry ratings" + (f": {q}" if q else "")
            path = plots.plot_leaderboard(
                rows, out / f"bradley_terry_{k}.png", title=title, simulated=simulated, judge=judge
            )
            blocks += [Block("heading", title, level=3), Block("image", title, path=path),
                       Block("table", header=["rank", "model", "rating", "95% CI", "n"],
                             rows=[[r.rank, r.model, f"{r.rating:.1f}", fmt_ci(round(r.ci_low, 1), round(r.ci_high, 1)), r.n] for r in rows])]  # fmt: skip
    return blocks


def _sample_blocks(runs: Sequence[RunSummary], out: Path, per_run: int) -> list[Block]:
    cats = list(dict.fromkeys(rec.category for r in runs for rec in r.records))
    blocks = [Block("heading", "Samples per category")]
    for k, cat in enumerate(cats):
        path = plots.sample_grid(runs, cat, out / f"samples_{k:02d}.png", per_run=per_run)
        if path:
            blocks += [
                Block("heading", cat or "(no category)", level=3),
                Block("image", f"samples {cat}", path=path),
            ]
    return blocks


def write_report(
    run_dirs: Sequence[str | Path], out_dir: str | Path, *, votes: Any = None, title: str = "drawbench report",
    notes: Sequence[str] = (), extra_blocks: Sequence[Block] = (),
    votes_simulated: bool | None = None, n_boot: int = REPORT_BOOTSTRAP_ROUNDS,
    seed: int = 0, samples_per_category: int = SAMPLES_PER_CATEGORY, votes_source: str | None = None,
    paired_views: Sequence[PairedView] = (),
) -> Path:  # fmt: skip
    """Write ``report.md``, ``report.html`` and the PNG plots into ``out_dir``.

    Args:
        run_dirs: run directories (run.json, manifest, optional metrics.json).
        votes: None, a pandas DataFrame or a CSV path with the study-export columns.
        title: report title; notes: lines shown under it (e.g. "tiny random-weight models").
        extra_blocks: caller-made blocks (headings, text, tables) placed right after the notes.
        votes_simulated: label the votes as simulated; None detects it (``simulated`` column or a
            study name starting with "simulated").
        votes_source: the automatic judge that cast the votes, e.g. "automatic judge:
            toyclip-coordconv"; every preference is then labelled as coming from it (a banner, the
            section heading, the plots), not from human raters. None detects it from the votes'
            ``judge`` column (``evaluators.toyclip_judge.judge_votes`` writes it).
        paired_views: sections putting a metric and the preference side by side per category for
            two named runs (``drawbench.report.paired.PairedView``, e.g. relation blindness);
            none by default.
        n_boot, seed: bootstrap rounds and seed of every interval.
        samples_per_category: thumbnails per run in each category's sample grid.

    Returns:
        Path of report.html (report.md is beside it).
    """
    runs = load_runs(run_dirs)
    check_paired_views(paired_views, runs)
    vote_df = None if votes is None else load_votes(votes)
    judge = votes_source if votes_source is not None else votes_judge(vote_df)
    simulated = votes_are_simulated(vote_df) if votes_simulated is None else votes_simulated
    if judge and simulated:
        raise ReportError(
            f"votes labelled both simulated and cast by {judge}; pass votes_simulated=False for "
            "automatic-judge votes, or drop the judge column from simulated ones"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blocks = [Block("heading", title, level=1),
              Block("text", f"{len(runs)} run(s): {', '.join(r.label for r in runs)}. Generated "
                    f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.")]  # fmt: skip
    blocks += [Block("text", n) for n in notes]
    blocks += list(extra_blocks)
    random_runs = [r.name for r in runs if r.random_weights]
    if random_runs:
        blocks.append(
            Block(
                "warn",
                f"{plots.RANDOM_LABEL}: {', '.join(random_runs)} use untrained (random-weight) models.",
            )
        )
    if simulated:
        blocks.append(Block("warn", plots.SIMULATED_LABEL + "."))
    has_votes = vote_df is not None and len(vote_df) > 0
    if judge and has_votes:
        blocks.append(Block("warn", _judge_banner(judge)))
    blocks += _metric_blocks(runs, out)
    if has_votes:
        blocks += _vote_blocks(vote_df, simulated, judge, out, n_boot, seed)
    source = judge or ("SIMULATED votes" if simulated else "human raters")
    for k, view in enumerate(paired_views):
        blocks += paired_view_blocks(
            view, runs, vote_df, out, index=k, source=source,
            labels=plots.vote_labels(simulated, judge), n_boot=n_boot, seed=seed,
        )  # fmt: skip
    blocks += _sample_blocks(runs, out, samples_per_category)
    (out / "report.md").write_text(render_markdown(blocks, out), encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(render_html(blocks, title), encoding="utf-8")
    log.info("report written to %s", html_path)
    return html_path


def render_markdown(blocks: Sequence[Block], out: Path) -> str:
    lines: list[str] = []
    for b in blocks:
        if b.kind == "heading":
            lines += ["#" * b.level + " " + b.text, ""]
        elif b.kind == "text":
            lines += [b.text, ""]
        elif b.kind == "warn":
            lines += [f"> **⚠ {b.text}**", ""]
        elif b.kind == "image":
            lines += [f"![{b.text}]({b.path.relative_to(out).as_posix()})", ""]
        elif b.kind == "table":
            cell = [[fmt(c).replace("|", "\\|") for c in row] for row in b.rows]
            lines += ["| " + " | ".join(b.header) + " |", "|" + "---|" * len(b.header)]
            lines += ["| " + " | ".join(r) + " |" for r in cell] + [""]
        elif b.kind == "details":
            lines += [
                f"<details><summary>{b.text}</summary>",
                "",
                "```json",
                b.rows[0][0],
                "```",
                "</details>",
                "",
            ]
    return "\n".join(lines)


def render_html(blocks: Sequence[Block], title: str) -> str:
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
             f"<style>{CSS}</style></head><body>"]  # fmt: skip
    for b in blocks:
        text = html.escape(b.text)
        if b.kind == "heading":
            parts.append(f"<h{b.level}>{text}</h{b.level}>")
        elif b.kind == "text":
            parts.append(f"<p>{text}</p>")
        elif b.kind == "warn":
            parts.append(f'<p class="warn">⚠ {text}</p>')
        elif b.kind == "image":
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            parts.append(f'<img alt="{text}" src="data:image/png;base64,{data}">')
        elif b.kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(fmt(c))}</td>" for c in r) + "</tr>"
                for r in b.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif b.kind == "details":
            parts.append(
                f"<details><summary>{text}</summary><pre>{html.escape(b.rows[0][0])}</pre></details>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)
