"""Messages of the dashboard: small events named for what happened."""

from __future__ import annotations

from textual.message import Message


class DataChanged(Message):
    """The sink's state changed (posted from the receiving thread). Bursts collapse: a queued
    DataChanged replaces an older one still waiting, so the screen redraws once for them all."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DataChanged)


class DrawingFailed(Message):
    """A widget could not draw the view (a strange capture); it shows the error in its place and
    the screen has the sink count it, so one bad frame never closes the dashboard."""

    def __init__(self, widget: str, error: Exception) -> None:
        super().__init__()
        self.widget = widget
        self.error = error
