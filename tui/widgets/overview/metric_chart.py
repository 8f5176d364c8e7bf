"""`MetricChart`: one metric of the shown rank over steps, with its latest value, its min and
max on the value axis and the steps on the step axis (`step_charts.StepChart`).

The chart takes the height its grid cell gets, so a taller terminal shows more detail; the
exact series is in metrics.jsonl.
"""

from __future__ import annotations

import math

from rich.text import Text

from stratlog.sink.dashboard_view import DashboardView
from stratlog.tui.widgets.overview.step_charts import StepChart, number
from stratlog.tui.widgets.view_widget import ViewWidget

LABELS = {"loss": "loss", "text_loss": "text loss", "audio_loss": "audio loss", "learning_rate": "lr",
          "grad_norm": "grad norm", "tokens_per_second": "tokens/s"}
SECONDARY = {"text_loss", "audio_loss", "tokens_per_second"}
"""Charts a short terminal leaves out (dashboard.tcss), so its findings keep room to wrap:
loss, lr and grad norm are what says at a glance whether training runs."""


class MetricChart(ViewWidget):
    def __init__(self, metric: str):
        super().__init__(id=f"chart-{metric.replace('_', '-')}",
                         classes="metric-chart secondary" if metric in SECONDARY else "metric-chart")
        self.metric = metric

    def key_of(self, view: DashboardView):
        series = view.metrics.get(self.metric, ())
        return len(series), series[-1] if series else None, series[0] if series else None

    def render_view(self, view: DashboardView) -> StepChart:
        series = view.metrics.get(self.metric, ())
        return StepChart(chart_label(LABELS.get(self.metric, self.metric), series), series, note=latest_step(series))


def chart_label(name: str, series) -> Text:
    """`loss 4.12`: the latest value stands out, a non-finite one in red."""
    label = Text(name, style="bold")
    if series:
        latest = series[-1][1]
        label.append(f" {number(latest)}", style="bold cyan" if math.isfinite(latest) else "bold white on red")
    return label


def latest_step(series) -> Text | None:
    return Text(f"  at step {series[-1][0]}", style="dim") if series else None
