"""From the receiving thread to the UI: at most one DataChanged in flight.

The model calls `ChangeNotifier` after every message, under the state's lock, in the
receiving thread. Posting there on every message would put a thousand wake-ups a second on
the UI's event loop; instead one DataChanged is posted and no other until the screen has taken
it (`taken`), so a burst of any size costs the UI one message and the sink one flag check.
"""

from __future__ import annotations

import threading

from textual.message_pump import MessagePump

from stratlog.tui.messages import DataChanged


class ChangeNotifier:
    def __init__(self, target: MessagePump):
        self.target = target
        self._pending = threading.Event()

    def __call__(self) -> None:
        if not self._pending.is_set():
            self._pending.set()
            self.target.post_message(DataChanged())

    def taken(self) -> None:
        """The screen is about to read the model: changes from now on need a new message."""
        self._pending.clear()
