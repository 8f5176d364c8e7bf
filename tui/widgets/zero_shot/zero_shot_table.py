"""`ZeroShotTable`: per sample, the target-audio loss with its true reference and with another
speaker's reference swapped in.

A model that clones voices pays for the wrong reference (swapped loss higher: a positive
effect). An effect near zero means the reference is ignored; a negative one, that references
and targets are mispaired in the data. Rows, not a mean, so one odd speaker stands out.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from stratlog.sink.thresholds import CONDITIONING_EFFECT_FAIL, CONDITIONING_EFFECT_MIN
from stratlog.tui.widgets.view_widget import CaptureWidget


class ZeroShotTable(CaptureWidget):
    snapshot = "zero_shot"
    missing = "no zero-shot snapshot at this step"

    def render_snapshot(self, capture, snapshot) -> Table | Text:
        if snapshot.skipped_reason:
            return Text(f"skipped: {snapshot.skipped_reason}", style="yellow")
        table = Table(box=None, padding=(0, 1), header_style="bold")
        for name in ("sample", "speaker", "swapped in", "languages", "true ref loss", "swapped loss", "effect"):
            table.add_column(name, justify="right" if "loss" in name or name == "effect" else "left", no_wrap=True)
        true = snapshot.true_reference_loss.to_numpy().tolist()
        swapped = snapshot.swapped_reference_loss.to_numpy().tolist()
        for row, sample in enumerate(snapshot.sample_ids):
            effect = swapped[row] - true[row]
            table.add_row(sample, snapshot.speakers[row], snapshot.swapped_speakers[row],
                          f"{snapshot.languages[row]}←{snapshot.swapped_languages[row]}",
                          f"{true[row]:.3f}", f"{swapped[row]:.3f}", Text(f"{effect:+.3f}", style=_effect_style(effect)))
        return table


def _effect_style(effect: float) -> str:
    if effect < CONDITIONING_EFFECT_FAIL:
        return "bold white on red"
    return "green" if effect > CONDITIONING_EFFECT_MIN else "yellow"
