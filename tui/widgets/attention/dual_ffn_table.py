"""`DualFfnTable`: gradient norm and update ratio of the text and audio FFN per DualFFN layer.

Higgs Audio's DualFFN gives audio tokens their own FFN; if one path gets no gradient (a frozen
module, labels that never reach it) it silently stops training. Each cell is coloured by the
sink's verdict on it (`sink.analysis.attention.ffn_verdicts`, the same that decides the DualFFN
findings): FAIL red, WARN yellow; the table only shows it.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from stratlog.sink.findings import FAIL, OK, PENDING, WARN
from stratlog.tui.widgets.view_widget import CaptureWidget

COLUMNS = (("text_ffn_grad_norm", "text grad"), ("audio_ffn_grad_norm", "audio grad"),
           ("text_ffn_update_ratio", "text update"), ("audio_ffn_update_ratio", "audio update"))
CELL_STYLE = {OK: "", WARN: "bold yellow", FAIL: "bold white on red", PENDING: "cyan"}


class DualFfnTable(CaptureWidget):
    snapshot = "attention"
    frame_title = "DualFFN"
    missing = "no DualFFN measurements at this step"

    def render_snapshot(self, capture, snapshot, verdicts) -> Table:
        """`verdicts`: measurement name -> the sink's severity per layer."""
        table = Table(box=None, padding=(0, 1), header_style="bold")
        table.add_column("layer", justify="right")
        for _, label in COLUMNS:
            table.add_column(label, justify="right")
        columns = [zip(getattr(snapshot, name).to_numpy().tolist(), verdicts[name]) for name, _ in COLUMNS]
        for layer, *cells in zip(snapshot.ffn_layers, *columns):
            table.add_row(str(layer), *(Text(f"{value:.2e}", style=CELL_STYLE[severity]) for value, severity in cells))
        return table
