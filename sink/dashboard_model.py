"""The dashboard's data model: bounded per-rank history, and immutable views to draw from.

`RunState` holds only the latest of everything (what logs need); a dashboard also wants the
metric series for its charts and the snapshots and findings of earlier capture steps to step
back through, and the trends of what captures measure (`TRENDS`: per-codebook loss and
accuracy, the conditioning effect) to chart over time. `DashboardModel` keeps them as a
`RunState` observer, so it sees every message in the receiving thread, in order, under the
state's lock; every series and the step history are ring buffers, so memory stays bounded
however long the run. Each capture keeps the
snapshots by kind (`sink.snapshot_kinds`) with what the sink computed for a viewer to show
of them (the kind's readings: decoded tokens, per-row verdicts), so no viewer computes or
judges anything itself. A front end asks for a `DashboardView` (a frozen copy, see
`sink.dashboard_view`) and draws it without holding any lock. Nothing here knows about Textual:
any viewer can use it.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from stratlog.protocol import Metrics, OutputSnapshot
from stratlog.sink import snapshot_kinds
from stratlog.sink.audio_clips import listed_files
from stratlog.sink.analysis.zero_shot import effects
from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.dashboard_view import DashboardView, run_view
from stratlog.sink.findings import Finding
from stratlog.sink.state import RunState

CHART_METRICS = ("loss", "text_loss", "audio_loss", "learning_rate", "grad_norm", "tokens_per_second")
"""Metrics drawn as charts, in screen order."""
METRIC_POINTS = 600
"""Points kept per rank and metric: more than any terminal chart is wide."""
CAPTURE_STEPS = 32
"""Capture steps kept per rank for step history (at full size about 60 KiB each)."""
TREND_POINTS = 300
"""Captures kept per rank and trend: a few KiB, more than any terminal chart is wide."""


@dataclass(frozen=True)
class Trend:
    """One measurement of a snapshot kind charted over capture steps, one line per element."""

    key: str
    title: str
    snapshot: str
    """The snapshot kind measured (a key of `sink.snapshot_kinds`)."""
    values: Callable[[Any], tuple[float, ...]]
    """The snapshot -> this capture's values (one per line: codebook, ...); empty: not measured."""
    line_label: str | tuple[str, ...]
    """Label of one line, formatted with its index ("cb{}"), or each line's name."""
    higher_is_better: bool
    """Which end a viewer lists first when not every line fits (the worst first)."""
    percent: bool = False
    """Values are fractions a viewer shows as percentages."""


def _mean_effect(snapshot) -> tuple[float, ...]:
    """The capture's mean conditioning effect, as the zero-shot analysis judges it; a skipped
    or unmeasured snapshot has none."""
    measured = effects(snapshot)
    measured = measured[np.isfinite(measured)]
    return (float(measured.mean()),) if measured.size else ()


TRENDS = (
    Trend("codebook_loss", "Loss per codebook", "output", lambda output: tuple(output.codebook_losses.to_numpy().tolist()),
          "cb{}", higher_is_better=False),
    Trend("codebook_accuracy", "Accuracy per codebook", "output",
          lambda output: tuple(output.codebook_accuracies.to_numpy().tolist()), "cb{}", higher_is_better=True,
          percent=True),
    Trend("conditioning_effect", "Conditioning effect (nats)", "zero_shot", _mean_effect, "effect",
          higher_is_better=True),
)
"""Trends charted over captures, in screen order."""

SIM_TREND = Trend("sim", "SIM to the reference (speaker cosine)", "zero_shot",
                  lambda row: (row["sim_reference_predicted"], row["sim_reference_target"]),
                  ("predicted", "target"), higher_is_better=True)
"""SIM(reference, decoded prediction) beside its ceiling SIM(reference, decoded target), per
capture: scored by the sink's audio decoder (--audio-tokenizer with stratlog[voice]), so charted
on the zero-shot tab, next to the conditioning effect, only by a sink that decodes audio."""


