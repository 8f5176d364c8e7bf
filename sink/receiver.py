"""The sink's ZeroMQ PULL socket: binds, receives single-frame messages, reports its address.

Binding to port 0 picks a free port (tests and the demo use it so parallel runs never
collide); `address` gives the endpoint the ranks must connect to. ZeroMQ's MAXMSGSIZE drops
oversized frames at the transport, before any byte of them reaches the decoder.
"""

from __future__ import annotations

import time

import zmq

DEFAULT_BIND = "tcp://127.0.0.1:5560"
MAX_FRAME_BYTES = 8 * 1024 * 1024


class FrameReceiver:
    def __init__(self, bind: str = DEFAULT_BIND, *, max_frame_bytes: int = MAX_FRAME_BYTES, receive_high_water_mark: int = 10_000):
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.PULL)
        self._socket.setsockopt(zmq.MAXMSGSIZE, max_frame_bytes)
        self._socket.setsockopt(zmq.RCVHWM, receive_high_water_mark)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.bind(bind)
        self.address = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def receive(self, timeout_ms: int) -> tuple[bytes, float] | None:
        """One (frame, received_at) or None after `timeout_ms` without a message."""
        if not self._socket.poll(timeout_ms, zmq.POLLIN):
            return None
        frame = self._socket.recv(copy=True)
        return frame, time.time()

    def close(self) -> None:
        self._socket.close()
        self._context.term()
