"""drawbench.report: data gathering, plots, report.md / report.html, `drawbench report`."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from PIL import Image

from drawbench.cli import main
from drawbench.prompts import load_prompt_set
from drawbench.report import simulate_votes, write_report
from drawbench.runs import RunDirectory
from evaluators.base import MetricResult

GUIDANCE = {"tiny-g1": 1.0, "tiny-g3": 3.0, "tiny-g7": 7.5}


def _prompts(per_category=2):
    chosen, count = [], {}
    for p in load_prompt_set("drawbench"):
        if count.get(p.category, 0) < per_category:
            chosen.append(p)
            count[p.category] = count.get(p.category, 0) + 1
    return chosen


def _make_run(root, name, guidance, prompts, random_weights=False):
    info = {
        "generator": {"name": "tiny", "options": {"guidance_scale": guidance}},
        "prompt_set": {"name": "drawbench", "sha256": "x"},
        "images_per_prompt": 1,
        "seed": 7,
    }
    run = RunDirectory.create(root / name, info)
    rng = np.random.default_rng(int(guidance * 10))
    for p in prompts:
        arr = (rng.random((32, 32, 3)) * 255).astype("uint8")
        run.write_image(p.id, p.category, 0, 1, Image.fromarray(arr), 0.01)
    cats = sorted({p.category for p in prompts})
    prov = {
        "implementation": "open_clip",
        "version": "2.24",
        "random_weights": random_weights,
        "seed": 0,
    }
    clip = MetricResult(
        "clip_score",
        20 + guidance,
        True,
        len(prompts),
        19 + guidance,
        21 + guidance,
        "bootstrap",
        per_category={c: 20 + guidance + i / 10 for i, c in enumerate(cats)},
        per_category_ci={c: [19 + guidance, 21 + guidance] for c in cats},
        settings={"model": "ViT-B-32"},
        provenance=prov,
    )
    fid = MetricResult(
        "fid",
        30 - guidance,
        False,
        len(prompts),
        settings={"mode": "clean"},
        provenance={
            "implementation": "clean-fid",
            "version": "0.1.35",
            "reference": {
                "path": "ref.npz",
                "sha256": "abc123def4567890ff",
            },  # as evaluate writes it
            "random_weights": random_weights,
        },
    )
    run.write_metrics(
        {"run": info, "metrics": {"clip_score": clip.to_dict(), "fid": fid.to_dict()}}
    )
    return run.path


@pytest.fixture(scope="module")
def fixture_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    prompts = _prompts()
    paths = [
        _make_run(root, n, g, prompts, random_weights=(n == "tiny-g1")) for n, g in GUIDANCE.items()
    ]
    votes = simulate_votes(
        list(GUIDANCE), prompts, strengths={"tiny-g1": -0.5, "tiny-g7": 0.5}, seed=3
    )
    return paths, votes, prompts


@pytest.fixture(scope="module")
def report(fixture_runs, tmp_path_factory):
    paths, votes, _ = fixture_runs
    out = tmp_path_factory.mktemp("report")
    html_path = write_report(
        paths, out, votes=votes, title="fixture report", notes=["a note"], n_boot=200
    )
    return out, html_path


CATEGORIES = ["Colors", "Conflicting", "Counting", "DALL-E", "Descriptions", "Gary Marcus et al.",
              "Misspellings", "Positional", "Rare Words", "Reddit", "Text"]  # fmt: skip


def test_report_has_all_categories_plots_and_provenance(report):
    out, html_path = report
    md = (out / "report.md").read_text()
    assert html_path == out / "report.html"
    for cat in CATEGORIES:
        assert f"### {cat}" in md  # sample grid section
        assert f"| {cat} |" in md  # per-category tables
    for png in ["fid_vs_clip.png", "clip_score_by_category.png", "preference_0.png", "bradley_terry_0.png",
                "samples_00.png"]:  # fmt: skip
        assert (out / png).stat().st_size > 2000, png
    assert len(list(out.glob("samples_*.png"))) == 11
    assert "Provenance of every metric" in md
    for expected in ("clean-fid", "0.1.35", "clean", "abc123def4567890", "open_clip", "7, 0"):
        assert expected in md, expected
    assert "Bradley-Terry leaderboard" in md and "Krippendorff" in md and "Position bias" in md
    assert "guidance 7.5" in md and "a note" in md


def test_random_weights_and_simulated_votes_are_labelled(report):
    out, html_path = report
    md, page = (out / "report.md").read_text(), html_path.read_text()
    assert "RANDOM WEIGHTS" in md and "tiny-g1 (RANDOM WEIGHTS)" in md
    assert "SIMULATED VOTES" in md
    assert page.count('class="warn"') >= 2


def test_html_is_self_contained(report):
    _, html_path = report
    page = html_path.read_text()
    assert not re.search(r'src="(?!data:)', page) and "http" not in page.split("<body>")[0]
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 11 + 4
    assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"


def test_preference_orientation_follows_strengths(fixture_runs, tmp_path):
    from drawbench import stats

    _, votes, _ = fixture_runs
    table = stats.preference_table(votes, n_boot=100)
    overall = table[(table["category"] == "overall") & (table["question"] == "quality")]
    row = overall[(overall["model_a"] == "tiny-g1") & (overall["model_b"] == "tiny-g7")].iloc[0]
    assert row.preference < 0.5 and row.n == 22 * 3
    assert set(table["category"]) == {"overall", *CATEGORIES}


def test_report_without_votes_or_metrics(tmp_path):
    prompts = _prompts(1)[:3]
    info = {"generator": {"name": "folder"}, "prompt_set": {"name": "drawbench", "sha256": "x"},
            "images_per_prompt": 1, "seed": 0}  # fmt: skip
    run = RunDirectory.create(tmp_path / "bare", info)
    for p in prompts:
        run.write_image(p.id, p.category, 0, 0, Image.new("RGB", (16, 16), "red"), 0.0)
    html_path = write_report([run.path], tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "No metrics.json" in md and "Human preference" not in md and html_path.exists()


def test_cli_report_and_errors(fixture_runs, tmp_path, capsys):
    paths, votes, _ = fixture_runs
    csv_path = tmp_path / "votes.csv"
    votes.to_csv(csv_path, index=False)
    argv = [
        "report",
        *map(str, paths[:2]),
        "--votes",
        str(csv_path),
        "--out",
        str(tmp_path / "r"),
        "--bootstrap",
        "50",
    ]
    assert main(argv) == 0
    assert "report.html" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r2")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    bad = votes.head(5).copy()
    bad.loc[bad.index[3], "winner"] = "nobody"
    bad.to_csv(csv_path, index=False)
    assert (
        main(["report", str(paths[0]), "--votes", str(csv_path), "--out", str(tmp_path / "r3")])
        == 2
    )
    assert re.search(r"votes\.csv line 5: winner 'nobody'", capsys.readouterr().err)
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    assert (
        main(["report", str(paths[0]), "--study", "s1", "--db", db, "--out", str(tmp_path / "r4")])
        == 2
    )
    err = capsys.readouterr().err
    assert "--study s1 needs the rating app" in err or "no study named 's1'" in err


@pytest.mark.browser
def test_report_renders_in_headless_chromium(report, tmp_path, screenshot):
    _, html_path = report
    shot = tmp_path / "report.png"
    n_images, n_loaded = screenshot(html_path, shot)
    assert n_images >= 15 and n_loaded == n_images
    assert shot.stat().st_size > 50_000
    with Image.open(shot) as im:
        arr = np.asarray(im.convert("L"), dtype=float)
    assert arr.shape[0] > 2000 and arr.std() > 10  # tall page with real content, not blank


def test_rater_quality_gold_from_export_columns(fixture_runs):
    from drawbench import stats

    _, votes, _ = fixture_runs
    v = votes.copy()
    v["is_gold"] = "0"
    v["gold_correct"] = ""
    gold_rows = v.index[:12]
    v.loc[gold_rows, "is_gold"] = "1"
    v.loc[gold_rows, "gold_correct"] = [
        "1" if r != "sim-rater-00" else "0" for r in v.loc[gold_rows, "rater"]
    ]
    quality = stats.rater_quality(v)
    assert quality["gold"]["sim-rater-00"][0] == 0.0 and quality["gold"]["sim-rater-01"][0] == 1.0
    kept, dropped = stats.drop_raters_below_gold(v, 0.8)
    assert dropped == ["sim-rater-00"] and set(kept["rater"]) == {"sim-rater-01", "sim-rater-02"}
    assert 0.0 <= quality["position_bias"].share_left <= 1.0
    assert set(quality["agreement"]) == {"quality", "alignment"}