@dataclass
class Capture:
    """Everything one rank sent and the sink found on one capture step."""

    step: int
    snapshots: dict[str, Any] = field(default_factory=dict)
    """Snapshot kind key -> the snapshot of this step."""
    readings: dict[str, Any] = field(default_factory=dict)
    """Snapshot kind key -> what the sink computed for viewers to show (the kind's `readings`)."""
    findings: dict[str, dict[str, Finding]] = field(default_factory=dict)
    """Analysis -> check -> its latest finding at this step: a step sent again (a rank resumed
    from a checkpoint, a forged frame) replaces its verdicts, as it replaces the snapshot, so the
    capture neither shows a check twice nor grows."""
    audio_files: list[str] = field(default_factory=list)
    """The capture's WAV files relative to the log folder, when the sink decodes audio
    (--audio-tokenizer, sink.audio_clips); written by the decoding process shortly after."""

    def frozen_copy(self) -> Capture:
        """Snapshots and readings never change once received; later kinds and checks join."""
        return replace(self, snapshots=dict(self.snapshots), readings=dict(self.readings),
                       findings={analysis: dict(found) for analysis, found in self.findings.items()})


@dataclass
class RankHistory:
    metrics: dict[str, deque] = field(default_factory=lambda: {name: deque(maxlen=METRIC_POINTS) for name in CHART_METRICS})
    """Name -> recent (step, value)."""
    captures: OrderedDict[int, Capture] = field(default_factory=OrderedDict)
    """Step -> capture, oldest first, at most CAPTURE_STEPS."""
    trends: dict[str, deque] = field(default_factory=lambda: {trend.key: deque(maxlen=TREND_POINTS)
                                                              for trend in (*TRENDS, SIM_TREND)})
    """Trend key -> recent (step, values)."""

    def capture(self, step: int) -> Capture:
        if step not in self.captures:
            self.captures[step] = Capture(step)
            while len(self.captures) > CAPTURE_STEPS:
                self.captures.popitem(last=False)
        return self.captures[step]


