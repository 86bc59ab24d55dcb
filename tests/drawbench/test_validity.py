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
    assert len(rows[0]) == len(CHECK_HEADER) and rows[0][-2:] == ["yes", "yes"]


def test_lower_is_better_and_missing_intervals():
    def fid(v, lo, hi):
        return {"fid": {"value": v, "higher_is_better": False, "ci_low": lo, "ci_high": hi}}

    results = {"a": fid(1.0, 0.0, 2.0), "b": fid(5.0, 3.0, 7.0), "c": fid(6.0, None, None)}
    ab, bc = check_ordering(results, ["a", "b", "c"], "fid")
    assert ab.holds and ab.separated
    assert bc.holds and not bc.separated  # no interval: order only
    with pytest.raises(KeyError, match="run 'a' has no 'clip_score'"):
        check_ordering(results, ["a", "b"], "clip_score")
