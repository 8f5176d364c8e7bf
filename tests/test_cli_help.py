"""`stratlog --help` and every subcommand's --help: a description and one example each (a new
user's first look). Run: ./run-tests tests/test_cli_help.py"""

from __future__ import annotations

import pytest

from stratlog.cli import EXAMPLES, build_parser


def _subcommands():
    parser = build_parser()
    return next(action for action in parser._actions if action.dest == "command").choices


def test_the_top_help_has_one_example_per_subcommand():
    text = build_parser().format_help()
    assert set(_subcommands()) == set(EXAMPLES)
    for example in EXAMPLES.values():
        assert example in text


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_subcommand_help_has_a_description_and_its_example(name):
    subparser = _subcommands()[name]
    assert subparser.description and f"example:\n  {EXAMPLES[name]}" in subparser.format_help()
    assert EXAMPLES[name].startswith(f"stratlog {name}")


def test_view_says_the_dashboard_is_its_default():
    text = " ".join(_subcommands()["view"].format_help().split())
    assert "--headless No dashboard: WARN/FAIL lines and the summary in this terminal (default: the dashboard)" in text
    assert "--tui" not in text and "the default; for scripts" not in text
