"""`DualFfnTable`: gradient norm and update ratio of the text and audio FFN per DualFFN layer.

Higgs Audio's DualFFN gives audio tokens their own FFN; if one path gets no gradient (a frozen
module, labels that never reach it) it silently stops training. A zero is coloured red, an
update ratio past the sink's WARN threshold yellow.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from stratlog.sink.thresholds import FFN_UPDATE_RATIO_MAX
from stratlog.tui.widgets.view_widget import CaptureWidget

COLUMNS = (("text_ffn_grad_norm", "text grad"), ("audio_ffn_grad_norm", "audio grad"),
           ("text_ffn_update_ratio", "text update"), ("audio_ffn_update_ratio", "audio update"))


class DualFfnTable(CaptureWidget):
    snapshot = "attention"
    missing = "no DualFFN measurements at this step"

    def render_snapshot(self, capture, snapshot) -> Table | Text:
        table = Table(box=None, padding=(0, 1), header_style="bold")
        table.add_column("layer", justify="right")
        for _, label in COLUMNS:
            table.add_column(label, justify="right")
        columns = [getattr(snapshot, name).to_numpy().tolist() for name, _ in COLUMNS]
        for row, layer in enumerate(snapshot.ffn_layers):
            table.add_row(str(layer), *(_cell(name, column[row]) for (name, _), column in zip(COLUMNS, columns)))
        return table


def _cell(name: str, value: float) -> Text:
    if value == 0 or value != value:
        return Text(f"{value:.2e}", style="bold white on red")
    if name.endswith("update_ratio") and value > FFN_UPDATE_RATIO_MAX:
        return Text(f"{value:.2e}", style="bold yellow")
    return Text(f"{value:.2e}")
