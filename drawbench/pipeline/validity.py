"""Does the suite rank models the way the truth does? The toy world's validity check (issue 8).

On toy prompts the ground truth is known, so a trustworthy metric must order
``ground truth > trained cascade > untrained cascade``, and should do it with 95% intervals that
do not overlap. :func:`check_ordering` reads each run's metrics.json results and checks every
adjacent pair of that order, overall and (where the metric has per-category values) per category.
:func:`check_relation_blindness` reads the rows of a paired view (trained vs a variant that gets
positions wrong) and says per category whether the CLIP-score model is blind to the swap while the
judge sees it. Pure logic on computed values: no model, no numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from itertools import pairwise
from typing import Any

__all__ = [
    "CHECK_HEADER",
    "RELATION_HEADER",
    "OrderingCheck",
    "RelationCheck",
    "check_ordering",
    "check_relation_blindness",
    "check_rows",
    "relation_rows",
    "with_paired_differences",
]


@dataclass(frozen=True)
class OrderingCheck:
    """One comparison: ``better`` must beat ``worse`` on ``metric`` within ``scope``.

    ``holds``: the values are in the right order; ``separated``: and the 95% intervals do not
    overlap (False when an interval is missing). ``paired_diff`` / ``paired_diff_ci``: where the
    two runs share their prompts, the mean per-prompt difference better − worse and its 95%
    paired-bootstrap interval (the same prompts resampled for both runs), None when not computed
    (see :func:`with_paired_differences`); ``paired_separated`` (a property, also a key of
    :meth:`to_dict`): that interval lies wholly on the better side of 0. The paired test is the
    sharper one for runs on the same prompts: prompt difficulty, shared by both, cancels out.
    """

    metric: str
    scope: str
    better: str
    worse: str
    better_value: float
    worse_value: float
    better_ci: tuple[float, float] | None
    worse_ci: tuple[float, float] | None
    holds: bool
    separated: bool
    higher_is_better: bool = True
    paired_diff: float | None = None
    paired_diff_ci: tuple[float, float] | None = None

    @property
    def paired_separated(self) -> bool:
        ci = self.paired_diff_ci
        if ci is None:
            return False
        return ci[0] > 0.0 if self.higher_is_better else ci[1] < 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "paired_separated": self.paired_separated}


def _ci(low: Any, high: Any) -> tuple[float, float] | None:
    return None if low is None or high is None else (float(low), float(high))


def _compare(
    metric: str,
    scope: str,
    names: tuple[str, str],
    values: tuple[float, float],
    cis: tuple[tuple[float, float] | None, tuple[float, float] | None],
    higher_is_better: bool,
) -> OrderingCheck:
    (better, worse), (vb, vw), (cb, cw) = names, values, cis
    holds = vb > vw if higher_is_better else vb < vw
    separated = bool(
        holds
        and cb is not None
        and cw is not None
        and (cb[0] > cw[1] if higher_is_better else cb[1] < cw[0])
    )
    return OrderingCheck(
        metric, scope, better, worse, vb, vw, cb, cw, holds, separated, higher_is_better
    )


def with_paired_differences(
    checks: Sequence[OrderingCheck], metric: str, better: str, worse: str, rows: Sequence[Any]
) -> list[OrderingCheck]:
    """``checks`` with the paired difference filled in for ``metric``'s checks of ``better`` vs
    ``worse``, from the rows of a paired view of those two runs (run a = ``better``;
    ``drawbench.report.paired.PairedRow``: ``category`` ("overall" for the whole prompt set),
    ``diff``, ``diff_low``/``diff_high``). Other checks, and scopes without a row, are unchanged."""
    by_scope = {r.category: r for r in rows if r.diff is not None}
    out = []
    for c in checks:
        r = by_scope.get(c.scope)
        if (c.metric, c.better, c.worse) == (metric, better, worse) and r is not None:
            c = replace(c, paired_diff=float(r.diff), paired_diff_ci=_ci(r.diff_low, r.diff_high))
        out.append(c)
    return out


def check_ordering(
    results: Mapping[str, Mapping[str, Any]], order: Sequence[str], metric: str
) -> list[OrderingCheck]:
    """Checks that ``order[0] > order[1] > ...`` (best first) on ``metric``.

    Args:
        results: run name -> that run's metrics.json ``results`` mapping (metric -> MetricResult
            dict with ``value``, ``higher_is_better``, ``ci_low``/``ci_high`` and optionally
            ``per_category`` / ``per_category_ci``).
        order: run names, best first.
        metric: the metric key, e.g. ``"clip_score"`` or ``"fid"``.

    Raises:
        KeyError naming the run when a run lacks the metric.
    """
    rows = []
    for name in order:
        if metric not in results.get(name, {}):
            raise KeyError(f"run {name!r} has no {metric!r} result")
    for better, worse in pairwise(order):
        a, b = results[better][metric], results[worse][metric]
        hib = bool(a.get("higher_is_better", True))
        rows.append(
            _compare(
                metric,
                "overall",
                (better, worse),
                (float(a["value"]), float(b["value"])),
                (_ci(a.get("ci_low"), a.get("ci_high")), _ci(b.get("ci_low"), b.get("ci_high"))),
                hib,
            )
        )
        for cat, va in (a.get("per_category") or {}).items():
            if cat not in (b.get("per_category") or {}):
                continue
            ca, cb = (
                (a.get("per_category_ci") or {}).get(cat),
                (b.get("per_category_ci") or {}).get(cat),
            )
            rows.append(
                _compare(
                    metric,
                    cat,
                    (better, worse),
                    (float(va), float(b["per_category"][cat])),
                    (_ci(*ca) if ca else None, _ci(*cb) if cb else None),
                    hib,
                )
            )
    return rows


CHECK_HEADER = ("metric", "scope", "better", "worse", "better (95% CI)", "worse (95% CI)",
                "order right", "intervals apart", "paired difference (95% CI)",
                "difference apart from 0")  # fmt: skip


def _show(v: float | None, ci: tuple[float, float] | None, digits: int = 2) -> str:
    """``"v [low, high]"`` with ``digits`` decimals; ``"-"`` without a value."""
    if v is None:
        return "-"
    return f"{v:.{digits}f}" + (f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "")


def check_rows(checks: Sequence[OrderingCheck]) -> list[list[str]]:
    """Table rows of the checks, one per check, matching :data:`CHECK_HEADER`."""
    return [
        [
            c.metric,
            c.scope,
            c.better,
            c.worse,
            _show(c.better_value, c.better_ci),
            _show(c.worse_value, c.worse_ci),
            "yes" if c.holds else "NO",
            "yes" if c.separated else "NO",
            _show(c.paired_diff, c.paired_diff_ci),
            "-" if c.paired_diff_ci is None else ("yes" if c.paired_separated else "NO"),
        ]
        for c in checks
    ]


@dataclass(frozen=True)
class RelationCheck:
    """Relation blindness in one category, for runs ``run_a`` (positions right) and ``run_b`` (the
    same model with every relation mirrored).

    ``metric_blind``: the metric's paired difference a − b has a 95% interval that contains 0 (the
    metric does not drop for the mirrored run); ``judge_sees``: the judge's preference for a over b
    has a 95% interval above 0.5; ``shown``: both (also a key of :meth:`to_dict`). Missing
    intervals make the flags False.
    """

    category: str
    run_a: str
    run_b: str
    diff: float | None
    diff_ci: tuple[float, float] | None
    preference: float | None
    preference_ci: tuple[float, float] | None
    n_votes: int
    metric_blind: bool
    judge_sees: bool

    @property
    def shown(self) -> bool:
        return self.metric_blind and self.judge_sees

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "shown": self.shown}


def check_relation_blindness(
    rows: Sequence[Any], run_a: str, run_b: str, categories: Sequence[str] | None = None
) -> list[RelationCheck]:
    """One :class:`RelationCheck` per row of a paired view (``drawbench.report.paired.PairedRow``:
    ``category``, ``diff``, ``diff_low``/``diff_high``, ``preference``, ``pref_low``/``pref_high``,
    ``n_votes``), keeping only ``categories`` when given (in the rows' order)."""
    checks = []
    for r in rows:
        if categories is not None and r.category not in categories:
            continue
        diff_ci = _ci(r.diff_low, r.diff_high)
        pref_ci = _ci(r.pref_low, r.pref_high)
        blind = diff_ci is not None and diff_ci[0] <= 0.0 <= diff_ci[1]
        sees = pref_ci is not None and pref_ci[0] > 0.5
        checks.append(
            RelationCheck(
                r.category,
                run_a,
                run_b,
                None if r.diff is None else float(r.diff),
                diff_ci,
                None if r.preference is None else float(r.preference),
                pref_ci,
                int(r.n_votes),
                blind,
                sees,
            )
        )
    return checks


RELATION_HEADER = ("category", "positions right", "positions mirrored",
                   "CLIP score difference (95% CI)", "CLIP score blind", "judge preference (95% CI)",
                   "judge sees it", "blindness shown")  # fmt: skip


def relation_rows(checks: Sequence[RelationCheck]) -> list[list[str]]:
    """Table rows of relation checks, matching :data:`RELATION_HEADER`."""
    return [
        [
            c.category,
            c.run_a,
            c.run_b,
            _show(c.diff, c.diff_ci),
            "yes" if c.metric_blind else "NO",
            _show(c.preference, c.preference_ci, 3),
            "yes" if c.judge_sees else "NO",
            "yes" if c.shown else "NO",
        ]
        for c in checks
    ]
