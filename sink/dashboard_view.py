"""`DashboardView`: one frozen picture of the run for one rank and capture step.

Built under the state's lock by `sink.dashboard_model.DashboardModel.view` and drawn without
it, so a front end never races the receiving thread and never holds the lock while it renders.
Findings are grouped into the five analysis panels here, so every front end groups them alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratlog.sink.findings import FAIL, OK, WARN, Finding

PANELS = (
    ("input", "Input"),
    ("output", "Output"),
    ("attention", "Shared attn / DualFFN"),
    ("zero_shot", "Zero-shot"),
    ("stream", "Metrics & stream"),
)
"""Analysis panel key -> title; "stream" gathers the metrics and stream-health findings."""
STEP_BOUND = ("input", "output", "attention", "zero_shot")
"""Panels whose findings belong to one capture step (the others show the latest verdicts)."""
SEVERITY_ORDER = {FAIL: 0, WARN: 1, OK: 2}
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
    last_message_age_s: float | None
    """Seconds since the newest message of any rank, on the viewer's clock."""
    ranks: tuple[RankSummary, ...]
    rank: int | None
    """The rank shown."""
    metrics: dict[str, tuple[tuple[int, float], ...]]
    """The shown rank's chart series: name -> (step, value) pairs."""
    capture_steps: tuple[int, ...]
    """Capture steps of the shown rank still in history, oldest first."""
    capture: object | None
    """The shown `Capture` (sink.dashboard_model), or None before the first one."""
    following: bool
    """True when the view follows the latest capture rather than a chosen one."""
    panels: dict[str, tuple[Finding, ...]]
    """Panel key (PANELS) -> findings to show, worst first."""
    findings_total: int
    recent_findings: tuple[Finding, ...]

    @property
    def step(self) -> int:
        return max((summary.step for summary in self.ranks), default=0)

    @property
    def shown_step(self) -> int | None:
        return self.capture.step if self.capture is not None else None


def rank_status(rank_state) -> str:
    return rank_state.ended or ("stalled" if rank_state.stalled else "live")


def run_view(state, rank: int | None, metrics: dict, capture_steps: tuple[int, ...], capture, following: bool,
             run_findings: tuple[Finding, ...], findings_total: int, now: float) -> DashboardView:
    """Called with `state.lock` held."""
    ranks = [state.ranks[number] for number in sorted(state.ranks)]
    newest = max((r.last_message_time for r in ranks), default=0.0)
    latest = list(state.ranks[rank].findings.values()) if rank is not None else []
    panels = {key: () for key, _ in PANELS}
    if capture is not None:
        for key in STEP_BOUND:
            panels[key] = _worst_first(capture.findings.get(key, []))
    panels["stream"] = _worst_first([f for f in latest if f.analysis in ("metrics", "stream")] + list(run_findings))
    recent = [f for f in state.recent_findings if f.run_id in (None, state.run_id)][-HISTORY_SHOWN:]  # the shown run
    return DashboardView(
        run_id=state.run_id, world_size=state.world_size, messages=state.messages,
        drops=sum(r.reported_drops for r in ranks), gaps=sum(r.gaps for r in ranks),
        bad_frames=sum(state.bad_frames.values()), last_message_age_s=max(now - newest, 0.0) if ranks else None,
        ranks=tuple(RankSummary(r.rank, r.step, rank_status(r)) for r in ranks), rank=rank, metrics=metrics,
        capture_steps=capture_steps, capture=capture, following=following, panels=panels,
        findings_total=findings_total, recent_findings=tuple(recent),
    )


def _worst_first(findings: list[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 3), f.analysis, f.check)))
