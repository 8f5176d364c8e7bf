"""`AttentionHeatmap`: one attention statistic over the sampled layers (rows) and heads (columns).

Shared attention is where Higgs Audio mixes text and audio; a dead head, a layer whose target
audio never looks at the reference, or heads all at maximum entropy show up as a dark row or a
flat colour faster than in any table. The statistic shown cycles with a key; colours are
scaled per table from its own minimum to maximum, printed below, so two steps compare by the
numbers, not the colours.
"""

from __future__ import annotations

import math

import numpy as np
from rich.color import Color
from rich.console import Group
from rich.style import Style
from rich.text import Text

from stratlog.sink.dashboard_view import DashboardView
from stratlog.tui.widgets.view_widget import CaptureWidget

TABLES = (
    ("target_to_reference", "target audio → reference audio mass"),
    ("text_to_audio", "text → audio mass"),
    ("audio_to_text", "audio → text mass"),
    ("entropy", "entropy (nats)"),
    ("max_weight", "largest weight"),
)
RAMP = ((13, 8, 135), (126, 3, 168), (204, 71, 120), (248, 149, 64), (240, 249, 33))
"""Plasma-like ramp: dark for low, bright for high, readable on a dark terminal."""


class AttentionHeatmap(CaptureWidget):
    snapshot = "attention"
    frame_title = "Heatmap: layers x heads"
    missing = "no attention snapshot at this step"
    table = 0
    """Index into TABLES of the statistic shown."""

    def next_table(self) -> None:
        self.table = (self.table + 1) % len(TABLES)
        self.redraw()

    def key_of(self, view: DashboardView):
        return (*super().key_of(view), self.table)

    def render_snapshot(self, capture, snapshot, readings) -> Group:
        name, title = TABLES[self.table]
        values = getattr(snapshot, name).to_numpy().astype(float)
        return Group(Text(f"{title}  (a: next statistic)", style="bold"),
                     *heatmap_rows(values, snapshot.layers, snapshot.heads), scale_line(values))


def heatmap_rows(values: np.ndarray, layers, heads) -> list[Text]:
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    header = Text("layer", style="dim").append("".join(f"{head:>3}" for head in heads), style="dim")
    rows = [header]
    for layer, row in zip(layers, values):
        line = Text(f"{layer:>5}", style="dim", no_wrap=True, overflow="ellipsis")
        for value in row:
            line.append(" ██" if math.isfinite(value) else " ??", style=_cell_style(value, low, high))
        rows.append(line)
    return rows


def scale_line(values: np.ndarray) -> Text:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return Text("no finite values", style="bold red")
    line = Text(f"min {finite.min():.3g} ", style="dim")
    for fraction in np.linspace(0, 1, 10):
        line.append("█", style=Style(color=_ramp(fraction)))
    line.append(f" max {finite.max():.3g}", style="dim")
    if finite.size < values.size:
        line.append(f"  {values.size - finite.size} not finite (??)", style="bold red")
    return line


def _cell_style(value: float, low: float, high: float) -> Style:
    if not math.isfinite(value):
        return Style(color="red", bold=True)
    return Style(color=_ramp((value - low) / (high - low) if high > low else 0.5))


def _ramp(fraction: float) -> Color:
    position = min(max(fraction, 0.0), 1.0) * (len(RAMP) - 1)
    index = min(int(position), len(RAMP) - 2)
    weight = position - index
    rgb = [round(a + (b - a) * weight) for a, b in zip(RAMP[index], RAMP[index + 1])]
    return Color.from_rgb(*rgb)