class DashboardModel:
    """A `RunState` observer; `listener` (set by a front end) is called after every change, in
    the receiving thread, so it must only schedule a redraw, never draw."""

    def __init__(self, state: RunState, contexts: dict[str, RunContext],
                 metric_verdicts: dict[tuple[str, int], dict[str, Finding]] | None = None, *, audio_files: bool = False):
        """`contexts`: run id -> the pipeline's context of the run, which readings need (tokenizer);
        `metric_verdicts`: (run, rank) -> check -> the metrics analysis's latest verdict, changed
        or not (`MetricsHealth.latest`): findings only say when a verdict changes, so the view
        would otherwise show step 1's "lr 0 during warmup" long after warmup. `audio_files`: the
        pipeline decodes each capture's audio, so captures list their WAV files."""
        self.state = state
        self.audio_files = audio_files
        self.contexts = contexts
        self.metric_verdicts = metric_verdicts if metric_verdicts is not None else {}
        self.histories: dict[str, dict[int, RankHistory]] = {}
        """Run id -> rank -> its history: every run the sink has seen, so a viewer can switch runs."""
        self.run_findings: dict[str | None, dict[tuple[str, str], Finding]] = {}
        """Run id (None: the stream) -> latest finding per (analysis, check) about it as a whole (rank None)."""
        self.findings_totals: Counter = Counter()
        """Run id (None: the stream) -> findings recorded so far (`findings_total`)."""
        self.listener: Callable[[], None] | None = None
        state.observer = self

    @classmethod
    def attach(cls, pipeline) -> DashboardModel:
        """The model of a `SinkPipeline`'s state, with the pipeline's run contexts."""
        return cls(pipeline.state, pipeline.contexts, pipeline.metrics_health.latest,
                   audio_files=pipeline.audio_clips is not None)

    @property
    def trends(self) -> tuple[Trend, ...]:
        """The trends a viewer charts: SIM too where the sink decodes audio."""
        return (*TRENDS, SIM_TREND) if self.audio_files else TRENDS

    @property
    def ranks(self) -> dict[int, RankHistory]:
        """The shown run's histories."""
        return self.histories.get(self.state.run_id, {})

    @property
    def findings_total(self) -> int:
        """Findings about the shown run or the stream so far, so a viewer appends only new ones."""
        return self.findings_totals[None] + self.findings_totals[self.state.run_id]

    def message_applied(self, message) -> None:
        history = self.histories.setdefault(message.run_id, {}).setdefault(message.rank, RankHistory())
        if isinstance(message, Metrics):
            for name, series in history.metrics.items():
                if name in message.values:
                    series.append((message.step, message.values[name]))
        elif (kind := snapshot_kinds.kind_of_snapshot(message)) is not None:
            capture = history.capture(message.step)
            capture.snapshots[kind.key] = message
            if self.audio_files and isinstance(message, OutputSnapshot):
                capture.audio_files = listed_files(message)
            if kind.readings is not None:
                capture.readings[kind.key] = kind.readings(message, self.contexts[message.run_id])
            for trend in TRENDS:
                if trend.snapshot == kind.key and (values := trend.values(message)):
                    history.trends[trend.key].append((message.step, values))
        self._changed()

    def sim_scored(self, row: dict) -> None:
        if "sim_reference_predicted" in row and "sim_reference_target" in row:
            history = self.histories.setdefault(row["run_id"], {}).setdefault(row["rank"], RankHistory())
            history.trends[SIM_TREND.key].append((row["step"], SIM_TREND.values(row)))
            self._changed()

    def run_switched(self, run_id: str) -> None:
        self._changed()  # every run's history is kept: the view just reads another one

    def run_forgotten(self, run_id: str) -> None:
        for kept in (self.histories, self.run_findings, self.findings_totals):
            kept.pop(run_id, None)

    def findings_recorded(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.findings_totals[finding.run_id] += 1
            if finding.rank is None:
                self.run_findings.setdefault(finding.run_id, {})[(finding.analysis, finding.check)] = finding
                continue
            history = self.histories.get(finding.run_id, {}).get(finding.rank)
            if history is not None and finding.step in history.captures:
                history.captures[finding.step].findings.setdefault(finding.analysis, {})[finding.check] = finding
        self._changed()

    def drawing_failed(self, widget: str, error: Exception, *, rank: int | None, step: int | None) -> None:
        """A viewer could not draw `widget` for the capture of `rank` at `step`: counted with the
        sink's analysis errors (the header) and written to events.jsonl by the pipeline."""
        self.state.count_analysis_error({"event": "analysis_error", "where": f"dashboard {widget}", "rank": rank,
                                         "step": step, "error": f"{type(error).__name__}: {str(error)[:300]}"})

    def _changed(self) -> None:
        if self.listener is not None:
            self.listener()

    def view(self, rank: int | None = None, step: int | None = None, *, now: float) -> DashboardView:
        """What to draw for `rank` (None: rank 0, or the lowest known) at capture `step` (None:
        the latest); `now` is the viewer's clock (wall clock live, the replay's clock in a replay)."""
        with self.state.lock:
            ranks = sorted(self.state.ranks)
            if rank not in self.state.ranks:
                rank = ranks[0] if ranks else None
            history = self.ranks.get(rank, RankHistory())
            steps = tuple(history.captures)
            shown = step if step in history.captures else (steps[-1] if steps else None)
            capture = history.captures[shown].frozen_copy() if shown is not None else None
            metrics = {name: tuple(series) for name, series in history.metrics.items()}
            trends = {trend.key: tuple(history.trends[trend.key]) for trend in self.trends}
            verdicts = tuple(self.metric_verdicts.get((self.state.run_id, rank), {}).values())
            return run_view(self.state, rank, metrics, trends, steps, capture, step is None,
                            (*self.run_findings.get(None, {}).values(),
                             *self.run_findings.get(self.state.run_id, {}).values()), verdicts, self.findings_total, now)

