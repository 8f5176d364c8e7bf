"""Shared fixtures: the embedded demo assets (built once per session) and process hygiene.

Run the fast tests with `./run-tests -m "not slow"`, everything with `./run-tests`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.processes import ProcessGroup

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def demo_assets():
    """The embedded tiny checkpoint and synthetic data, built deterministically once; the
    cache folder comes from $STRATLOG_CACHE (CI points it into the clone)."""
    from stratlog.trainer.embedded import prepare_demo

    return prepare_demo()


@pytest.fixture
def process_group():
    group = ProcessGroup()
    yield group
    group.kill_all()
