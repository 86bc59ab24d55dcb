"""Reports with automatic-judge votes and the paired ("relation blindness") view.

Two toy-world runs, "trained" and "swapped-relations", with hand-written metrics.json (CLIP score
by a relation-blind model, FID on toy CLIP features) and votes in the judge's format: the judge
prefers "trained" on every Positional prompt and ties on Colors, while the CLIP score barely moves.
"""

from __future__ import annotations

import pandas as pd
import pytest

from drawbench import stats
from drawbench.prompts import select_prompts
from drawbench.report import simulate_votes, write_report
from drawbench.report.data import VOTE_COLUMNS, ReportError, load_runs, votes_judge
from drawbench.report.paired import PairedView, compute_paired_rows
from drawbench.runs import RunDirectory
from drawbench.toyworld import parse_caption
from drawbench.toyworld_corrupt import flip_relation
from drawbench.toyworld_render import render_scene
from evaluators.base import MetricResult

COLORS = ["toyworld-000", "toyworld-001"]
POSITIONAL = ["toyworld-018", "toyworld-019", "toyworld-031"]
IDS = COLORS + POSITIONAL
JUDGE = "automatic judge: toyclip-coordconv"
#: Per-prompt CLIP scores: Positional drops by 0.5 for the swapped run, Colors not at all.
CLIP = {
    "trained": {"toyworld-000": 90.0, "toyworld-001": 91.0, "toyworld-018": 88.0,
                "toyworld-019": 89.0, "toyworld-031": 87.0},
    "swapped-relations": {"toyworld-000": 90.0, "toyworld-001": 91.0, "toyworld-018": 87.0,
                          "toyworld-019": 88.5, "toyworld-031": 87.0},
}  # fmt: skip


def _make_run(root, name):
    prompts = select_prompts("toyworld", ids=IDS)
    info = {
        "generator": {"name": "toy-cascade", "options": {"swap_relations": name != "trained"}},
        "prompt_set": {**prompts.describe(), "selection": {"spec": "toyworld", "ids": IDS}},
        "images_per_prompt": 1,
        "seed": 0,
    }
    run = RunDirectory.create(root / name, info)
    for p in prompts:
        scene = parse_caption(p.text)
        if name != "trained" and scene.relation is not None:
            scene = flip_relation(scene)
        run.write_image(p.id, p.category, 0, 0, render_scene(scene, seed=3), 0.0)
    per_prompt = CLIP[name]
    cats = {"Colors": COLORS, "Positional": POSITIONAL}
    per_cat = {c: sum(per_prompt[i] for i in ids) / len(ids) for c, ids in cats.items()}
    clip = MetricResult(
        "clip_score", sum(per_prompt.values()) / len(per_prompt), True, len(IDS), 86.0, 92.0,
        "bootstrap", per_prompt=per_prompt, per_category=per_cat,
        per_category_ci={c: [v - 1.0, v + 1.0] for c, v in per_cat.items()},
        settings={"model": "toyclip-vit", "pretrained": None},
        provenance={"implementation": "toyclip", "random_weights": False},
    )  # fmt: skip
    fid = MetricResult(
        "fid", 12.0 if name == "trained" else 12.5, False, len(IDS),
        settings={"features": "toyclip-vit", "mode": "toyclip"},
        provenance={"implementation": "drawbench"},
    )  # fmt: skip
    run.write_metrics(
        {"run": info, "metrics": {"clip_score": clip.to_dict(), "fid": fid.to_dict()}}
    )
    return run.path


def judge_format_votes(a="trained", b="swapped-relations"):
    """One vote per prompt as ``judge_votes`` writes them: "trained" wins Positional, Colors tie."""
    rows = []
    for k, pid in enumerate(IDS):
        category = "Colors" if pid in COLORS else "Positional"
        winner = "tie" if category == "Colors" else "trained"
        left, right = (a, b) if k % 2 else (b, a)
        choice = "tie" if winner == "tie" else ("left" if winner == left else "right")
        rows.append({
            "study": "judge-toyclip-coordconv", "item_id": f"judge-{k:05d}", "prompt_id": pid,
            "category": category, "question": "alignment", "rater": "judge:toyclip-coordconv",
            "run_left": left, "run_right": right, "choice": choice, "model_a": a, "model_b": b,
            "winner": winner, "is_gold": False, "created_at": "", "judge": JUDGE,
            "simulated": False,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=[*VOTE_COLUMNS, "judge", "simulated"])


@pytest.fixture(scope="module")
def run_paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("paired-runs")
    return [_make_run(root, "trained"), _make_run(root, "swapped-relations")]


VIEW = PairedView(run_a="trained", run_b="swapped-relations")


@pytest.fixture(scope="module")
def report(run_paths, tmp_path_factory):
    out = tmp_path_factory.mktemp("paired-report")
    votes_csv = out.parent / "judge-votes.csv"  # through a CSV, as `drawbench report --votes` reads
    judge_format_votes().to_csv(votes_csv, index=False)
    write_report(run_paths, out, votes=votes_csv, paired_views=[VIEW], n_boot=200)
    return out, (out / "report.md").read_text(), (out / "report.html").read_text()


def _section_rows(md: str, heading: str) -> dict[str, list[str]]:
    """First cell -> cells of the first table after ``## heading`` in report.md."""
    lines = md.split(f"## {heading}\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| category"))
    header = [c.strip() for c in lines[start].strip("|").split(" | ")]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        rows[cells[0]] = cells
    rows["header"] = header
    return rows


