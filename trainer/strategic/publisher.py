"""`SnapshotPublisher`: the training thread's only contact with the network.

`send()` stamps the envelope, encodes (msgspec: microseconds) and puts the bytes on an
in-process queue bounded by a byte budget; it never touches a socket and never waits. A
background thread owns the ZeroMQ context and PUSH socket (created there, lazily, so nothing
crosses a fork or a thread) and sends with NOBLOCK under a send high-water mark. Whatever
cannot be queued or sent is dropped and counted; the count rides in the `dropped` field of
the next message encoded, and the per-rank `seq` numbers let the sink see the gap.
Heartbeats go out when the rank is quiet. An optional spool file keeps every message on
local disk as a replayable recording. `close()` sends the run end and returns within
`close_timeout_s` whatever the sink's state, so process exit never hangs.

A sink that restarts has missed the run start, which carries what it needs to read the run
(model, tokenizer, capture settings): when the PUSH socket connects again (ZeroMQ reconnects by
itself; its socket monitor says when), the thread re-sends the run start as a new message (the
next `seq`; a receiver tells it from a restarted rank's, whose `seq` is 0), counted in
`context_resends`. It costs one message of a few kB per reconnection and nothing otherwise.
"""

from __future__ import annotations

import collections
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import zmq
from zmq.utils.monitor import recv_monitor_message

from stratlog.protocol import Heartbeat, RecordingWriter, RunEnd, RunStart, encode
from stratlog.protocol.curve import ClientKeys


@dataclass(frozen=True)
class PublisherConfig:
    address: str
    """ZeroMQ endpoint the sink binds, e.g. tcp://127.0.0.1:5560."""
    run_id: str
    rank: int
    world_size: int
    max_queued_bytes: int = 32 * 1024 * 1024
    """Byte budget of the in-process queue; a message that does not fit is dropped (counted)."""
    send_high_water_mark: int = 1000
    """ZeroMQ SNDHWM: messages ZeroMQ buffers per peer before NOBLOCK sends fail (counted drops)."""
    heartbeat_interval_s: float = 2.0
    """A heartbeat goes out after this long without any message, so the sink can tell a stall."""
    close_timeout_s: float = 2.0
    """Upper bound on close(): queue drain plus socket linger."""
    spool_dir: str | None = None
    """When set, every message is also written to <spool_dir>/spool-rank<R>.stratrec."""
    curve: ClientKeys | None = None
    """When set, the socket connects with CURVE (a sink started with --curve-secret lets only listed keys in)."""

    def __post_init__(self):
        if self.max_queued_bytes < 1024:
            raise ValueError(f"PublisherConfig.max_queued_bytes must be >= 1024, got {self.max_queued_bytes}")
        if self.heartbeat_interval_s <= 0:
            raise ValueError(f"PublisherConfig.heartbeat_interval_s must be > 0, got {self.heartbeat_interval_s}")
        if self.close_timeout_s <= 0:
            raise ValueError(f"PublisherConfig.close_timeout_s must be > 0, got {self.close_timeout_s}")


