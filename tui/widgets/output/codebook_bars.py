"""`CodebookBars`: accuracy and loss of each audio codebook, as bars against chance.

The first codebooks carry the coarse sound and learn first; a codebook stuck at chance
(1 / codec size) while the others rise points at its labels (delay pattern, masking).
Bars are scaled to the best codebook, not to 100 %: early in training every accuracy is a few
percent, and bars against 100 % would all look empty.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from stratlog.tui.widgets.view_widget import CaptureWidget

BAR_WIDTH = 40


class CodebookBars(CaptureWidget):
    snapshot = "output"
    frame_title = "Per-codebook accuracy"
    missing = "no output snapshot at this step"

    def render_snapshot(self, capture, output, readings) -> Group | Text:
        accuracies = output.codebook_accuracies.to_numpy().tolist()
        losses = output.codebook_losses.to_numpy().tolist()
        best = max(accuracies + [1e-9])
        summary = Text(f"text accuracy {output.text_accuracy:.1%} · audio accuracy {output.audio_accuracy:.1%} · "
                       f"text loss {output.text_loss:.3f} · audio loss {output.audio_loss:.3f}", style="dim")
        note = Text(f"bars scaled to the best codebook ({best:.1%})", style="dim")
        rows = [bar_row(index, accuracy, loss, best) for index, (accuracy, loss) in enumerate(zip(accuracies, losses))]
        return Group(summary, note, *rows)


def bar_row(index: int, accuracy: float, loss: float, best: float) -> Text:
    filled = round(BAR_WIDTH * accuracy / best)
    row = Text(no_wrap=True, overflow="ellipsis")
    row.append(f"cb{index:<2} ", style="bold")
    row.append("█" * filled, style="cyan").append("░" * (BAR_WIDTH - filled), style="dim")
    return row.append(f" {accuracy:6.1%}  loss {loss:.3f}")
