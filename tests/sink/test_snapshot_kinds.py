"""A snapshot kind added through the table alone is analysed, logged and shown.

A toy kind (its message class, analysis, log section and readings all defined here) joins
`sink.snapshot_kinds.SNAPSHOT_KINDS` for the duration of a test, and nothing else is touched:
the pipeline judges it, the human log gives it a section after the seed's kinds,
findings.jsonl holds its findings, the dashboard model keeps it with its readings, the view
gives it a panel, and the Textual screen a panel and a tab. Messages go to the pipeline
decoded (`handle_message`): the protocol's decoder knows only the protocol's kinds.
Run: ./run-tests tests/sink/test_snapshot_kinds.py"""

from __future__ import annotations

import json

import numpy as np
import pytest
from textual.widgets import TabbedContent

from stratlog.protocol import Array
from stratlog.protocol.envelope import Envelope
from stratlog.sink import human_log, snapshot_kinds
from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.dashboard_view import panels
from stratlog.sink.findings import OK, WARN, Finding
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.snapshot_kinds import SnapshotKind
from stratlog.tui.app import DashboardApp
from tests.sink.builders import envelope, input_snapshot, run_start
from tests.tui.replayed import text_of

T0 = 1_700_000_000.0
ANALYSIS = "toy"
CLIPPING_DBFS = -1.0


class ToySnapshot(Envelope, kw_only=True, tag="toy_snapshot"):
    """Shaped like the strategic snapshots: the envelope, then the kind's measurements."""

    peak_dbfs: Array
    """Peak level of each sample's target audio, dBFS, shape [samples]."""


class ToyAnalysis:
    def evaluate(self, message: ToySnapshot, context) -> list[Finding]:
        loudest = float(message.peak_dbfs.to_numpy().max())
        severity = WARN if loudest > CLIPPING_DBFS else OK
        return [Finding(message.run_id, message.rank, message.step, ANALYSIS, "clipping", severity,
                        f"the loudest sample peaks at {loudest:.1f} dBFS", loudest)]


def toy_section(message: ToySnapshot, findings: list[Finding], context) -> str:
    return human_log.tree("Toy Peak Levels", [("Peaks (dBFS)", str(message.peak_dbfs.to_numpy().tolist()))], findings)


def loudest_sample(message: ToySnapshot, context) -> int:
    return int(message.peak_dbfs.to_numpy().argmax())


TOY = SnapshotKind(ANALYSIS, ToySnapshot, ToyAnalysis, toy_section, "Toy peaks", readings=loudest_sample)


@pytest.fixture
def toy_kind(monkeypatch):
    monkeypatch.setattr(snapshot_kinds, "SNAPSHOT_KINDS", (*snapshot_kinds.SNAPSHOT_KINDS, TOY))


def fed(log_dir) -> tuple[SinkPipeline, DashboardModel]:
    """A pipeline (with a dashboard model) that received a run start, then step 10's input and toy snapshots."""
    pipeline = SinkPipeline(log_dir)
    model = DashboardModel.attach(pipeline)
    toy = ToySnapshot(**envelope(seq=2), peak_dbfs=Array.from_numpy(np.array([-12.0, -0.5], dtype=np.float32)))
    for index, message in enumerate((run_start(), input_snapshot(seq=1), toy)):
        pipeline.handle_message(message, T0 + index * 0.01)
    return pipeline, model


def test_a_kind_added_to_the_table_is_analysed_logged_and_listed(tmp_path, toy_kind):
    pipeline, model = fed(tmp_path)
    view = model.view(now=T0)
    pipeline.close()
    findings = [json.loads(line) for line in (tmp_path / "findings.jsonl").read_text().splitlines()]
    assert [(f["check"], f["severity"], f["step"]) for f in findings if f["analysis"] == "toy"] == [("clipping", "WARN", 10)]
    entry = (tmp_path / "strategic_log.txt").read_text().split("Training Log - Step 10 ===")[1]
    assert entry.index("Input Sequence Analysis:") < entry.index("Toy Peak Levels:"), "one entry, in the table's order"
    assert "└── [WARN] clipping: the loudest sample peaks at -0.5 dBFS" in entry
    assert panels()[-2:] == (("toy", "Toy peaks"), ("stream", "Metrics & stream"))
    assert [finding.check for finding in view.panels["toy"]] == ["clipping"]
    assert view.capture.readings["toy"] == 1 and view.capture.snapshots["toy"].step == 10


async def test_the_dashboard_gives_a_kind_added_to_the_table_a_panel_and_a_tab(tmp_path, toy_kind):
    pipeline, model = fed(tmp_path)
    app = DashboardApp(model, source="toy kind")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            assert "clipping" in text_of(app.query_one("#toy-summary"))
            # The number keys were bound when the screen class was made, before this test added
            # the kind; the tab is chosen by its id instead.
            app.query_one(TabbedContent).active = "toy"
            await pilot.pause()
            assert "the loudest sample peaks at -0.5 dBFS" in text_of(app.query_one("#toy-findings"))
    finally:
        pipeline.close()
