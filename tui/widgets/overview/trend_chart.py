"""`TrendChart`: one trend of the shown rank over its capture steps (`sink.dashboard_model.TRENDS`):
per-codebook loss or accuracy as one row per codebook on a shared scale, the conditioning
effect as bars. Where the output and zero-shot tabs show one capture, these show whether a
codebook is learning and whether the model comes to use the reference voice. The overview
holds every trend (from 34 rows); each kind's tab holds its own, at every size.
"""

from __future__ import annotations

from rich.text import Text

from stratlog.sink.dashboard_model import Trend
from stratlog.sink.dashboard_view import DashboardView
from stratlog.tui.widgets.overview.metric_chart import chart_label, latest_step
from stratlog.tui.widgets.overview.step_charts import LinesOverSteps, StepChart, number
from stratlog.tui.widgets.view_widget import ViewWidget


class TrendChart(ViewWidget):
    def __init__(self, trend: Trend):
        super().__init__(classes=f"trend-chart trend-{trend.key.replace('_', '-')}")
        self.trend = trend

    def key_of(self, view: DashboardView):
        points = view.trends.get(self.trend.key, ())
        return len(points), points[-1] if points else None, points[0] if points else None

    def render_view(self, view: DashboardView) -> StepChart | LinesOverSteps:
        trend = self.trend
        points = view.trends.get(trend.key, ())
        if not points:
            return StepChart(Text(trend.title, style="bold"), (), empty="no captures yet")
        if all(len(values) == 1 for _, values in points):
            series = [(step, values[0]) for step, values in points]
            return StepChart(chart_label(trend.title, series), series, note=latest_step(series))
        return LinesOverSteps(trend.title, points, trend.line_label, higher_is_better=trend.higher_is_better,
                              show=percent if trend.percent else number)

def percent(value: float) -> str:
    return f"{value:.0%}"
