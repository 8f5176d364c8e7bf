"""The pipeline's side of `--report-to`: records to every target, their backlog to the logs.

`Reporter.load_news` is asked after each handled frame and on idle ticks: a target that dropped
records (its queue full: the target is slow or stopped) or whose writer raised since the last
look is reported once per REPORT_S as an event (`report_backlog`) and a WARN finding, and once
more when it has caught up. The sink's own logs and recording stay complete whatever happens.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path

from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.findings import OK, WARN, Finding
from stratlog.sink.report.handoff import HandOff, HandOffLoad, Writer
from stratlog.sink.report.records import FindingCounts, clip_records, message_records, sim_records

REPORT_S = 10.0
"""Seconds between two backlog reports of one target while it keeps falling behind."""
CHECK_S = 0.5
"""How often the pipeline's look at the targets' queues actually looks."""
ANALYSIS = "report"
"""The findings' analysis name."""


def _tensorboard(log_dir: Path) -> Writer:
    from stratlog.sink.report.tensorboard_export import TensorBoardWriter

    return TensorBoardWriter(log_dir / "tensorboard")


def _wandb(log_dir: Path) -> Writer:
    from stratlog.sink.report.wandb_export import WandbWriter

    return WandbWriter(log_dir)  # W&B makes its own wandb/ folder in it


TARGETS: dict[str, tuple[Callable[[Path], Writer], tuple[str, ...]]] = {
    "tensorboard": (_tensorboard, ("tensorboard", "google_crc32c")),
    "wandb": (_wandb, ("wandb",)),
}
"""Target name (also its extra, `stratlog[NAME]`) -> (its writer, the modules it needs)."""


def parse_targets(text: str) -> list[str]:
    """`--report-to tensorboard,wandb` -> its targets, each known and installed (ValueError naming
    the stranger, or the extra that installs a missing package)."""
    targets = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in targets if name not in TARGETS]
    if unknown or not targets:
        raise ValueError(f"unknown --report-to target {', '.join(unknown) or repr(text)}; "
                         f"choose from {', '.join(TARGETS)} (comma-separated)")
    for name in targets:
        for module in TARGETS[name][1]:
            if importlib.util.find_spec(module) is None:
                raise ValueError(f"--report-to {name} needs the {module} module: pip install 'stratlog[{name}]'")
    return list(dict.fromkeys(targets))


class Reporter:
    def __init__(self, handoffs: list[HandOff]):
        self.handoffs = handoffs
        self._counts = FindingCounts()
        self._next_check = 0.0
        self._reported: dict[str, tuple[float, int, int]] = {}
        """Target -> (when, dropped, errors) of its latest backlog report, while behind."""

    @classmethod
    def for_targets(cls, targets: list[str], log_dir: Path, *, max_records: int | None = None) -> Reporter:
        """`targets` from `parse_targets` (known, installed): each writer on its own hand-off thread."""
        writers = [TARGETS[name][0](log_dir) for name in targets]
        return cls([HandOff(writer) if max_records is None else HandOff(writer, max_records=max_records)
                    for writer in writers])

    def offer_message(self, message, context: RunContext, *, run_ended: bool) -> None:
        self._offer(message_records(message, context, run_ended=run_ended))

    def offer_findings(self, findings: list[Finding]) -> None:
        self._offer(self._counts.records(findings, time.time()))

    def offer_sim(self, row: dict) -> None:
        self._offer(sim_records(row))

    def offer_clips(self, folder: Path, decoded: list[dict]) -> None:
        for capture in decoded:
            self._offer(clip_records(folder, capture))

    def _offer(self, records: list) -> None:
        for record in records:
            for handoff in self.handoffs:
                handoff.offer(record)

    def load_news(self) -> list[tuple[dict, Finding]]:
        """Targets newly behind (or caught up) since the last look: an event and a finding each."""
        now = time.monotonic()
        if now < self._next_check:
            return []
        self._next_check = now + CHECK_S
        news = []
        for load in (handoff.load() for handoff in self.handoffs):
            previous = self._reported.get(load.target)
            if previous is None:
                if load.dropped or load.errors:
                    news.append(_news(load, WARN))
                    self._reported[load.target] = (now, load.dropped, load.errors)
            elif (load.dropped, load.errors) != previous[1:] and now - previous[0] >= REPORT_S:
                news.append(_news(load, WARN))
                self._reported[load.target] = (now, load.dropped, load.errors)
            elif (load.dropped, load.errors) == previous[1:] and not load.backlog:
                news.append(_news(load, OK))
                del self._reported[load.target]
        return news

    def close(self) -> list[dict]:
        """Finishes every target (bounded: a blocked one is left behind); an event for each."""
        events = []
        for handoff in self.handoffs:
            finished = handoff.close()
            load = handoff.load()
            events.append({"event": "report_closed", "target": load.target, "finished": finished,
                           "written": load.written, "unwritten": load.backlog, "dropped": load.dropped,
                           "errors": load.errors})
        return events


def _news(load: HandOffLoad, severity: str) -> tuple[dict, Finding]:
    record = {"event": "report_backlog", "target": load.target, "time": round(time.time(), 3), "backlog": load.backlog,
              "dropped": load.dropped, "errors": load.errors, "written": load.written}
    if load.last_error:
        record["last_error"] = load.last_error
    if severity == OK:
        reason = f"--report-to {load.target} caught up: its writer takes records again ({load.dropped} dropped in all)"
    else:
        reason = (f"--report-to {load.target} is behind: {load.backlog} records waiting, {load.dropped} dropped"
                  f"{f', {load.errors} failed ({load.last_error})' if load.errors else ''}; the {load.target} writer "
                  "is slow, stopped or failing (for W&B: its service process). The sink's own logs and recording "
                  "are complete; the export misses what was dropped")
    return record, Finding(None, None, None, ANALYSIS, f"{load.target}_backlog", severity, reason,
                           {"backlog": load.backlog, "dropped": load.dropped, "errors": load.errors})
