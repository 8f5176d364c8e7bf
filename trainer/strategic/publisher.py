"""`SnapshotPublisher`: the training thread's only contact with the network.

`send()` stamps the envelope and puts the message on a bounded in-process queue; it never
encodes, never touches a socket and never waits. A background thread owns the ZeroMQ context
and PUSH socket (created there, lazily, so nothing crosses a fork or a thread), encodes,
and sends with NOBLOCK under a send high-water mark. Whatever cannot be queued or sent is
dropped and counted; the count rides in the `dropped` field of the next delivered message, and
the per-rank `seq` numbers let the sink see the gap. Heartbeats go out when the rank is quiet.
`close()` sends the run end, waits a bounded time for the queue to drain, and closes the
socket with a bounded linger, so process exit never hangs on an absent sink.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import zmq

from protocol import Heartbeat, RunEnd, encode


@dataclass(frozen=True)
class PublisherConfig:
    address: str
    """ZeroMQ endpoint the sink binds, e.g. tcp://127.0.0.1:5560."""
    run_id: str
    rank: int
    world_size: int
    max_queued_messages: int = 256
    """In-process queue bound; a full queue drops the new message (counted)."""
    send_high_water_mark: int = 1000
    """ZeroMQ SNDHWM: messages ZeroMQ buffers per peer before NOBLOCK sends fail (counted drops)."""
    heartbeat_interval_s: float = 2.0
    """A heartbeat goes out after this long without any message, so the sink can tell a stall."""
    close_timeout_s: float = 2.0
    """Upper bound on close(): queue drain plus socket linger."""

    def __post_init__(self):
        if self.max_queued_messages < 1:
            raise ValueError(f"PublisherConfig.max_queued_messages must be >= 1, got {self.max_queued_messages}")
        if self.heartbeat_interval_s <= 0:
            raise ValueError(f"PublisherConfig.heartbeat_interval_s must be > 0, got {self.heartbeat_interval_s}")


_STOP = object()


class SnapshotPublisher:
    def __init__(self, config: PublisherConfig):
        self.config = config
        self._queue: queue.Queue = queue.Queue(maxsize=config.max_queued_messages)
        self._next_seq = 0
        self._latest_step = 0
        self._lock = threading.Lock()  # seq and drop counters are touched by both threads
        self._dropped_since_delivery = 0
        self.sent = 0
        self.dropped = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def send(self, message_type, *, step: int, **fields) -> bool:
        """Queue one message; returns False (and counts a drop) when it could not be queued."""
        if self._closed:
            return False
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"stratlog-publisher-rank{self.config.rank}", daemon=True)
            self._thread.start()
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
            self._latest_step = max(self._latest_step, step)
        message = message_type(
            run_id=self.config.run_id, rank=self.config.rank, world_size=self.config.world_size,
            seq=seq, step=step, time=time.time(), **fields,
        )
        try:
            self._queue.put_nowait(message)
            return True
        except queue.Full:
            self._count_drop()
            return False

    def close(self, status: str = "completed") -> None:
        """Send the run end and stop the thread, within `close_timeout_s` in all cases."""
        if self._closed:
            return
        if self._thread is not None:
            # messages_sent counts every message this rank tried to send, this one included (= its seq + 1)
            self.send(RunEnd, step=self._latest_step, status=status, messages_sent=self._next_seq + 1, messages_dropped=self.dropped)
            self._closed = True
            try:
                self._queue.put(_STOP, timeout=self.config.close_timeout_s / 2)
            except queue.Full:
                pass
            self._thread.join(self.config.close_timeout_s)
        self._closed = True

    def _count_drop(self) -> None:
        with self._lock:
            self.dropped += 1
            self._dropped_since_delivery += 1

    def _run(self) -> None:
        context = zmq.Context()
        socket = context.socket(zmq.PUSH)
        socket.setsockopt(zmq.SNDHWM, self.config.send_high_water_mark)
        socket.setsockopt(zmq.LINGER, int(self.config.close_timeout_s * 500))
        socket.connect(self.config.address)
        try:
            while True:
                try:
                    message = self._queue.get(timeout=self.config.heartbeat_interval_s)
                except queue.Empty:
                    message = self._heartbeat()
                if message is _STOP:
                    break
                self._deliver(socket, message)
        finally:
            socket.close()
            context.term()

    def _heartbeat(self):
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
        return Heartbeat(
            run_id=self.config.run_id, rank=self.config.rank, world_size=self.config.world_size,
            seq=seq, step=self._latest_step, time=time.time(), queue_depth=self._queue.qsize(),
        )

    def _deliver(self, socket: zmq.Socket, message) -> None:
        with self._lock:
            message.dropped = self._dropped_since_delivery
        try:
            socket.send(encode(message), zmq.NOBLOCK, copy=False)
        except zmq.Again:
            self._count_drop()
            return
        with self._lock:
            self._dropped_since_delivery -= message.dropped
            self.sent += 1
