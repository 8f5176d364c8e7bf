"""`SeekScreen`: asks for a step; dismisses with it, or None when cancelled."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class SeekScreen(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, hint: str):
        super().__init__()
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="seek-body") as body:
            body.border_title = "Go to step"
            yield Static(self.hint, id="seek-hint")
            yield Input(placeholder="step", type="integer", id="seek-step")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(int(event.value) if event.value.strip().lstrip("-").isdigit() else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
