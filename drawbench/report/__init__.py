"""Leaderboard reports: markdown, self-contained HTML and plots.

Public API: ``write_report(run_dirs, out_dir, *, votes=None, title=..., notes=(), votes_source=None,
paired_views=(), ...) -> Path`` (see ``drawbench.report.render``), ``simulate_votes``
(``drawbench.report.simulate``) and ``PairedView`` (``drawbench.report.paired``: a metric and a
preference side by side per category for two runs). All are imported lazily so that importing this
package stays light. Votes cast by an automatic judge (``evaluators.toyclip_judge.judge_votes``)
are labelled as such wherever a preference is shown.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PairedView", "simulate_votes", "write_report"]


def __getattr__(name: str) -> Any:
    if name == "write_report":
        from drawbench.report.render import write_report

        return write_report
    if name == "PairedView":
        from drawbench.report.paired import PairedView

        return PairedView
    if name == "simulate_votes":
        from drawbench.report.simulate import simulate_votes

        return simulate_votes
    raise AttributeError(f"module 'drawbench.report' has no attribute {name!r}")
