"""The ordering checks behind the demo's validity table (pure logic)."""

import pytest

from drawbench.pipeline.validity import CHECK_HEADER, check_ordering, check_rows


def _clip(v, lo, hi, cats):
    return {"clip_score": {"value": v, "higher_is_better": True, "ci_low": lo, "ci_high": hi,
                           "per_category": {c: x[0] for c, x in cats.items()},
                           "per_category_ci": {c: list(x[1]) for c, x in cats.items()}}}  # fmt: skip


def test_higher_is_better_with_categories():
    results = {
        "truth": _clip(90, 88, 92, {"Colors": (90, (89, 91)), "Counting": (85, (80, 90))}),
        "model": _clip(50, 40, 60, {"Colors": (50, (45, 55)), "Counting": (86, (70, 95))}),
    }
    checks = {c.scope: c for c in check_ordering(results, ["truth", "model"], "clip_score")}
    assert checks["overall"].holds and checks["overall"].separated
    assert checks["Colors"].separated
    assert not checks["Counting"].holds and not checks["Counting"].separated
    rows = check_rows(list(checks.values()))
    assert len(rows[0]) == len(CHECK_HEADER) and rows[0][6:] == ["yes", "yes", "-", "-"]


def test_paired_differences_separate_what_overlapping_intervals_cannot():
    from drawbench.pipeline.validity import with_paired_differences
    from drawbench.report.paired import PairedRow

    # Counting: the intervals overlap (prompt difficulty is shared by both runs) ...
    results = {
        "truth": _clip(90, 88, 92, {"Counting": (80, (70, 90))}),
        "model": _clip(70, 60, 80, {"Counting": (75, (65, 85))}),
        "worse": _clip(10, 5, 15, {"Counting": (10, (5, 15))}),
    }
    checks = check_ordering(results, ["truth", "model", "worse"], "clip_score")
    assert [c.paired_diff for c in checks] == [None] * 4 and not checks[1].paired_separated
    rows = [PairedRow("overall", diff=20.0, diff_low=15.0, diff_high=25.0),
            PairedRow("Counting", diff=5.0, diff_low=2.0, diff_high=8.0),
            PairedRow("Colors", diff=1.0, diff_low=-1.0, diff_high=3.0)]  # fmt: skip
    paired = with_paired_differences(checks, "clip_score", "truth", "model", rows)
    by = {(c.better, c.scope): c for c in paired}
    # ... while the paired difference, the same prompts resampled for both, is apart from 0
    counting = by[("truth", "Counting")]
    assert not counting.separated and counting.paired_separated
    assert counting.paired_diff == 5.0 and counting.paired_diff_ci == (2.0, 8.0)
    assert counting.to_dict()["paired_separated"] is True
    assert by[("model", "overall")].paired_diff is None  # another pair: unchanged
    assert check_rows([counting])[0][8:] == ["5.00 [2.00, 8.00]", "yes"]
    # a paired interval holding 0 is not apart; other metrics are left alone
    straddling = [PairedRow("Counting", diff=1.0, diff_low=-1.0, diff_high=3.0)]
    assert not with_paired_differences(checks, "clip_score", "truth", "model", straddling)[
        1
    ].paired_separated
    assert with_paired_differences(checks, "fid", "truth", "model", rows) == checks


def test_paired_separation_for_lower_is_better():
    from drawbench.pipeline.validity import with_paired_differences
    from drawbench.report.paired import PairedRow

    results = {"a": {"fid": {"value": 1.0, "higher_is_better": False, "ci_low": 0.0, "ci_high": 3.0}},
               "b": {"fid": {"value": 2.0, "higher_is_better": False, "ci_low": 1.0, "ci_high": 4.0}}}  # fmt: skip
    (check,) = check_ordering(results, ["a", "b"], "fid")
    (lower,) = with_paired_differences(
        [check], "fid", "a", "b", [PairedRow("overall", diff=-1.0, diff_low=-1.5, diff_high=-0.5)]
    )
    assert not lower.separated and lower.paired_separated
    (wrong_side,) = with_paired_differences(
        [check], "fid", "a", "b", [PairedRow("overall", diff=1.0, diff_low=0.5, diff_high=1.5)]
    )
    assert not wrong_side.paired_separated


