"""The sink's ZeroMQ PULL socket: binds, receives messages, reports its address.

Binding to port 0 picks a free port (tests and the demo use it so parallel runs never
collide); `address` gives the endpoint the ranks must connect to. ZeroMQ's MAXMSGSIZE is the
decoder's frame limit (PROTOCOL.md §2): a larger frame is dropped at the transport before it is
buffered (ZeroMQ disconnects its sender, which reconnects; the rank's sequence numbers then show
the frame as lost in transit), so no byte of it reaches the sink's memory.

A message is received whole, all its parts: PROTOCOL.md §2 makes a multipart message
malformed, so it comes back as one `ReceivedMessage` with `parts` > 1 for the sink to count
and skip, never as frames of their own. The receive high-water mark is small because the live
sink moves every message into its own byte-bounded backlog as soon as it arrives
(`sink.service`): ZeroMQ's queue only holds what arrives while one frame is handled, and when
it is full ZeroMQ stops reading that rank's connection, so the rank's own send queue fills and
the rank counts its drops, instead of the sink's memory growing. What the sink holds is so
bounded twice: ZeroMQ's queue by messages (RECEIVE_HIGH_WATER_MARK x MAX_FRAME_BYTES per
connection at worst), the backlog behind it by bytes (`sink.backlog`).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from typing import NamedTuple

import zmq

from stratlog.protocol.curve import SecuredServer, ServerKeys
from stratlog.protocol.limits import DEFAULT_LIMITS

DEFAULT_BIND = "tcp://127.0.0.1:5560"
MAX_FRAME_BYTES = DEFAULT_LIMITS.max_frame_bytes
"""The transport's limit is the decoder's: a frame between the two would be buffered only to be refused."""
RECEIVE_HIGH_WATER_MARK = 100
"""Messages ZeroMQ queues per connected rank: 20 s of a rank's metrics at 5 steps/s, while the
sink empties the queue every few milliseconds. ZeroMQ counts messages, not bytes: 100 per rank
keeps even 2 048 ranks of full-size snapshots to a few GiB in the worst case (the old 10 000
allowed 5 million messages, far past any memory)."""


class ReceivedMessage(NamedTuple):
    frame: bytes
    """The message's bytes: one frame, or every part joined when it had several (kept for its size)."""
    received_at: float
    """Unix time the sink took it off the socket."""
    parts: int = 1
    """ZeroMQ message parts; more than one makes the message malformed (PROTOCOL.md §2)."""


def receive_message(socket: zmq.Socket, timeout_ms: int) -> ReceivedMessage | None:
    """The next whole message on `socket`, or None when none arrived within `timeout_ms` (0: only
    what is already there)."""
    return next(receive_messages(socket, timeout_ms, 1), None)


def receive_messages(socket: zmq.Socket, timeout_ms: int, limit: int) -> Iterator[ReceivedMessage]:
    """The whole messages waiting on `socket`, `limit` at most, each stamped when it is taken off
    the socket; waits up to `timeout_ms` for the first (0: only what is already there). One at a
    time (a generator: whoever takes them keeps or drops each before the next is read, so memory
    stays bounded by what is kept), in a loop of few steps: the live sink takes thousands a second."""
    if timeout_ms > 0 and not socket.poll(timeout_ms, zmq.POLLIN):
        return
    receive, more, now = socket.recv, socket.get, time.time
    for _ in range(limit):
        try:
            frame = receive(zmq.NOBLOCK)
        except zmq.Again:
            return
        if not more(zmq.RCVMORE):
            yield ReceivedMessage(frame, now())
            continue
        parts = [frame]
        while more(zmq.RCVMORE):  # a message's parts arrive together: the rest is there
            parts.append(receive(zmq.NOBLOCK))
        yield ReceivedMessage(b"".join(parts), now(), len(parts))


def _allow_one_descriptor_per_rank() -> None:
    """Every connected rank holds one file descriptor of the sink's: raise the soft limit to
    the hard one (often 1 024 soft, so a sink of more ranks would refuse the rest)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65_536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


class BindError(Exception):
    """The sink cannot listen on its endpoint (port in use, bad address): `stratlog sink` says so
    in one line and exits, where a traceback would hide the cause."""


class FrameReceiver:
    """With `keys`, only CURVE clients whose public key is listed get through (`protocol.curve`);
    the connections refused are reported by `take_refusals` for the sink to count."""

    def __init__(self, bind: str = DEFAULT_BIND, *, keys: ServerKeys | None = None,
                 max_frame_bytes: int = MAX_FRAME_BYTES, receive_high_water_mark: int = RECEIVE_HIGH_WATER_MARK):
        _allow_one_descriptor_per_rank()
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.PULL)
        self._socket.setsockopt(zmq.MAXMSGSIZE, max_frame_bytes)
        self._socket.setsockopt(zmq.RCVHWM, receive_high_water_mark)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._secured = SecuredServer(self._context, self._socket, keys) if keys is not None else None
        try:
            self._socket.bind(bind)
        except zmq.ZMQError as error:  # a busy port, a bad address: the user's to fix, in one line
            self.close()
            raise BindError(f"cannot listen on {bind}: {error.strerror}") from error
        self.address = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def receive(self, timeout_ms: int) -> ReceivedMessage | None:
        """The next message, or None after `timeout_ms` without one."""
        return receive_message(self._socket, timeout_ms)

    def receive_waiting(self, timeout_ms: int, limit: int) -> Iterator[ReceivedMessage]:
        """What has arrived, one at a time, `limit` messages at most, waiting up to `timeout_ms` for the first."""
        return receive_messages(self._socket, timeout_ms, limit)

    def take_refusals(self) -> list[str]:
        """Why each connection refused since the last call was refused (CURVE only; never waits)."""
        return self._secured.take_refusals() if self._secured is not None else []

    def close(self) -> None:
        if self._secured is not None:
            self._secured.close()
        self._socket.close()
        self._context.term()