def test_paired_view_section_has_per_category_rows(report):
    out, md, page = report
    rows = _section_rows(md, "Relation blindness")
    header = rows.pop("header")
    assert header[1] == "CLIP score (toyclip-vit): trained"
    assert header[7] == f"preference for trained over swapped-relations ({JUDGE})"
    assert list(rows) == ["overall", "Colors", "Positional"]
    # category, X, CI, Y, CI, difference, CI, preference, CI, votes
    positional = rows["Positional"]
    assert positional[1:6] == ["88", "[87, 89]", "87.5", "[86.5, 88.5]", "0.5"]
    assert positional[6].startswith("[") and positional[7:] == ["1", "[1, 1]", "3"]
    assert rows["Colors"][5:] == ["0", "[0, 0]", "0.5", "[0.5, 0.5]", "2"]
    assert rows["overall"][7] == "0.8" and rows["overall"][9] == "5"
    assert "relation-blind" in md and "(toyclip-vit)" in md
    assert "<h2>Relation blindness</h2>" in page and "relation-blind" in page
    assert (out / "paired_0.png").stat().st_size > 2000


def test_judge_votes_are_labelled_as_the_judge_not_human_or_simulated(report):
    _, md, page = report
    assert "SIMULATED" not in md and "SIMULATED" not in page
    assert "Human preference" not in md
    assert "## Automatic-judge preference (DrawBench protocol, no human raters)" in md
    assert f"AUTOMATIC JUDGE VOTES: no human rated anything in this report; every vote comes from {JUDGE}" in md  # fmt: skip
    assert page.count('class="warn"') >= 2  # the top banner and the preference section's
    assert "5 votes by automatic judge: toyclip-coordconv" in md
    assert "rater agreement does not apply" in md and "Krippendorff" not in md


def test_fid_on_toy_clip_features_is_labelled(report):
    _, md, _ = report
    assert "fid (toyclip-vit features) ↓" in md
    assert "## FID (toyclip-vit features) vs CLIP score (toyclip-vit) (Imagen Figure 4 view)" in md


def test_no_paired_section_without_a_paired_view(run_paths, tmp_path):
    write_report(run_paths, tmp_path / "plain", votes=judge_format_votes(), n_boot=50)
    md = (tmp_path / "plain" / "report.md").read_text()
    assert "Relation blindness" not in md and "relation-blind" not in md
    assert not list((tmp_path / "plain").glob("paired_*.png"))
    assert "AUTOMATIC JUDGE VOTES" in md  # detected from the judge column alone


def test_paired_view_with_simulated_votes_names_them(run_paths, tmp_path):
    prompts = select_prompts("toyworld", ids=IDS)
    votes = simulate_votes(["trained", "swapped-relations"], list(prompts), raters=1, seed=1)
    write_report(run_paths, tmp_path / "sim", votes=votes, paired_views=[VIEW], n_boot=50)
    md = (tmp_path / "sim" / "report.md").read_text()
    header = _section_rows(md, "Relation blindness")["header"]
    assert header[7] == "preference for trained over swapped-relations (SIMULATED votes)"
    assert "AUTOMATIC JUDGE" not in md


def test_compute_paired_rows_orients_votes_and_pairs_prompts(run_paths):
    trained, swapped = load_runs(run_paths)
    votes = judge_format_votes(a="swapped-relations", b="trained")  # stored the other way round
    rows = {r.category: r for r in compute_paired_rows(VIEW, trained, swapped, votes, n_boot=100)}
    assert rows["Positional"].preference == 1.0 and rows["Positional"].n_votes == 3
    assert rows["Colors"].preference == 0.5
    # the difference is the mean per-prompt difference, with a paired bootstrap interval
    assert rows["Positional"].diff == pytest.approx(0.5)
    assert 0.0 <= rows["Positional"].diff_low <= 0.5 <= rows["Positional"].diff_high <= 1.0
    assert rows["Colors"].diff == 0.0 and rows["Colors"].diff_high == 0.0
    # no votes: metric columns only
    bare = {r.category: r for r in compute_paired_rows(VIEW, trained, swapped, None)}
    assert bare["Positional"].preference is None and bare["Positional"].value_b == 87.5


def test_errors_before_anything_is_written(run_paths, tmp_path):
    bad = PairedView(run_a="trained", run_b="nope")
    with pytest.raises(ReportError, match=r"names run 'nope'.*runs: trained, swapped-relations"):
        write_report(run_paths, tmp_path / "bad", paired_views=[bad])
    assert not (tmp_path / "bad" / "report.md").exists()
    with pytest.raises(ValueError, match="two different runs"):
        PairedView(run_a="trained", run_b="trained")
    mixed = pd.concat([judge_format_votes(), judge_format_votes().assign(judge="")])
    with pytest.raises(ReportError, match=r"5 vote.*automatic judge and 5 do not"):
        votes_judge(mixed)
    with pytest.raises(ReportError, match="both simulated and cast by"):
        write_report(run_paths, tmp_path / "both", votes=judge_format_votes(), votes_simulated=True)


def test_preference_of_judge_votes_matches_stats(run_paths):
    table = stats.preference_table(judge_format_votes(), n_boot=50)
    overall = table[table["category"] == "overall"].iloc[0]
    assert overall.preference == pytest.approx((3 + 0.5 * 2) / 5)
