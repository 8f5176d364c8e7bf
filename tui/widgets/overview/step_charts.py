"""Charts over steps with a value axis and a step axis, drawn at the size of their widget.

Textual's Sparkline has neither axes nor more than one row of resolution, and the lock holds no
chart library (textual-plotext), so the overview's charts are Rich renderables drawn here: each
is laid out at the width and height Textual gives it (`options.max_width`, `options.height`),
so a chart grows with the terminal. Steps are on a linear axis: a column is the mean of the
points that fall in it, and a column no point falls in repeats the one before (captures are
sparser than columns), so a chart of 4 captures reads as 4 steps of a staircase. A non-finite
point (NaN loss) marks its column with a red `!` instead of vanishing from the chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

BLOCKS = " ▁▂▃▄▅▆▇█"
BAR_STYLE = "cyan"
AXIS_STYLE = "dim"
NOT_FINITE_STYLE = "bold red"
STEP_WORD = "step"
AXIS = "╎"
"""The value axis between its labels: dashed, so no chart line reads as a box's edge."""


def number(value: float) -> str:
    """A short form of any value a chart shows: 3 significant digits, exponent when large."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e5:
        return f"{value:.2e}"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def resampled(series: Sequence[tuple[int, float]], width: int) -> list[float | None]:
    """`series` (step, value), steps ascending, as `width` columns spanning its first to last step
    (a single step is one column)."""
    steps = np.fromiter((step for step, _ in series), dtype=float, count=len(series))
    values = np.fromiter((value for _, value in series), dtype=float, count=len(series))
    span = steps[-1] - steps[0]
    columns = np.zeros(len(series), dtype=int) if span == 0 else np.rint((steps - steps[0]) / span * (width - 1)).astype(int)
    finite = np.isfinite(values)
    sums = np.bincount(columns, weights=np.where(finite, values, 0.0), minlength=width)
    counts = np.bincount(columns, minlength=width)
    not_finite = np.bincount(columns, weights=~finite, minlength=width) > 0
    last = int(columns[-1])
    drawn: list[float | None] = []
    for index in range(width):
        if counts[index] == 0:
            drawn.append(drawn[-1] if drawn and index < last else None)
        else:
            drawn.append(math.nan if not_finite[index] else float(sums[index] / counts[index]))
    return drawn


def scale(values: Sequence[float | None]) -> tuple[float, float]:
    """The finite range of `values`, widened when flat so a flat line still has a height."""
    finite = [value for value in values if value is not None and math.isfinite(value)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    return (low, high) if high > low else (low - (abs(low) or 1.0) * 0.1, high)


def eighths(value: float, low: float, high: float, rows: int) -> int:
    """Bar height in eighths of a row: the range's bottom still shows a sliver, its top fills `rows`."""
    return 1 + round((value - low) / (high - low) * (rows * 8 - 1))


def bar_row(columns: Sequence[float | None], eighths_below: int, low: float, high: float, rows: int) -> Text:
    """One row of bars, the row with `eighths_below` eighths of bar under it: one style for the
    bars (a style per cell makes a chart ten times slower to draw), red marks where a column's
    value is not finite."""
    cells, not_finite = [], []
    for index, value in enumerate(columns):
        if value is None:
            cells.append(" ")
        elif not math.isfinite(value):
            cells.append("!" if eighths_below == 0 else " ")
            not_finite.append(index)
        else:
            cells.append(BLOCKS[min(max(eighths(value, low, high, rows) - eighths_below, 0), 8)])
    row = Text("".join(cells), style=BAR_STYLE)
    for index in not_finite:
        row.stylize(NOT_FINITE_STYLE, index, index + 1)
    return row


