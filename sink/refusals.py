"""Which refused frames and connections the sink writes down: every one is counted, only the first
few per reason per minute are written (recording, events.jsonl, findings, human log).

A sender of junk (a port scanner, a buggy client, a flood) must not turn the sink's disk into a
copy of the junk: unsampled, every refused frame was recorded and written three more times, and
one local sender filled a 309 MB recording with 283 MB of junk. The count per reason stays exact
(`RunState.bad_frames`, the dashboard, the summary), and each written refusal says how many of its
reason went unwritten before it, so the logs still add up. Windows are measured on the frames'
receive times, so a replay writes the same samples as the live sink.
"""

from __future__ import annotations

from collections import Counter

WRITTEN_PER_WINDOW = 10
"""Refusals of one reason written per window; the rest of the window are counted only."""
WINDOW_S = 60.0
RECORDED_REFUSAL_BYTES = 64 * 1024
"""Largest refused frame the recording keeps (a written one; larger ones get their event and
finding but not their bytes), so junk adds at most 10 x 64 KiB per reason and minute to it: a
junk frame just under the 4 MiB frame limit would otherwise add 40 MiB a minute. A replay then
lacks the events of those few large refused frames, which carried no message anyway."""


class RefusalSampler:
    def __init__(self, written_per_window: int = WRITTEN_PER_WINDOW, window_s: float = WINDOW_S):
        self.written_per_window = written_per_window
        self.window_s = window_s
        self._windows: dict[str, tuple[float, int]] = {}
        """Reason -> (start of its current window, refusals written in it)."""
        self.unwritten: Counter = Counter()
        """Reason -> refusals counted but not written since the last one written."""

    def admit(self, reason: str, now: float) -> int | None:
        """None when this refusal is to be counted only; otherwise it is to be written, and the
        number of refusals of `reason` left unwritten before it (then reset)."""
        start, written = self._windows.get(reason, (now, 0))
        if now - start >= self.window_s:
            start, written = now, 0
        if written >= self.written_per_window:
            self._windows[reason] = (start, written)
            self.unwritten[reason] += 1
            return None
        self._windows[reason] = (start, written + 1)
        return self.unwritten.pop(reason, 0)

    def take_unwritten(self) -> dict[str, int]:
        """What was left unwritten (at the end: it goes into one last event per reason)."""
        unwritten, self.unwritten = dict(self.unwritten), Counter()
        return unwritten
