"""`DashboardView`: one frozen picture of the run for one rank and capture step.

Built under the state's lock by `sink.dashboard_model.DashboardModel.view` and drawn without
it, so a front end never races the receiving thread and never holds the lock while it renders.
Findings are grouped into panels here, one per snapshot kind (`sink.snapshot_kinds`) and one for
the metrics and the stream, so every front end groups them alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratlog.sink import snapshot_kinds
from stratlog.sink.backlog import SinkLoad
from stratlog.sink.findings import FAIL, OK, PENDING, WARN, Finding

STREAM_PANEL = ("stream", "Metrics & stream")
"""The panel of the latest metrics and stream-health verdicts (the others: one capture step's)."""
SEVERITY_ORDER = {FAIL: 0, WARN: 1, PENDING: 2, OK: 3}
"""Worst first: a check still in its grace comes before the ones that passed."""
HISTORY_SHOWN = 200
"""Recent findings a view carries for the history panel."""


@dataclass(frozen=True)
class RankSummary:
    rank: int
    step: int
    status: str
    """"live", "stalled", or the run-end status."""


@dataclass(frozen=True)
class DashboardView:
    run_id: str
    world_size: int
    messages: int
    drops: int
    """Messages the ranks say they dropped."""
    gaps: int
    """Messages missing from the ranks' sequences."""
    bad_frames: int
    analysis_errors: int
    """Frames the sink failed to analyse, log or draw (events.jsonl says where and why)."""
    sink_load: SinkLoad | None
    """The live sink's lag, backlog and own drops; None in a replay."""
    writes_paused: str
    """The outputs a refusing disk (ENOSPC, EIO) has paused and why ("recording: No space left
    on device"); empty when all write. Analysis goes on meanwhile."""
    last_message_age_s: float | None
    """Seconds since the newest message of any rank, on the viewer's clock."""
    ranks: tuple[RankSummary, ...]
    rank: int | None
    """The rank shown."""
    metrics: dict[str, tuple[tuple[int, float], ...]]
    """The shown rank's chart series: name -> (step, value) pairs."""
    trends: dict[str, tuple[tuple[int, tuple[float, ...]], ...]]
    """The shown rank's trends over captures (`sink.dashboard_model.TRENDS`): key -> (step, values)."""
    capture_steps: tuple[int, ...]
    """Capture steps of the shown rank still in history, oldest first."""
    capture: object | None
    """The shown `Capture` (sink.dashboard_model), or None before the first one."""
    following: bool
    """True when the view follows the latest capture rather than a chosen one."""
    panels: dict[str, tuple[Finding, ...]]
    """Panel key (`panels()`) -> findings to show, worst first."""
    findings_total: int
    recent_findings: tuple[Finding, ...]

    @property
    def step(self) -> int:
        return max((summary.step for summary in self.ranks), default=0)

    @property
    def shown_step(self) -> int | None:
        return self.capture.step if self.capture is not None else None


def panels() -> tuple[tuple[str, str], ...]:
    """(key, title) of every panel, in screen order: the snapshot kinds', then the stream's."""
    return (*((kind.key, kind.title) for kind in snapshot_kinds.SNAPSHOT_KINDS), STREAM_PANEL)


def rank_status(rank_state) -> str:
    return rank_state.ended or ("stalled" if rank_state.stalled else "live")


def run_view(state, rank: int | None, metrics: dict, trends: dict, capture_steps: tuple[int, ...], capture,
             following: bool, run_findings: tuple[Finding, ...], metric_verdicts: tuple[Finding, ...],
             findings_total: int, now: float) -> DashboardView:
    """Called with `state.lock` held. `metric_verdicts`: the metrics checks' latest verdicts,
    shown instead of their latest changes."""
    ranks = [state.ranks[number] for number in sorted(state.ranks)]
    newest = max((r.last_message_time for r in ranks), default=0.0)
    latest = list(state.ranks[rank].findings.values()) if rank is not None else []
    step_findings = capture.findings if capture is not None else {}
    shown = {kind.key: _worst_first(list(step_findings.get(kind.key, {}).values())) for kind in snapshot_kinds.SNAPSHOT_KINDS}
    evaluated = {finding.check for finding in metric_verdicts}
    stream_findings = [f for f in latest if f.analysis == "stream" or (f.analysis == "metrics" and f.check not in evaluated)]
    shown[STREAM_PANEL[0]] = _worst_first(stream_findings + list(metric_verdicts) + list(run_findings))
    recent = [f for f in state.recent_findings if f.run_id in (None, state.run_id)][-HISTORY_SHOWN:]  # the shown run
    return DashboardView(
        run_id=state.run_id, world_size=state.world_size, messages=state.messages,
        drops=sum(r.reported_drops for r in ranks), gaps=sum(r.gaps for r in ranks),
        bad_frames=sum(state.bad_frames.values()), analysis_errors=sum(state.analysis_errors.values()),
        sink_load=state.load, writes_paused=_writes_paused(state.writes_paused), last_message_age_s=max(now - newest, 0.0) if ranks else None,
        ranks=tuple(RankSummary(r.rank, r.step, rank_status(r)) for r in ranks), rank=rank, metrics=metrics, trends=trends,
        capture_steps=capture_steps, capture=capture, following=following, panels=shown,
        findings_total=findings_total, recent_findings=tuple(recent),
    )


def _worst_first(findings: list[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, len(SEVERITY_ORDER)), f.analysis, f.check)))


def _writes_paused(paused: dict[str, str]) -> str:
    """One short text per reason: a full disk pauses every output at once, for one reason."""
    outputs_by_reason: dict[str, list[str]] = {}
    for output, reason in paused.items():
        outputs_by_reason.setdefault(reason, []).append(output)
    return "; ".join(f"{', '.join(outputs)}: {reason}" for reason, outputs in outputs_by_reason.items())
