"""`MetricChart`: one metric of the shown rank as a sparkline under its latest, min and max.

A sparkline is all a glance needs (is the loss falling, did the grad norm spike?); the exact
series is in metrics.jsonl. Each bar is the mean of the points it covers, so a one-step spike
stays visible without dominating a long run.
"""

from __future__ import annotations

import math
from statistics import fmean

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from stratlog.sink.dashboard_view import DashboardView

LABELS = {"loss": "loss", "text_loss": "text loss", "audio_loss": "audio loss", "learning_rate": "lr",
          "grad_norm": "grad norm", "tokens_per_second": "tokens/s"}


class MetricChart(Vertical):
    def __init__(self, metric: str):
        super().__init__(id=f"chart-{metric.replace('_', '-')}", classes="metric-chart")
        self.metric = metric
        self._drawn: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(classes="chart-label")
        yield Sparkline([], summary_function=fmean)

    def show(self, view: DashboardView) -> None:
        series = view.metrics.get(self.metric, ())
        key = (len(series), series[-1] if series else None, series[0] if series else None)
        if key == self._drawn:
            return
        self._drawn = key
        values = [value for _, value in series if math.isfinite(value)]
        self.query_one(Static).update(chart_label(self.metric, series, values))
        self.query_one(Sparkline).data = values


def chart_label(metric: str, series, values: list[float]) -> Text:
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(LABELS.get(metric, metric), style="bold")
    if not series:
        return label.append("  no data yet", style="dim")
    latest = series[-1][1]
    label.append(f" {_number(latest)}", style="bold cyan" if math.isfinite(latest) else "bold white on red")
    if values:
        label.append(f"  {_number(min(values))}–{_number(max(values))}", style="dim")
    return label


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e5 else f"{value:.3e}"
