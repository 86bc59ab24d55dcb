"""Every command's --help reads as written: argparse %-formats help strings but not descriptions,
so a literal "%%" in a description shows up doubled."""

from __future__ import annotations

import argparse

from drawbench.cli import build_parser


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_no_help_text_shows_a_doubled_percent_sign():
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 10
    for p in parsers:
        text = p.format_help()
        assert "%%" not in text, (p.prog, text[text.index("%%") - 80 : text.index("%%") + 20])
    demo = next(p for p in parsers if p.prog.endswith(" demo"))
    assert "95% intervals apart" in demo.format_help()