class SnapshotPublisher:
    def __init__(self, config: PublisherConfig):
        self.config = config
        self._queue: collections.deque[tuple[bytes, int, int]] = collections.deque()  # frame, step, drops it carries
        self._ready = threading.Condition(threading.Lock())  # guards everything below
        self._queued_bytes = 0
        self._next_seq = 0
        self._latest_step = 0
        self._dropped_unreported = 0
        self._stopping = False
        self.sent = 0
        self.dropped = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._closing = False
        self.spool_errors = 0
        """Spool records the disk refused (or 1 when the spool could not be made)."""
        self._run_start: dict | None = None
        """The run start's fields, for a re-send when the socket reconnects."""
        self.context_resends = 0
        """Run starts re-sent because the sink's connection was made again (a restarted sink)."""
        self.sink_connections = 0
        """Times the socket connected to the sink; still 0 at the end: no message reached a sink."""

    def send(self, message_type, *, step: int, **fields) -> bool:
        """Queue one message; False (and a counted drop) when it does not fit the byte budget."""
        if self._closed:
            return False
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"stratlog-publisher-rank{self.config.rank}", daemon=True)
            self._thread.start()
        with self._ready:
            frame, carried = self._encode(message_type, step, fields)
            if message_type is RunStart:
                self._run_start = fields
            if self._queued_bytes + len(frame) > self.config.max_queued_bytes:
                self._count_drop(carried)
                return False
            self._queue.append((frame, step, carried))
            self._queued_bytes += len(frame)
            self._ready.notify()
        return True

    def _encode(self, message_type, step: int, fields: dict) -> tuple[bytes, int]:
        """Called with the lock held: seq and the drop count are taken atomically, and only
        once the message encoded (a malformed one raises and consumes no seq). Returns the
        frame and the drop count it carries (given back if the frame itself is dropped)."""
        carried = self._dropped_unreported
        frame = encode(message_type(
            run_id=self.config.run_id, rank=self.config.rank, world_size=self.config.world_size,
            seq=self._next_seq, step=step, time=time.time(), dropped=carried, **fields,
        ))
        self._next_seq += 1
        self._latest_step = max(self._latest_step, step)
        self._dropped_unreported = 0
        return frame, carried

    def close(self, status: str = "completed") -> None:
        """Send the run end and stop the thread, within `close_timeout_s` in all cases; once
        (the training thread and a SIGTERM's closing thread may both get here)."""
        with self._ready:
            if self._closing:
                return
            self._closing = True
        if self._thread is not None:
            # PROTOCOL.md: seq of the run end = messages_sent + messages_dropped (queued ones
            # still go out before it: the queue is FIFO)
            with self._ready:
                sent, dropped = self._next_seq - self.dropped, self.dropped
            self.send(RunEnd, step=self._latest_step, status=status, messages_sent=sent, messages_dropped=dropped)
            self._closed = True
            with self._ready:
                self._stopping = True
                self._ready.notify()
            self._thread.join(self.config.close_timeout_s)
            if not self.sink_connections:
                self._say_nothing_reached_a_sink(sent + 1)
        else:
            self._closed = True

    def _say_nothing_reached_a_sink(self, messages: int) -> None:
        """A run end "N sent, 0 dropped" that went nowhere must not read as a logged run."""
        kept = f"; they are in the spool in {self.config.spool_dir}" if self.config.spool_dir else ""
        print(f"strategic logging, rank {self.config.rank}: no sink was reached at {self.config.address}: its "
              f"{messages} messages went nowhere{kept}", file=sys.stderr, flush=True)

    def _open_spool(self) -> RecordingWriter | None:
        """The spool file, or None when its folder cannot be written (counted in `spool_errors`):
        the messages still go to the sink."""
        if not self.config.spool_dir:
            return None
        try:
            Path(self.config.spool_dir).mkdir(parents=True, exist_ok=True)
            return RecordingWriter(Path(self.config.spool_dir) / f"spool-rank{self.config.rank}-{self.config.run_id}.stratrec")
        except OSError:
            self.spool_errors += 1
            return None

    def _spool(self, spool: RecordingWriter, frame: bytes, step: int) -> None:
        """A record the disk refuses (ENOSPC, EIO) is lost from the spool, whole (the writer cuts
        back to its last record and takes the next when space returns), and counted; the message
        still goes to the sink: a full disk must not stop the thread that sends."""
        try:
            spool.write(frame, received_at=time.time(), step=step)
        except OSError:
            self.spool_errors += 1

    def _count_drop(self, carried: int) -> None:
        """One more drop, plus the earlier drops the lost frame was carrying (lock held)."""
        self.dropped += 1
        self._dropped_unreported += 1 + carried

    def _run(self) -> None:
        context = zmq.Context()
        socket = context.socket(zmq.PUSH)
        socket.setsockopt(zmq.SNDHWM, self.config.send_high_water_mark)
        socket.setsockopt(zmq.LINGER, int(self.config.close_timeout_s * 500))
        monitor = socket.get_monitor_socket(zmq.EVENT_CONNECTED)
        if self.config.curve is not None:
            self.config.curve.secure(socket)
        socket.connect(self.config.address)
        spool = self._open_spool()
        try:
            while True:
                self._resend_run_start_on_reconnect(monitor)
                with self._ready:
                    if not self._queue and not self._stopping:
                        self._ready.wait(self.config.heartbeat_interval_s)
                    if self._queue:
                        frame, step, carried = self._queue.popleft()
                        self._queued_bytes -= len(frame)
                    elif self._stopping:
                        break
                    else:
                        step = self._latest_step
                        frame, carried = self._encode(Heartbeat, step, {"queue_depth": 0})
                if spool is not None:
                    self._spool(spool, frame, step)
                try:
                    socket.send(frame, zmq.NOBLOCK, copy=False)
                    self.sent += 1
                except zmq.Again:
                    with self._ready:
                        self._count_drop(carried)
        finally:
            if spool is not None:
                spool.close()
            self._resend_run_start_on_reconnect(monitor)  # a connection made after the last send still counts
            socket.disable_monitor()
            monitor.close()
            socket.close()
            context.term()

    def _resend_run_start_on_reconnect(self, monitor: zmq.Socket) -> None:
        """Counts the socket's connections so far; from the second on (the sink came back), the
        run start is queued again, after what is already queued."""
        while monitor.poll(0):
            recv_monitor_message(monitor)
            self.sink_connections += 1
            if self.sink_connections > 1 and self._run_start is not None and not self._closing:
                if self.send(RunStart, step=self._latest_step, **self._run_start):
                    self.context_resends += 1
