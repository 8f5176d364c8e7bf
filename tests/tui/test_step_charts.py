"""The overview's charts (tui/widgets/overview/step_charts.py): a value axis labelled with the
series' min and max, a step axis with the first and last step, as many bar rows as the height
allows, non-finite points shown, and per-line trends that keep the worst lines when short.
Run: ./run-tests tests/tui/test_step_charts.py"""

from __future__ import annotations

import io
import math

from rich.console import Console
from rich.text import Text

from stratlog.tui.widgets.overview.step_charts import LinesOverSteps, StepChart, step_axis

LOSS = [(step, 10.0 - step * 0.4) for step in range(1, 21)]


def drawn(renderable, width: int, height: int) -> list[str]:
    console = Console(width=width, height=height, file=io.StringIO(), color_system=None)
    console.print(renderable, height=height)
    return console.file.getvalue().splitlines()


def test_a_chart_has_a_value_axis_and_a_step_axis_and_fills_its_height():
    lines = drawn(StepChart(Text("loss 2"), LOSS), 40, 8)
    assert len(lines) == 8 and lines[0] == "loss 2"
    assert lines[1].startswith(" 9.6┤") and lines[6].startswith("   2┤"), "max on top, min at the bottom"
    assert lines[7].startswith("step└1") and lines[7].endswith("20") and "10" in lines[7]
    assert all(len(line) <= 40 for line in lines)
    top, bottom = lines[1].ljust(40), lines[6].ljust(40)
    assert top[5] == "█" and top[-1] == " " and bottom[-1] != " ", "the loss falls from left to right"


def test_a_taller_chart_draws_more_rows_of_bars():
    short, tall = drawn(StepChart(Text("loss"), LOSS), 40, 4), drawn(StepChart(Text("loss"), LOSS), 40, 12)
    assert sum("┤" in line or "╎" in line for line in short) == 2
    assert sum("┤" in line or "╎" in line for line in tall) == 10


def test_a_non_finite_point_is_marked_not_dropped():
    series = LOSS[:10] + [(11, math.nan)] + LOSS[11:]
    lines = drawn(StepChart(Text("loss"), series), 40, 6)
    assert "!" in lines[-2], "the NaN's column shows on the bottom row"


def test_the_step_axis_spaces_its_labels_and_never_overlaps_them():
    axis = step_axis(100, 2000, 60, 4).plain
    assert axis.startswith("step└100") and axis.endswith("2000") and len(axis) == 65
    labels = [part for part in axis[5:].split("─") if part]
    assert len(labels) >= 4 and [int(label) for label in labels] == sorted(int(label) for label in labels)


def test_lines_over_steps_draw_one_row_per_line_and_the_worst_when_short():
    points = [(5, (6.0, 5.0, 7.0)), (10, (5.0, 4.0, 6.9)), (15, (4.0, 3.0, 6.8))]
    full = drawn(LinesOverSteps("Loss per codebook", points, "cb{}", higher_is_better=False), 50, 6)
    assert [line.split("╎")[0].strip() for line in full[1:4]] == ["cb0", "cb1", "cb2"]
    assert full[4].startswith("step└5") and full[4].endswith("15")
    short = drawn(LinesOverSteps("Loss per codebook", points, "cb{}", higher_is_better=False), 50, 3)
    assert "worst 1 of 3" in short[0] and short[1].strip().startswith("cb2"), "the highest loss is the worst"
