"""The dashboard's data model: bounded per-rank history, and immutable views to draw from.

`RunState` holds only the latest of everything (what logs need); a dashboard also wants the
metric series for its charts and the snapshots and findings of earlier capture steps to step
back through. `DashboardModel` keeps them as a `RunState` observer, so it sees every message
in the receiving thread, in order, under the state's lock; every series and the step history
are ring buffers, so memory stays bounded however long the run. A front end asks for a
`DashboardView` (a frozen copy, see `sink.dashboard_view`) and draws it without holding any
lock. Nothing here knows about Textual: any viewer can use it.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from stratlog.protocol import AttentionSnapshot, InputSnapshot, Metrics, OutputSnapshot, RunStart, ZeroShotSnapshot
from stratlog.sink.dashboard_view import DashboardView, run_view
from stratlog.sink.findings import Finding
from stratlog.sink.state import RunState
from stratlog.sink.token_decoding import DecoderCache, TokenPiece

CHART_METRICS = ("loss", "text_loss", "audio_loss", "learning_rate", "grad_norm", "tokens_per_second")
"""Metrics drawn as charts, in screen order."""
METRIC_POINTS = 600
"""Points kept per rank and metric: more than any terminal chart is wide."""
CAPTURE_STEPS = 32
"""Capture steps kept per rank for step history (at full size about 60 KiB each)."""
SNAPSHOT_FIELDS = {InputSnapshot: "input", OutputSnapshot: "output", AttentionSnapshot: "attention",
                   ZeroShotSnapshot: "zero_shot"}


@dataclass(frozen=True)
class TokenRegion:
    """A stretch of the decoded input: `role` is "reference" or "target" for an audio segment
    of the first sample, "" for the text around them."""

    role: str
    pieces: tuple[TokenPiece, ...]


@dataclass
class Capture:
    """Everything one rank sent and the sink found on one capture step."""

    step: int
    input: InputSnapshot | None = None
    tokens: tuple[TokenRegion, ...] = ()
    output: OutputSnapshot | None = None
    attention: AttentionSnapshot | None = None
    zero_shot: ZeroShotSnapshot | None = None
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    """Analysis -> the findings of this step's snapshot."""

    def frozen_copy(self) -> Capture:
        """The snapshots never change once received; only the findings lists grow."""
        return replace(self, findings={analysis: list(found) for analysis, found in self.findings.items()})


@dataclass
class RankHistory:
    metrics: dict[str, deque] = field(default_factory=lambda: {name: deque(maxlen=METRIC_POINTS) for name in CHART_METRICS})
    """Name -> recent (step, value)."""
    captures: OrderedDict[int, Capture] = field(default_factory=OrderedDict)
    """Step -> capture, oldest first, at most CAPTURE_STEPS."""

    def capture(self, step: int) -> Capture:
        if step not in self.captures:
            self.captures[step] = Capture(step)
            while len(self.captures) > CAPTURE_STEPS:
                self.captures.popitem(last=False)
        return self.captures[step]


class DashboardModel:
    """A `RunState` observer; `listener` (set by a front end) is called after every change, in
    the receiving thread, so it must only schedule a redraw, never draw."""

    def __init__(self, state: RunState, decoders: DecoderCache | None = None):
        self.state = state
        self.decoders = decoders or DecoderCache()
        self.ranks: dict[int, RankHistory] = {}
        self.run_findings: dict[tuple[str, str], Finding] = {}
        """Latest finding per (analysis, check) about the stream as a whole (rank None)."""
        self.findings_total = 0
        """Findings recorded so far, so a viewer can append only the new ones to its history."""
        self.listener: Callable[[], None] | None = None
        self._tokenizer_paths: dict[str, str] = {}
        state.observer = self

    @classmethod
    def attach(cls, pipeline) -> DashboardModel:
        """The model of a `SinkPipeline`'s state, decoding with the pipeline's own tokenizers."""
        return cls(pipeline.state, pipeline.decoders)

    def message_applied(self, message) -> None:
        history = self.ranks.setdefault(message.rank, RankHistory())
        if isinstance(message, RunStart):
            self._tokenizer_paths[message.run_id] = message.tokenizer_path
        elif isinstance(message, Metrics):
            for name, series in history.metrics.items():
                if name in message.values:
                    series.append((message.step, message.values[name]))
        elif type(message) in SNAPSHOT_FIELDS:
            capture = history.capture(message.step)
            setattr(capture, SNAPSHOT_FIELDS[type(message)], message)
            if isinstance(message, InputSnapshot):
                capture.tokens = self._token_regions(message)
        self._changed()

    def run_switched(self, run_id: str) -> None:
        self.ranks.clear()
        self.run_findings.clear()

    def findings_recorded(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.findings_total += 1
            if finding.rank is None:
                self.run_findings[(finding.analysis, finding.check)] = finding
                continue
            history = self.ranks.get(finding.rank)
            if history is not None and finding.step in history.captures:
                history.captures[finding.step].findings.setdefault(finding.analysis, []).append(finding)
        self._changed()

    def _changed(self) -> None:
        if self.listener is not None:
            self.listener()

    def _token_regions(self, message: InputSnapshot) -> tuple[TokenRegion, ...]:
        """The first sample's ids cut at its audio segments, each stretch decoded to pieces."""
        ids = message.input_ids.to_numpy()
        decoder = self.decoders.get(self._tokenizer_paths.get(message.run_id))
        bounds = sorted((s.start, s.end, s.role) for s in message.segments if s.sample == 0 and s.start < s.end)
        regions, position = [], 0
        for start, end, role in bounds:
            start, end = max(start, position), min(end, len(ids))
            if start >= end:
                continue
            regions += [("", ids[position:start]), (role, ids[start:end])]
            position = end
        regions.append(("", ids[position:]))
        return tuple(TokenRegion(role, tuple(_pieces(decoder, part))) for role, part in regions if len(part))

    def view(self, rank: int | None = None, step: int | None = None, *, now: float) -> DashboardView:
        """What to draw for `rank` (None: the lowest) at capture `step` (None: the latest);
        `now` is the viewer's clock (wall clock live, the replay's clock in a replay)."""
        with self.state.lock:
            ranks = sorted(self.state.ranks)
            if rank not in self.state.ranks:
                rank = ranks[0] if ranks else None
            history = self.ranks.get(rank, RankHistory())
            steps = tuple(history.captures)
            shown = step if step in history.captures else (steps[-1] if steps else None)
            capture = history.captures[shown].frozen_copy() if shown is not None else None
            metrics = {name: tuple(series) for name, series in history.metrics.items()}
            return run_view(self.state, rank, metrics, steps, capture, step is None,
                            tuple(self.run_findings.values()), self.findings_total, now)


def _pieces(decoder, ids: np.ndarray) -> list[TokenPiece]:
    if decoder is None:
        return [TokenPiece("unknown", " ".join(map(str, ids.tolist())) + " ")]
    return decoder.pieces(ids)
