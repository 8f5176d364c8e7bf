"""Fan-out for viewers: a PUB socket that re-publishes every frame the sink receives, and the
SUB side an extra dashboard uses to attach to a running sink.

PUB/SUB is for viewers only, never for the ranks' traffic (PROTOCOL.md §2): it drops
silently. A subscriber misses every frame published before its subscription settles (the
"slow joiner": the run start is usually among them), and a subscriber that falls behind by more
than the high-water mark loses frames; the publishing sink never waits for it. The sink's own
log files and recording stay the complete record; a viewer shows what reached it.
"""

from __future__ import annotations

from collections.abc import Iterator

import zmq

from stratlog.protocol.curve import ClientKeys, SecuredServer, ServerKeys
from stratlog.sink.receiver import ReceivedMessage, receive_message, receive_messages

PUBLISH_HIGH_WATER_MARK = 10_000
"""Frames queued per subscriber before further frames to it are dropped (about 5 s of a busy run)."""


class FramePublisher:
    """Binds a PUB socket; `publish` never blocks (ZeroMQ drops for slow subscribers). With
    `keys`, only listed CURVE clients may subscribe, as on the sink's own port."""

    def __init__(self, bind: str, *, keys: ServerKeys | None = None):
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.PUB)
        self._socket.setsockopt(zmq.SNDHWM, PUBLISH_HIGH_WATER_MARK)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._secured = SecuredServer(self._context, self._socket, keys) if keys is not None else None
        self._socket.bind(bind)
        self.address = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def publish(self, frame: bytes) -> None:
        try:
            self._socket.send(frame, zmq.NOBLOCK, copy=False)
        except zmq.Again:
            pass  # PUB does not raise for slow subscribers; guard anyway: viewers never slow the sink

    def close(self) -> None:
        if self._secured is not None:
            self._secured.close()
        self._socket.close()
        self._context.term()


class FrameSubscriber:
    """Connects a SUB socket to a sink's publisher; the same `receive` and `receive_waiting` as
    `FrameReceiver`, so a `SinkService` (and its dashboard) can run on it."""

    def __init__(self, connect: str, *, keys: ClientKeys | None = None):
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.RCVHWM, PUBLISH_HIGH_WATER_MARK)
        self._socket.setsockopt(zmq.LINGER, 0)
        if keys is not None:
            keys.secure(self._socket)
        self._socket.setsockopt(zmq.SUBSCRIBE, b"")
        self._socket.connect(connect)
        self.address = connect

    def receive(self, timeout_ms: int) -> ReceivedMessage | None:
        return receive_message(self._socket, timeout_ms)

    def receive_waiting(self, timeout_ms: int, limit: int) -> Iterator[ReceivedMessage]:
        return receive_messages(self._socket, timeout_ms, limit)

    def take_refusals(self) -> list[str]:
        """A subscriber refuses no connections: it makes one (the `FrameReceiver` interface)."""
        return []

    def close(self) -> None:
        self._socket.close()
        self._context.term()
