"""`drawbench demo` on the toy world: the suite's validity check (issue 8).

On held-out toy prompts the metrics must order ground truth > trained cascade > untrained
cascade. Asserted here is what the shipped models reach (benchmarks/RESULTS.md has the figures):
every comparison in the right order and every one with 95% intervals apart except those listed in
NOT_APART (CLIP score of ground truth vs cascade on Counting, and on Positional at reduced size:
not reached); the automatic judge (the photometric CoordConv toy CLIP) prefers ground truth to the
cascade and the cascade to the untrained one on most prompts and almost never the reverse; and the
relation blindness with the ground truth as control: with every relation mirrored, the ViT CLIP
score does not drop on Positional nor on Composition while the judge's preference does
(relation_blindness.json and the report). Not asserted, because not reached (RESULTS.md): the
cascade pair (the toy cascade draws relations at chance). Both tests run the real command with the
shipped weights (slow tier: CI runs them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from PIL import Image

pytest.importorskip("torch")
ORDER = ("ground-truth", "imagen-toy", "imagen-toy-untrained")


def _demo(out, *extra):
    cmd = [
        sys.executable,
        "-m",
        "drawbench.cli",
        "demo",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "report: " in res.stdout
    assert "validity: " in res.stdout and "relation blindness shown in" in res.stdout
    return res


#: Comparisons (metric, scope, better run) whose intervals the shipped models do not keep apart.
NOT_APART = {
    "full": {("clip_score", "Counting", "ground-truth")},
    "reduced": {
        ("clip_score", "Counting", "ground-truth"),
        ("clip_score", "Positional", "ground-truth"),
    },
}


def _check_validity(out, size: str) -> None:
    checks = json.loads((out / "validity.json").read_text())
    assert len(checks) == 2 * (1 + 4) + 2  # clip: overall + 4 categories, fid; 2 pairs
    for c in checks:
        assert c["holds"], c  # the right order: every metric, every scope
        if (c["metric"], c["scope"], c["better"]) not in NOT_APART[size]:
            assert c["separated"], c  # and 95% intervals apart
    votes = pd.read_csv(out / "votes.csv")
    assert (votes.judge == "automatic judge: toyclip-judge").all()
    for better, worse in pairwise(ORDER):
        pair = votes[(votes.model_a == better) & (votes.model_b == worse)]
        assert len(pair) > 0, (better, worse)
        # the better model wins most prompts and loses almost none (ties: sets within 3 points)
        assert (pair.winner == better).mean() >= 0.7, (better, worse)
        assert (pair.winner == worse).mean() <= 0.1, (better, worse)
    relation = json.loads((out / "relation_blindness.json").read_text())
    by = {(c["run_a"], c["category"]): c for c in relation}
    assert set(by) == {(a, cat) for a in ("imagen-toy", "ground-truth")
                       for cat in ("Positional", "Composition")}  # fmt: skip
    for category in ("Positional", "Composition"):
        control = by[("ground-truth", category)]
        assert control["run_b"] == "ground-truth-swapped"
        assert control["metric_blind"] and control["judge_sees"] and control["shown"], control


@pytest.mark.slow
def test_validity_at_reduced_size(tmp_path):
    out = tmp_path / "demo"
    _demo(out, "--prompts-per-category", "4", "--images-per-prompt", "2")
    _check_validity(out, "reduced")


@pytest.mark.slow
@pytest.mark.browser
def test_demo_full_size_offline_with_report_in_chromium(tmp_path, screenshot):
    out = tmp_path / "demo"
    res = _demo(out)
    assert "huggingface.co" not in res.stderr  # offline: no hub requests were attempted
    _check_validity(out, "full")
    md = (out / "report" / "report.md").read_text()
    for text in ("Colors", "Counting", "Positional", "Composition", "AUTOMATIC JUDGE",
                 "Validity check", "Relation blindness", "toyclip-vit", "imagen-toy-swapped",
                 "ground-truth-swapped", "blindness shown"):  # fmt: skip
        assert text in md, text
    assert "RANDOM WEIGHTS" not in md and "SIMULATED" not in md
    shot = tmp_path / "report.png"
    n_images, n_loaded = screenshot(out / "report" / "report.html", shot)
    assert n_images >= 10 and n_loaded == n_images
    with Image.open(shot) as im:
        arr = np.asarray(im.convert("L"), dtype=float)
    assert arr.shape[0] > 2000 and arr.std() > 10
