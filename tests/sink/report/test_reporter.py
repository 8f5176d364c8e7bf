"""The pipeline's side of --report-to: a target that falls behind is reported once, and again
when it caught up (an event and a finding each), never waited for (issue 21)."""

from __future__ import annotations

import time

import pytest

from stratlog.sink.report import reporter as reporter_module
from stratlog.sink.report.handoff import HandOff
from stratlog.sink.report.reporter import Reporter, parse_targets
from tests.processes import wait_for
from tests.sink.report.test_handoff import BlockedWriter, record


def test_falling_behind_and_catching_up_are_each_reported_once(monkeypatch):
    monkeypatch.setattr(reporter_module, "CHECK_S", 0.0)
    writer = BlockedWriter()
    reporter = Reporter([HandOff(writer, max_records=3)])
    assert reporter.load_news() == []
    for step in range(10):
        reporter.handoffs[0].offer(record(step))
    [(event, finding)] = reporter.load_news()
    assert event["event"] == "report_backlog" and event["target"] == "blocked" and event["dropped"] > 0
    assert finding.check == "blocked_backlog" and finding.severity == "WARN"
    assert reporter.load_news() == []  # still behind, nothing new: no repeat
    writer.release.set()
    wait_for(lambda: reporter.handoffs[0].load().backlog == 0, 10, what="the writer to drain")
    [(event, finding)] = reporter.load_news()
    assert finding.severity == "OK" and event["backlog"] == 0
    assert reporter.close()[0]["finished"]


def test_looks_at_most_every_check_interval():
    writer = BlockedWriter()
    reporter = Reporter([HandOff(writer, max_records=1)])
    reporter.load_news()
    for step in range(5):
        reporter.handoffs[0].offer(record(step))
    assert reporter.load_news() == []  # within CHECK_S of the last look
    time.sleep(reporter_module.CHECK_S)
    assert len(reporter.load_news()) == 1
    writer.release.set()


@pytest.mark.parametrize("text", ["neptune", "tensorboard,neptune", ","])
def test_unknown_targets_are_named(text):
    with pytest.raises(ValueError, match="unknown --report-to target"):
        parse_targets(text)


def test_targets_are_deduplicated_in_order():
    assert parse_targets("wandb, tensorboard,wandb") == ["wandb", "tensorboard"]
