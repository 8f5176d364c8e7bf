"""The overview uses the terminal it gets (issue 17): at 80x24, 120x40 and 200x60 every metric
chart shown has a value axis and a step axis and grows with the height, findings wrap under
their badge and nothing is cut or collapsed while a panel has rows to spare; the trends over
captures show from 34 rows. Read from the drawn cells of the fixed recording
(tests/tui/replayed.py).
Run: ./run-tests tests/tui/test_overview_layout.py"""

from __future__ import annotations

import pytest
from textual.geometry import Region

from stratlog.tui.app import DashboardApp
from stratlog.tui.widgets.overview.metric_chart import MetricChart
from stratlog.tui.widgets.overview.trend_chart import TrendChart
from tests.tui.replayed import replayed

SIZES = {(80, 24): 3, (120, 40): 2, (200, 60): 6}
"""Terminal size -> the least bar rows each metric chart has there."""


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return replayed(tmp_path_factory.mktemp("logs"))


def drawn(widget) -> list[str]:
    return [strip.text for strip in widget.render_lines(Region(0, 0, *widget.outer_size))]


def inside(panel) -> list[str]:
    """A bordered panel's content lines (border and padding cut off)."""
    return [line[2:-2] for line in drawn(panel)[1:-1]]


@pytest.mark.parametrize("size", SIZES)
async def test_charts_have_axes_and_findings_wrap_at_every_size(recording, size):
    model, player = recording
    app = DashboardApp(model, source="replay demo-20-steps.stratrec", player=player)
    app.animation_level = "none"
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()  # the size's breakpoint classes restyle the screen after the first pause
        charts = [chart for chart in app.query(MetricChart) if chart.display]
        assert len(charts) == (6 if size[1] >= 34 else 3), "a short terminal keeps loss, lr and grad norm"
        for chart in charts:
            lines = drawn(chart)
            assert "┤" in lines[1] and "┤" in lines[-2], f"{chart.metric}: min and max on the value axis"
            assert lines[-1].lstrip().startswith("step└1") and lines[-1].rstrip().endswith("20"), chart.metric
            assert len(lines) - 2 >= SIZES[size], f"{chart.metric} has {len(lines) - 2} bar rows at {size}"

        trends = list(app.query("#trends TrendChart"))
        if size[1] >= 34:
            assert len(trends) == 3 and all(any(line.lstrip().startswith("step└") for line in drawn(trend))
                                            for trend in trends)
        else:
            assert not app.query_one("#trends").display, "below 34 rows the trends make room"

        panels = {panel.id: inside(panel) for panel in app.query(".findings-panel.compact")}
        wrapped = [panel for panel, lines in panels.items()
                   if any(line[:4].strip() and next_line.startswith("     ") and next_line.strip()
                          for line, next_line in zip(lines, lines[1:]))]
        assert wrapped, f"no finding wraps at {size}"
        for panel, lines in panels.items():
            cut = any(line.rstrip().endswith("…") or " more: " in line for line in lines)
            assert lines[-1].strip() or not cut, f"{panel} cuts or collapses findings with rows to spare"
