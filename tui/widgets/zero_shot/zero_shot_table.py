"""`ZeroShotTable`: per sample, the target-audio loss with its true reference and with another
speaker's reference swapped in.

A model that clones voices pays for the wrong reference (swapped loss higher: a positive
effect). An effect near zero means the reference is ignored; a negative one, that references
and targets are mispaired in the data. Rows, not a mean, so one odd speaker stands out. Each
row's effect and its colour are the sink's (`sink.analysis.zero_shot.effect_rows`); the table
only shows them.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from stratlog.sink.findings import FAIL, OK, PENDING, WARN
from stratlog.sink.printable import printable
from stratlog.tui.widgets.view_widget import CaptureWidget

EFFECT_STYLE = {OK: "green", WARN: "yellow", FAIL: "bold white on red", PENDING: "cyan"}


class ZeroShotTable(CaptureWidget):
    snapshot = "zero_shot"
    frame_title = "True vs swapped reference"
    missing = "no zero-shot snapshot at this step"

    def render_snapshot(self, capture, snapshot, rows) -> Table | Text | Group:
        """`rows`: the sink's `EffectRow` (effect, severity) per sample; the capture's WAV files
        (sink --audio-tokenizer) follow the table."""
        if snapshot.skipped_reason:
            return Text(f"skipped: {printable(snapshot.skipped_reason)}", style="yellow")
        table = Table(box=None, padding=(0, 1), header_style="bold")
        for name in ("sample", "speaker", "swapped in", "languages", "true ref loss", "swapped loss", "effect"):
            table.add_column(name, justify="right" if "loss" in name or name == "effect" else "left", no_wrap=True)
        samples = zip(snapshot.sample_ids, snapshot.speakers, snapshot.swapped_speakers, snapshot.languages,
                      snapshot.swapped_languages, snapshot.true_reference_loss.to_numpy().tolist(),
                      snapshot.swapped_reference_loss.to_numpy().tolist(), rows)
        for sample, speaker, swapped_in, language, swapped_language, true, swapped, (effect, severity) in samples:
            table.add_row(*map(printable, (sample, speaker, swapped_in, f"{language}←{swapped_language}")),
                          f"{true:.3f}", f"{swapped:.3f}",
                          Text(f"{effect:+.3f}", style=EFFECT_STYLE[severity]))
        if capture.audio_files:
            return Group(table, Text(f"audio (sample 0): {', '.join(capture.audio_files)}", style="dim"))
        return table
