"""`TokenView`: the first sample's input as the model saw it, with its structure made visible.

Special tokens are coloured, runs of one special token are collapsed ("<|AUDIO_OUT|> x212"),
control characters of the decoded text are shown escaped (never sent to the terminal),
and the reference audio (the voice to clone) and target audio (what the model learns to say)
sit on distinct backgrounds behind a label, because a swapped or missing segment is the
commonest data bug in voice cloning and is obvious only when you can see it.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from stratlog.sink.printable import printable
from stratlog.tui.widgets.view_widget import CaptureWidget

PIECE_STYLE = {"text": "", "special": "bold magenta", "audio": "bold", "ignored": "dim", "unknown": "bold red"}
ROLE_STYLE = {"reference": "on dark_blue", "target": "on dark_green"}
ROLE_LABEL = {"reference": " reference audio ", "target": " target audio "}


class TokenView(CaptureWidget):
    snapshot = "input"
    frame_title = "Decoded input (sample 0)"
    missing = "no input snapshot at this step"

    def render_snapshot(self, capture, snapshot, regions) -> Group | Text:
        """`regions`: the sink's decoded `TokenRegion`s of the first sample."""
        about = Text(printable(f"step {capture.step} · sample {snapshot.sample_ids[0] if snapshot.sample_ids else '?'}"
                               f" · speaker {snapshot.speakers[0] if snapshot.speakers else '?'}"
                               f" · {snapshot.input_ids.to_numpy().size} tokens"), style="dim")
        return Group(legend(), about, token_text(regions))


def legend() -> Text:
    line = Text("special ", style=PIECE_STYLE["special"])
    for role in ("reference", "target"):
        line.append(ROLE_LABEL[role], style=ROLE_STYLE[role]).append(" ")
    return line.append("<-100> masked", style=PIECE_STYLE["ignored"])


def token_text(regions) -> Text:
    text = Text()
    for region in regions:
        background = ROLE_STYLE.get(region.role, "")
        if region.role:
            text.append(f"▶{ROLE_LABEL[region.role]}", style=f"bold {background}")
        for piece in region.pieces:
            text.append(printable(piece.text), style=f"{PIECE_STYLE.get(piece.kind, '')} {background}".strip())
        if region.role:
            text.append("◀", style=f"bold {background}")
    return text
