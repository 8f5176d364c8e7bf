"""The live sink's backlog: messages taken off the socket but not yet handled, bounded in bytes,
and what the sink measures about its own load (lag, backlog, drops).

The live loop (`sink.service`) moves every message that has arrived into the backlog every few
milliseconds while it handles it, so each message is stamped with the time it really arrived
however far behind the pipeline is: stalls and the completion of a log entry are judged on arrival times,
and a sink running 15 s behind still writes each step of each rank as one entry. When the
pipeline cannot keep up, the backlog fills; past `limit_bytes` an arriving message is dropped
and counted (the sink's own drops, distinct from the drops the ranks report), so memory stays
bounded and the loss is shown instead of hidden in an ever longer queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stratlog.sink.receiver import ReceivedMessage

DEFAULT_BACKLOG_BYTES = 256 * 1024 * 1024
"""Room for two capture bursts of 2 048 ranks (all ranks capture at the same step: four full-size
snapshots each, 106 MiB a burst), so bursts pass and only a sink slower than the average load drops."""


@dataclass(frozen=True)
class SinkLoad:
    """The live sink's load as viewers show it (none in a replay: it has no socket to fall behind)."""

    lag_s: float
    """How far behind the sink is: now minus the arrival time of the newest message it has handled
    (0 once the backlog is empty)."""
    backlog_bytes: int
    dropped_frames: int
    """Messages the sink dropped itself (backlog full) since it started."""
    dropped_bytes: int


class FrameBacklog:
    """A FIFO of received messages holding at most `limit_bytes` of frames."""

    def __init__(self, limit_bytes: int = DEFAULT_BACKLOG_BYTES):
        if limit_bytes < 1:
            raise ValueError(f"limit_bytes must be a positive byte count, got {limit_bytes!r}")
        self.limit_bytes = limit_bytes
        self.bytes = 0
        self.peak_bytes = 0
        """The most the backlog held since `reset_peak`."""
        self.dropped_frames = 0
        self.dropped_bytes = 0
        self._messages: deque[ReceivedMessage] = deque()

    def __len__(self) -> int:
        return len(self._messages)

    def offer(self, message: ReceivedMessage) -> bool:
        """Queues `message`; False when it did not fit (then it is dropped and counted)."""
        dropped = self.dropped_frames
        self.offer_all([message])
        return self.dropped_frames == dropped

    def offer_all(self, messages: Iterable[ReceivedMessage]) -> None:
        """`offer`s each of `messages` in turn, in one loop (the peak taken once: the loop only adds);
        one that does not fit is let go before the next is taken (`receiver.receive_messages`)."""
        queue, limit, held = self._messages, self.limit_bytes, self.bytes
        try:
            for message in messages:
                size = len(message.frame)
                if held + size > limit:
                    self.dropped_frames += 1
                    self.dropped_bytes += size
                else:
                    queue.append(message)
                    held += size
        finally:  # what was queued is counted even when taking the next one raised
            self.bytes = held
            self.peak_bytes = max(self.peak_bytes, held)

    def take(self) -> ReceivedMessage | None:
        """The oldest message, or None when the backlog is empty."""
        if not self._messages:
            return None
        message = self._messages.popleft()
        self.bytes -= len(message.frame)
        return message

    def reset_peak(self) -> None:
        self.peak_bytes = self.bytes
