"""SIGTERM on a rank (docker stop, systemd, `timeout`, torchrun passing on its own): the run end
"terminated" goes out before the rank dies, and nothing else changes.

Without a handler, SIGTERM ends the process at once and the sink only learns of it as a stall.
The handler does not stop training or raise into it (the trainer would then unwind through
code that was never meant to see an exception there): it puts SIGTERM back to its default and
starts a thread that closes the publisher (the run end, then the queue drained, within
`close_timeout_s`) and then sends SIGTERM to the process again, which ends it exactly as before,
by the signal (exit status -15 / 143 for torchrun). Training runs on for those ~2 s at most; a
second SIGTERM meanwhile ends the rank at once. A process that already handles SIGTERM (a
script of the user's) keeps its own handler: this one is installed only over the default.
"""

from __future__ import annotations

import os
import signal
import threading

from stratlog.trainer.strategic.publisher import SnapshotPublisher

TERMINATED = "terminated"
"""The run end's status for a rank ended by SIGTERM."""


def close_on_sigterm(publisher: SnapshotPublisher) -> bool:
    """Installs the handler in the main thread; False (nothing installed) when SIGTERM already
    has a handler of its own or this is not the main thread (only it may set handlers)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False
    owner = os.getpid()

    def terminated(signum, frame) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if os.getpid() != owner:  # a forked child (a data loader worker) has no publisher thread: just end
            os.kill(os.getpid(), signal.SIGTERM)
            return
        threading.Thread(target=_close_then_end, args=(publisher,), name="stratlog-sigterm", daemon=True).start()

    signal.signal(signal.SIGTERM, terminated)
    return True


def _close_then_end(publisher: SnapshotPublisher) -> None:
    try:
        publisher.close(status=TERMINATED)
    finally:
        os.kill(os.getpid(), signal.SIGTERM)