def step_axis(first: int, last: int, width: int, gutter: int) -> Text:
    """`step└5─────10─────15──20`: the steps written on the axis line where they fall."""
    line = ["─"] * width
    span = last - first
    labelled: list[tuple[int, str]] = [(0, str(first))]
    if span:
        end = str(last)
        labelled.append((width - len(end), end))
        interval = tick_interval(span, width)
        tick = (first // interval + 1) * interval
        while tick < last:
            column = round((tick - first) / span * (width - 1))
            label = str(tick)
            if column > labelled[-2][0] + len(labelled[-2][1]) + 1 and column + len(label) < labelled[-1][0] - 1:
                labelled.insert(-1, (column, label))
            tick += interval
    for column, label in labelled:
        if column >= 0 and column + len(label) <= width:
            line[column:column + len(label)] = label
    axis = Text(f"{STEP_WORD:>{gutter}}" if gutter >= len(STEP_WORD) else " " * gutter, style=AXIS_STYLE)
    return axis.append("└" + "".join(line), style=AXIS_STYLE)


def tick_interval(span: int, width: int) -> int:
    """A round step interval (1, 2, 5 x 10^k) giving a label about every 10 columns."""
    wanted = max(span * 10 / max(width, 1), 1)
    magnitude = 10 ** math.floor(math.log10(wanted))
    return next(factor * magnitude for factor in (1, 2, 5, 10) if factor * magnitude >= wanted)


class StepChart:
    """One series as bars over steps: a title line, bars between labelled min and max, the step axis."""

    def __init__(self, title: Text, series: Sequence[tuple[int, float]], *, note: Text | None = None,
                 empty: str = "no data yet"):
        """`note` follows the title where the width leaves room for it."""
        self.title = title
        self.series = series
        self.note = note
        self.empty = empty

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width, height = options.max_width, options.height or 5
        yield from cropped(self.lines(width, height), width)

    def lines(self, width: int, height: int) -> list[Text]:
        title = self.title.copy()
        if self.note is not None and title.cell_len + self.note.cell_len <= width:
            title.append_text(self.note)
        if not self.series:
            return [title, Text(self.empty, style="dim")]
        rows = max(height - 2, 1)
        finite = [value for _, value in self.series if math.isfinite(value)]
        labels = (number(max(finite)), number(min(finite))) if finite else ("", "")
        gutter = max(len(STEP_WORD), *map(len, labels))
        plot_width = max(width - gutter - 1, 1)
        columns = resampled(self.series, plot_width)
        low, high = scale(columns)
        lines = [title]
        for row in range(rows):
            label = labels[0] if row == 0 else labels[1] if row == rows - 1 else ""
            line = Text(f"{label:>{gutter}}" + ("┤" if label else AXIS), style=AXIS_STYLE)
            lines.append(line.append_text(bar_row(columns, (rows - 1 - row) * 8, low, high, rows)))
        lines.append(step_axis(self.series[0][0], self.series[-1][0], plot_width, gutter))
        return lines


class LinesOverSteps:
    """Several series on one shared scale, one row each (`label╎▁▃▅▇ latest`), over one step
    axis: small multiples, so a line that stays flat while the others move stands out. When
    the rows do not all fit, the worst lines (by their latest value) are shown and the title says so."""

    def __init__(self, title: str, points: Sequence[tuple[int, tuple[float, ...]]], line_label: str | Sequence[str], *,
                 higher_is_better: bool, show: Callable[[float], str] = number, empty: str = "no captures yet"):
        self.title = title
        self.points = points
        self.line_label = line_label
        self.higher_is_better = higher_is_better
        self.show = show
        self.empty = empty

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width, height = options.max_width, options.height or 10
        yield from cropped(self.lines(width, height), width)

    def lines(self, width: int, height: int) -> list[Text]:
        title = Text(self.title, style="bold")
        if not self.points:
            return [title, Text(self.empty, style="dim")]
        count = max(len(values) for _, values in self.points)
        series = [[(step, values[index]) for step, values in self.points if index < len(values)] for index in range(count)]
        latest = [line[-1][1] for line in series]
        order = list(range(count))
        fitting = max(height - 2, 1)
        if fitting < count:
            order = sorted(order, key=lambda index: worst_first(latest[index], self.higher_is_better))[:fitting]
            title.append(f"  worst {fitting} of {count}", style="dim")
        labels = [self.line_label.format(index) if isinstance(self.line_label, str) else self.line_label[index]
                  for index in range(count)]
        latest_shown = [self.show(value) for value in latest]
        gutter = max(len(STEP_WORD), *map(len, labels))
        value_width = max(map(len, latest_shown)) + 1
        plot_width = max(width - gutter - 1 - value_width, 1)
        columns = {index: resampled(series[index], plot_width) for index in order}
        low, high = scale([value for drawn in columns.values() for value in drawn])
        scale_note = f"  scale {self.show(low)}–{self.show(high)}"
        if title.cell_len + len(scale_note) <= width:
            title.append(scale_note, style="dim")
        lines = [title]
        for index in order:
            line = Text(f"{labels[index]:>{gutter}}{AXIS}", style=AXIS_STYLE).append_text(bar_row(columns[index], 0, low, high, 1))
            lines.append(line.append(f" {latest_shown[index]:>{value_width - 1}}", style="bold"))
        steps = [step for step, _ in self.points]
        lines.append(step_axis(min(steps), max(steps), plot_width, gutter))
        return lines


def worst_first(value: float, higher_is_better: bool) -> float:
    """Sort key: non-finite first, then the lowest (or highest) values."""
    if not math.isfinite(value):
        return -math.inf
    return value if higher_is_better else -value


def cropped(lines: list[Text], width: int) -> list[Text]:
    for line in lines:
        line.no_wrap, line.overflow = True, "crop"
        line.truncate(width)
    return lines
