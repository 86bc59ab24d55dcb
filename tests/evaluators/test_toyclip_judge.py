"""The automatic toy-CLIP judge: votes in the study-export format from the shipped CoordConv model.

Runs are built here from exact toy-world renders: a correct run, a run whose relation prompts are
rendered mirrored (and whose colour prompt has the wrong colour), and a byte-identical copy of the
correct run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drawbench import stats
from drawbench.prompts import select_prompts
from drawbench.report.data import VOTE_COLUMNS
from drawbench.runs import RunDirectory
from drawbench.toyworld import parse_caption
from drawbench.toyworld_corrupt import flip_relation, replace_colour
from drawbench.toyworld_render import render_scene
from evaluators.toyclip_judge import (
    DEFAULT_MARGIN,
    ToyClipJudge,
    judge_label,
    judge_votes,
    judge_winner,
)

#: One Colors prompt and four Positional ones (left of, above, below, right of).
IDS = ["toyworld-000", "toyworld-018", "toyworld-019", "toyworld-031", "toyworld-037"]
IMAGES = 2


def _wrong(scene):
    if scene.relation is not None:
        return flip_relation(scene)
    return replace_colour(scene, 0, "red" if scene.first.colour != "red" else "blue")


def make_run(root, name, corrupt=False, ids=IDS, images=IMAGES, spec="toyworld"):
    """A run directory of exact renders of toy-world prompts (``corrupt``: mirrored / recoloured)."""
    prompts = select_prompts(spec, ids=ids)
    info = {
        "generator": {"name": "toyworld-render", "options": {"corrupt": corrupt}},
        "prompt_set": {**prompts.describe(), "selection": {"spec": str(spec), "ids": list(ids)}},
        "images_per_prompt": images,
        "seed": 0,
    }
    run = RunDirectory.create(root / name, info)
    for p in prompts:
        scene = parse_caption(p.text)
        for j in range(images):
            image = render_scene(_wrong(scene) if corrupt else scene, seed=100 + j)
            run.write_image(p.id, p.category, j, 100 + j, image, 0.0)
    return run.path


@pytest.fixture(scope="module")
def judge():
    return ToyClipJudge.load("toyclip-coordconv")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("judge-runs")
    return [make_run(root, "correct"), make_run(root, "wrong", True), make_run(root, "copy")]


@pytest.fixture(scope="module")
def votes(runs, judge):
    return judge_votes(runs, judge=judge, seed=0)


def test_votes_have_the_export_columns_and_the_judge_label(votes):
    assert list(votes.columns[: len(VOTE_COLUMNS)]) == list(VOTE_COLUMNS)
    assert len(votes) == 3 * len(IDS)  # three pairs, every prompt shared
    assert set(votes["judge"]) == {judge_label("toyclip-coordconv")}
    assert judge_label("toyclip-coordconv") == "automatic judge: toyclip-coordconv"
    assert set(votes["rater"]) == {"judge:toyclip-coordconv"}
    assert set(votes["question"]) == {"alignment"}
    assert not votes["simulated"].any() and not votes["is_gold"].any()
    assert not votes["study"].str.startswith("simulated").any()
    assert votes["item_id"].is_unique
    # choice is the side the winner was shown on
    assert (stats.chosen_sides(votes) == votes["choice"].to_numpy()).all()


def test_judge_prefers_the_correct_run_on_every_prompt(votes):
    pair = votes[(votes["model_a"] == "correct") & (votes["model_b"] == "wrong")]
    assert list(pair["prompt_id"]) == IDS
    assert (pair["winner"] == "correct").all()
    positional = pair[pair["category"] == "Positional"]
    assert (
        len(positional) == 4
        and (positional["score_a"] - positional["score_b"] > DEFAULT_MARGIN).all()
    )
    copy_vs_wrong = votes[(votes["model_a"] == "wrong") & (votes["model_b"] == "copy")]
    assert (copy_vs_wrong["winner"] == "copy").all()
    # preference of the correct run is 1 with a degenerate interval: every prompt agrees
    row = stats.preference_table(pair, n_boot=50).iloc[0]
    assert row.category == "overall" and row.preference == 1.0 and row.ci_low == 1.0


def test_identical_runs_tie(votes):
    same = votes[(votes["model_a"] == "correct") & (votes["model_b"] == "copy")]
    assert (same["winner"] == "tie").all() and (same["choice"] == "tie").all()
    np.testing.assert_array_equal(same["score_a"], same["score_b"])


def test_votes_are_deterministic_and_only_the_coin_depends_on_the_seed(runs, judge, votes):
    again = judge_votes(runs, judge=judge, seed=0)
    pd.testing.assert_frame_equal(votes, again)
    other = judge_votes(runs, judge=judge, seed=1)
    assert (other["winner"] == votes["winner"]).all()
    assert (other["run_left"] != votes["run_left"]).any()
    assert set(votes["run_left"]) == {"correct", "wrong", "copy"}  # both sides get used


def test_only_prompts_both_runs_have_are_judged(tmp_path, runs, judge):
    partial = make_run(tmp_path, "partial", ids=IDS[:2], images=1)
    votes = judge_votes([runs[0], partial], judge=judge)
    assert list(votes["prompt_id"]) == IDS[:2]
    # explicit prompts restrict the vote further
    only = select_prompts("toyworld", ids=IDS[1:2])
    votes = judge_votes([runs[0], partial], only, judge=judge)
    assert list(votes["prompt_id"]) == IDS[1:2]


def test_judge_winner_margin():
    assert judge_winner(90.0, 80.0) == "model_a"
    assert judge_winner(80.0, 90.0) == "model_b"
    assert judge_winner(90.0, 90.0 - DEFAULT_MARGIN) == "tie"  # not beyond the margin
    assert judge_winner(90.0, 89.9, margin=0.0) == "model_a"
    assert judge_winner(90.0, 90.0, margin=0.0) == "tie"
    with pytest.raises(ValueError, match="margin must be a finite number >= 0"):
        judge_winner(1.0, 0.0, margin=-1.0)


def test_errors_say_what_to_do(runs, judge, tmp_path):
    with pytest.raises(ValueError, match="answers only the 'alignment' question"):
        judge_votes(runs, judge=judge, question="quality")
    with pytest.raises(ValueError, match="at least two runs"):
        judge_votes(runs[:1], judge=judge)
    with pytest.raises(ValueError, match=r"unknown judge 'nope'.*toyclip-coordconv"):
        judge_votes(runs, judge="nope")
    with pytest.raises(ValueError, match="cannot read a caption: word 'dog'"):
        bad = [type(p)(p.id, "a dog", p.category, p.source) for p in select_prompts("toyworld")]
        judge_votes(runs, bad, judge=judge)
    # two runs disagreeing on a caption: say which, and how to choose
    csv = tmp_path / "mine.csv"
    csv.write_text("id,text,category\ntoyworld-000,a red square,Colors\n")
    mine = make_run(tmp_path, "mine", ids=IDS[:1], images=1, spec=csv)
    with pytest.raises(ValueError, match=r"prompt toyworld-000 reads 'a purple circle' in run "
                       r"correct but 'a red square' in run mine; pass prompts="):  # fmt: skip
        judge_votes([runs[0], mine], judge=judge)


def test_report_of_judge_votes_with_the_relation_view(runs, votes, tmp_path):
    from drawbench.report import write_report
    from drawbench.report.paired import PairedView

    pair = votes[(votes["model_a"] == "correct") & (votes["model_b"] == "wrong")]
    view = PairedView(run_a="correct", run_b="wrong")
    write_report(runs[:2], tmp_path, votes=pair, paired_views=[view], n_boot=50)
    md = (tmp_path / "report.md").read_text()
    assert "SIMULATED" not in md and "Human preference" not in md
    assert "every vote comes from automatic judge: toyclip-coordconv" in md
    section = md.split("## Relation blindness\n", 1)[1]
    positional = next(line for line in section.splitlines() if line.startswith("| Positional |"))
    # no metrics.json here: metric cells empty; preference 1 from 4 votes
    assert positional.endswith("| 1 | [1, 1] | 4 |")
    assert "No clip_score in the metrics.json of correct, wrong" in section


def test_in_memory_images_embed_like_files_and_the_relation_benchmark_reads_them(
    runs, judge, load_benchmark
):
    from pathlib import Path

    from drawbench.images import load_image_rgb

    paths = sorted((Path(runs[0]) / "images").rglob("*.png"))
    judge_small = ToyClipJudge(judge.model, judge.name, batch_size=3)  # several passes
    by_file = judge_small.embed_images(paths)
    images = [load_image_rgb(p) for p in paths]
    assert np.allclose(judge_small.embed_pil(images).numpy(), by_file.numpy(), atol=1e-6)

    module = load_benchmark("toy_cascade_relations")
    captions = ["a red circle to the left of a blue square"] * 2
    right = render_scene(parse_caption(captions[0]), 3)
    mirrored = render_scene(flip_relation(parse_caption(captions[0])), 3)
    assert module.relation_accuracy([right, mirrored], captions, judge) == [True, False]


def test_count_benchmark_reads_counts_per_split(judge, capsys, load_benchmark):
    import json

    bench = load_benchmark("toyclip_counts")
    figures = bench.count_accuracy(judge, 48, "train")
    assert figures["n"] == 48 == sum(figures[f"n_{k}"] for k in range(1, 5) if f"n_{k}" in figures)
    # the sharp judge reads the count of renders of trained combinations (1.000 on 600 scenes)
    assert figures["all"] >= 0.95
    assert bench.count_accuracy(judge, 48, "train") == figures  # seeded: same scenes, same figures
    assert bench.main(["--scenes", "16", "--models", "toyclip-judge"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(last["count_accuracy"]["toyclip-judge"]) == {"train", "held_out"}
