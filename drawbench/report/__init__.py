"""Leaderboard reports: markdown, self-contained HTML and plots.

Public API: ``write_report(run_dirs, out_dir, *, votes=None, title=..., notes=(), ...) -> Path``
(see ``drawbench.report.render``) and ``simulate_votes`` (``drawbench.report.simulate``). Both are
imported lazily so that importing this package stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["simulate_votes", "write_report"]


def __getattr__(name: str) -> Any:
    if name == "write_report":
        from drawbench.report.render import write_report

        return write_report
    if name == "simulate_votes":
        from drawbench.report.simulate import simulate_votes

        return simulate_votes
    raise AttributeError(f"module 'drawbench.report' has no attribute {name!r}")
