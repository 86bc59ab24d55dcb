"""`drawbench leaderboard` and `drawbench study plan` on the command line."""

from __future__ import annotations

import argparse
import csv
import json
import re

import numpy as np
import pytest

from drawbench import stats
from drawbench.cli import main
from drawbench.commands.study_plan import add_plan_parser


def _write_votes(path, rows, header=("model_a", "model_b", "winner")):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _simulated_rows(n=600, seed=0):
    rng = np.random.default_rng(seed)
    theta = {"alpha": 0.0, "beta": 0.7, "gamma": -0.5}
    names = list(theta)
    rows = []
    for _ in range(n):
        a, b = rng.choice(3, 2, replace=False)
        ma, mb = names[a], names[b]
        u = rng.random()
        if u < 0.1:
            winner = "tie"
        else:
            p = 1 / (1 + np.exp(-(theta[ma] - theta[mb])))
            winner = ma if rng.random() < p else mb  # the study export writes names
        rows.append((ma, mb, winner))
    return rows


def test_json_output_matches_stats(tmp_path, capsys):
    rows = _simulated_rows()
    path = _write_votes(tmp_path / "votes.csv", rows)
    assert (
        main(["leaderboard", str(path), "--format", "json", "--bootstrap", "200", "--seed", "3"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in out] == ["beta", "alpha", "gamma"]
    for r in out:
        assert set(r) == {"model", "rating", "ci_low", "ci_high", "n", "rank"}
        assert r["ci_low"] <= r["rating"] <= r["ci_high"]
    assert np.mean([r["rating"] for r in out]) == pytest.approx(1000.0)
    a, b, w = zip(*rows, strict=True)
    expected = stats.compute_leaderboard(a, b, stats.winner_scores(a, b, w), n_boot=200, seed=3)
    assert out == [r.to_dict() for r in expected]


def test_literal_and_name_winners_give_same_ratings(tmp_path, capsys):
    rows = _simulated_rows(300, seed=1)
    literal = [(a, b, {a: "model_a", b: "model_b"}.get(w, "tie")) for a, b, w in rows]
    results = []
    for name, data in (("names.csv", rows), ("literal.csv", literal)):
        main(
            [
                "leaderboard",
                str(_write_votes(tmp_path / name, data)),
                "--format",
                "json",
                "--bootstrap",
                "50",
            ]
        )
        results.append(json.loads(capsys.readouterr().out))
    assert results[0] == results[1]


def test_anchor_ties_drop_and_table(tmp_path, capsys):
    path = _write_votes(tmp_path / "votes.csv", _simulated_rows())
    assert (
        main(
            ["leaderboard", str(path), "--anchor", "gamma", "--ties", "drop", "--bootstrap", "100"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "ties drop" in out and "rank" in out
    gamma_line = next(line for line in out.splitlines() if "gamma" in line)
    assert "1000.0" in gamma_line


def test_prompt_column_resamples_prompts(tmp_path, capsys):
    rows = [(*r, f"p{i % 40}") for i, r in enumerate(_simulated_rows())]
    path = _write_votes(
        tmp_path / "votes.csv", rows, header=("model_a", "model_b", "winner", "prompt_id")
    )
    main(["leaderboard", str(path), "--bootstrap", "60"])
    assert "rounds over prompts" in capsys.readouterr().out
    main(["leaderboard", str(path), "--bootstrap", "60", "--resample", "votes"])
    assert "rounds over votes" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("header", "rows", "match"),
    [
        (("model_a", "model_b"), [("x", "y")], r"votes\.csv: missing column\(s\) winner"),
        (
            ("model_a", "model_b", "winner"),
            [("x", "y", "x"), ("x", "y", "z")],
            r"votes\.csv line 3: winner 'z'",
        ),
        (
            ("model_a", "model_b", "winner"),
            [("x", "x", "tie")],
            r"line 2: model_a and model_b are both 'x'",
        ),
        (("model_a", "model_b", "winner"), [("x", "", "tie")], r"line 2: empty model_a or model_b"),
        (("model_a", "model_b", "winner"), [], r"votes\.csv: no votes"),
    ],
)
def test_errors_name_file_line_and_problem(tmp_path, capsys, header, rows, match):
    path = _write_votes(tmp_path / "votes.csv", rows, header=header)
    assert main(["leaderboard", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("drawbench leaderboard: error:")
    assert re.search(match, err), err


def test_missing_file_and_unknown_anchor(tmp_path, capsys):
    assert main(["leaderboard", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    path = _write_votes(tmp_path / "votes.csv", _simulated_rows(50))
    assert main(["leaderboard", str(path), "--anchor", "delta"]) == 2
    assert "anchor model 'delta' is not in the votes" in capsys.readouterr().err


def test_gold_rows_are_ignored_and_question_filter(tmp_path, capsys):
    rows = [(a, b, w, "quality", "0") for a, b, w in _simulated_rows(200)]
    rows += [("alpha", "gamma", "gamma", "quality", "1")] * 50  # gold rows: must not count
    rows += [("alpha", "gamma", "gamma", "alignment", "0")] * 50
    header = ("model_a", "model_b", "winner", "question", "is_gold")
    path = _write_votes(tmp_path / "votes.csv", rows, header=header)
    main(
        ["leaderboard", str(path), "--format", "json", "--bootstrap", "20", "--question", "quality"]
    )
    out = json.loads(capsys.readouterr().out)
    assert sum(r["n"] for r in out) == 2 * 200


# --------------------------------------------------------------------------- study plan


def _plan_parser():
    parser = argparse.ArgumentParser(prog="drawbench")
    verbs = parser.add_subparsers(dest="verb")
    study = verbs.add_parser("study")
    add_plan_parser(study.add_subparsers(dest="study_command"))
    return parser


def test_study_plan_json_and_table(capsys):
    parser = _plan_parser()
    args = parser.parse_args(
        [
            "study",
            "plan",
            "--preference",
            "0.6",
            "--prompt-sd",
            "0.15",
            "--width",
            "0.1",
            "--raters",
            "4",
            "--format",
            "json",
        ]
    )
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plan"] == stats.plan_study(0.6, 0.15, 0.1, 4).to_dict()
    assert {p["raters_per_prompt"] for p in out["table"]} == {1, 2, 3, 4, 5, 10}
    args = parser.parse_args(
        ["study", "plan", "--preference", "0.6", "--prompt-sd", "0.15", "--width", "0.1"]
    )
    assert args.func(args) == 0
    assert "raters/prompt" in capsys.readouterr().out


def test_study_plan_rejects_impossible_spread():
    from drawbench.cli import CommandError

    parser = _plan_parser()
    args = parser.parse_args(
        ["study", "plan", "--preference", "0.9", "--prompt-sd", "0.4", "--width", "0.1"]
    )
    with pytest.raises(CommandError, match="too large"):
        args.func(args)