def test_lower_is_better_and_missing_intervals():
    def fid(v, lo, hi):
        return {"fid": {"value": v, "higher_is_better": False, "ci_low": lo, "ci_high": hi}}

    results = {"a": fid(1.0, 0.0, 2.0), "b": fid(5.0, 3.0, 7.0), "c": fid(6.0, None, None)}
    ab, bc = check_ordering(results, ["a", "b", "c"], "fid")
    assert ab.holds and ab.separated
    assert bc.holds and not bc.separated  # no interval: order only
    with pytest.raises(KeyError, match="run 'a' has no 'clip_score'"):
        check_ordering(results, ["a", "b"], "clip_score")


def test_relation_blindness_needs_a_blind_metric_and_a_seeing_judge():
    from drawbench.pipeline.validity import (
        RELATION_HEADER,
        check_relation_blindness,
        relation_rows,
    )
    from drawbench.report.paired import PairedRow

    rows = [
        PairedRow(
            "overall",
            diff=0.5,
            diff_low=-1.0,
            diff_high=2.0,
            preference=0.7,
            pref_low=0.6,
            pref_high=0.8,
            n_votes=40,
        ),
        # blind metric (interval holds 0), judge sees it (interval above 0.5): shown
        PairedRow(
            "Positional",
            diff=0.3,
            diff_low=-1.5,
            diff_high=2.1,
            preference=0.9,
            pref_low=0.75,
            pref_high=1.0,
            n_votes=16,
        ),
        # the metric drops too: not blind
        PairedRow(
            "Composition",
            diff=6.0,
            diff_low=2.0,
            diff_high=9.0,
            preference=0.9,
            pref_low=0.7,
            pref_high=1.0,
            n_votes=16,
        ),
        # judge at chance: not seen
        PairedRow(
            "Colors",
            diff=0.0,
            diff_low=-1.0,
            diff_high=1.0,
            preference=0.5,
            pref_low=0.4,
            pref_high=0.6,
            n_votes=16,
        ),
        # no votes: cannot be shown
        PairedRow("Counting", diff=0.0, diff_low=-1.0, diff_high=1.0),
    ]
    checks = check_relation_blindness(rows, "gt", "gt-swapped")
    assert [(c.category, c.metric_blind, c.judge_sees, c.shown) for c in checks] == [
        ("overall", True, True, True),
        ("Positional", True, True, True),
        ("Composition", False, True, False),
        ("Colors", True, False, False),
        ("Counting", True, False, False),
    ]
    only = check_relation_blindness(rows, "gt", "gt-swapped", categories=["Positional"])
    assert [c.category for c in only] == ["Positional"]
    assert only[0].to_dict()["preference_ci"] == (0.75, 1.0)
    table = relation_rows(checks)
    assert all(len(r) == len(RELATION_HEADER) for r in table)
    assert table[1][3] == "0.30 [-1.50, 2.10]" and table[2][-1] == "NO" and table[4][5] == "-"


def test_validity_power_benchmark_compares_like_the_validity_check(load_benchmark):
    """benchmarks/toy_validity_power.py: each prompt's first k samples; unpaired intervals apart
    only when the gap is large against the prompts' spread; paired differences see a constant
    per-prompt gap that the prompts' spread hides from the unpaired intervals."""
    import numpy as np

    bench = load_benchmark("toy_validity_power")
    rng = np.random.default_rng(0)
    level = {f"p{i}": rng.normal(90, 4) for i in range(8)}  # prompts differ by a lot
    cats = {p: ("Colors" if i < 4 else "Counting") for i, p in enumerate(level)}

    def rows(offset, bad_sample=None):
        return [
            (
                p,
                cats[p],
                s,
                level[p] + offset + rng.normal(0, 0.05) - (50 if s == bad_sample else 0),
            )
            for p in level
            for s in range(4)
        ]

    truth, cascade = rows(0.0), rows(-1.0, bad_sample=3)
    two = bench.compare(truth, cascade, 2, "overall", None)
    assert two["prompts"] == 8 and not two["apart"] and two["paired_apart"]
    assert two["paired_diff"] == pytest.approx(1.0, abs=0.1)
    four = bench.compare(truth, cascade, 4, "overall", None)  # sample 3 failed on every prompt
    assert four["paired_diff"] == pytest.approx(13.5, abs=0.1)
    colors = bench.compare(truth, cascade, 2, "Colors", {"p0", "p1", "p2"})
    assert colors["prompts"] == 3
