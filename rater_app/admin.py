"""The admin view: progress per rater and item, gold accuracy, live preference with intervals.

``admin_data`` is plain Python over the export rows; ``render_admin`` turns it into one HTML page.
Preference of model_a over model_b = (wins + ½ ties) / n on non-gold votes, per question, with a
Wilson score interval on the pooled ratings (:func:`wilson_interval`), and, when
``drawbench.stats.compute_preference`` is available, its interval (bootstrap over prompts and
raters) as well.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from statistics import NormalDist

from sqlalchemy import func, select

from rater_app.export import iter_vote_rows
from rater_app.manage import require_study, study_status
from rater_app.storage import Assignment, Database, Item, Rater

#: Confidence of every interval on the admin page.
CONFIDENCE = 0.95


def wilson_interval(
    successes: float, n: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Wilson score interval for a proportion p = successes / n (ties counted as ½ successes).

    centre = (p + z²/2n) / (1 + z²/n), half-width = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n), with z
    the two-sided normal quantile of ``confidence``. n = 0 gives (0, 1).
    """
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _stats_preference(scores, prompt_ids, rater_ids):
    try:
        from drawbench.stats import compute_preference
    except ImportError:
        return None
    result = compute_preference(scores, prompt_ids, rater_ids, confidence=CONFIDENCE, seed=0)
    return {
        "preference": result.preference,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "method": result.method,
    }


def summarize_preference(rows: list[dict]) -> list[dict]:
    """Per (model_a, model_b, question): n, win/tie/loss shares, preference and intervals."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if not r["is_gold"] and r["score_a"] != "":
            groups[(r["model_a"], r["model_b"], r["question"])].append(r)
    out = []
    for (a, b, q), rs in sorted(groups.items()):
        scale = 100.0 if rs[0]["protocol"] == "coco-alignment" else 1.0
        scores = [float(r["score_a"]) / scale for r in rs]
        n = len(scores)
        low, high = wilson_interval(sum(scores), n)
        entry = {
            "model_a": a,
            "model_b": b,
            "question": q,
            "n": n,
            "win": sum(s == 1 for s in scores) / n,
            "tie": sum(s == 0.5 for s in scores) / n,
            "loss": sum(s == 0 for s in scores) / n,
            "preference": sum(scores) / n,
            "wilson_low": low,
            "wilson_high": high,
        }
        boot = (
            _stats_preference(scores, [r["prompt_id"] for r in rs], [r["rater"] for r in rs])
            if n > 1
            else None
        )
        if boot:
            entry["stats"] = boot
        out.append(entry)
    return out


def admin_data(db: Database, study_name: str) -> dict:
    """Everything the admin page shows, as JSON-ready data."""
    rows = list(iter_vote_rows(db, study_name))
    with db.session() as s:
        study = require_study(s, study_name)
        done = func.count(Assignment.completed_at)
        per_rater = s.execute(
            select(Rater.name, Rater.quota, Rater.daily_cap, done)
            .outerjoin(Assignment, Assignment.rater_id == Rater.id)
            .where(Rater.study_id == study.id)
            .group_by(Rater.id)
            .order_by(Rater.name)
        ).all()
        per_item = s.execute(
            select(Item.key, Item.is_gold, done)
            .outerjoin(Assignment, Assignment.item_id == Item.id)
            .where(Item.study_id == study.id)
            .group_by(Item.id)
            .order_by(Item.id)
        ).all()
        k = study.ratings_per_item
    gold: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        if r["gold_correct"] != "":
            gold[r["rater"]].append(int(r["gold_correct"]))
    raters = [
        {
            "rater": name,
            "done": n,
            "quota": quota,
            "daily_cap": cap,
            "gold_answered": len(gold[name]),
            "gold_accuracy": (sum(gold[name]) / len(gold[name])) if gold[name] else None,
        }
        for name, quota, cap, n in per_rater
    ]
    items = [{"item": key, "is_gold": bool(g), "ratings": n} for key, g, n in per_item]
    histogram = defaultdict(int)
    for it in items:
        histogram[min(it["ratings"], k)] += 1
    return {
        "status": study_status(db, study_name),
        "raters": raters,
        "items": items,
        "items_by_ratings": {
            f"{n}{'+' if n == k else ''}": c for n, c in sorted(histogram.items())
        },
        "preference": summarize_preference(rows),
        "confidence": CONFIDENCE,
    }


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render_admin(data: dict) -> str:
    """One self-contained HTML page (no scripts) from :func:`admin_data`."""
    st = data["status"]
    pct = round(100 * data["confidence"])
    pref_rows = []
    for p in data["preference"]:
        boot = p.get("stats")
        pref_rows.append(
            [
                p["model_a"],
                p["model_b"] or "–",
                p["question"],
                p["n"],
                p["win"],
                p["tie"],
                p["loss"],
                p["preference"],
                f"[{p['wilson_low']:.3f}, {p['wilson_high']:.3f}]",
                f"[{boot['ci_low']:.3f}, {boot['ci_high']:.3f}] ({boot['method']})"
                if boot
                else "–",
            ]
        )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Study admin</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;margin:1rem 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}</style></head><body>",
        f"<h1>Study {html.escape(st['study'])} ({html.escape(st['protocol'])})</h1>",
        f"<p>{st['items']} items ({st['gold_items']} gold), K = {st['ratings_per_item']}; "
        f"{st['items_at_k']} items at K; {st['completed_presentations']} of {st['presentations_needed']} "
        f"presentations done; {st['votes']} votes; {st['raters']} raters.</p>",
        f"<h2>Preference (non-gold votes, {pct}% intervals)</h2>",
        _table(
            [
                "model A",
                "model B",
                "question",
                "n",
                "win",
                "tie",
                "loss",
                "preference A",
                "Wilson",
                "bootstrap",
            ],
            pref_rows,
        ),
        "<h2>Raters</h2>",
        _table(
            ["rater", "done", "quota", "daily cap", "gold answered", "gold accuracy"],
            [
                [
                    r["rater"],
                    r["done"],
                    r["quota"],
                    r["daily_cap"],
                    r["gold_answered"],
                    r["gold_accuracy"],
                ]
                for r in data["raters"]
            ],
        ),
        "<h2>Items</h2>",
        _table(
            ["completed ratings", "items"], [[k, v] for k, v in data["items_by_ratings"].items()]
        ),
        _table(
            ["item", "gold", "completed ratings"],
            [[i["item"], "yes" if i["is_gold"] else "", i["ratings"]] for i in data["items"]],
        ),
        "</body></html>",
    ]
    return "".join(parts)
