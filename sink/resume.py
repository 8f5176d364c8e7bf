"""A sink started again on its own log folder goes on where its previous recording ends.

A killed or restarted sink used to start blind: each rank's next message looked like a gap of
every message before it ("lost in transit", though the previous recording holds them), and
without the run start (sent once, long before) token ids were shown raw and checks said "not
checked". So a sink starting on a log folder reads the newest other recording there: its head
(the first HEAD_BYTES) for the run starts, and its tail (the last TAIL_BYTES of the last file,
more when a rank is missing there) for each rank's last sequence number and step. Ranks whose
run end it holds are done; the others go on (`SinkPipeline.resume`): their sequence continues,
so only messages that are in neither recording count as lost, and their run context is back
before their first new message (the ranks also re-send it on reconnecting, see the publisher).
A recording whose last record is older than RESUME_WITHIN_S is a finished run's, not resumed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from stratlog.protocol import MessageDecoder, ProtocolError, RecordingReader, RunEnd, RunStart

HEAD_BYTES = 16 * 2**20
"""Where the run starts are: at the head of a recording (a restarted sink's: the re-sent ones)."""
TAIL_BYTES = 8 * 2**20
"""The first tail read; every rank sends a heartbeat at least every few seconds, so it is there."""
RESUME_WITHIN_S = 600.0
"""A previous recording that ends longer ago than this is an earlier run's: nothing to resume."""


@dataclass
class PreviousStream:
    """What the previous recording says of the ranks that had not ended."""

    path: Path
    run_starts: dict[tuple[str, int], RunStart] = field(default_factory=dict)
    """(run, rank) -> its latest run start found."""
    next_seq: dict[tuple[str, int], int] = field(default_factory=dict)
    steps: dict[tuple[str, int], int] = field(default_factory=dict)
    world_sizes: dict[str, int] = field(default_factory=dict)
    ended: set[tuple[str, int]] = field(default_factory=set)
    last_received_at: float = 0.0

    def note(self, message, received_at: float) -> None:
        key = (message.run_id, message.rank)
        if isinstance(message, RunStart) and message.seq == 0 and self.next_seq.get(key, 0) > 0:
            self.ended.discard(key)  # a restarted rank starts over
        self.next_seq[key] = max(self.next_seq.get(key, 0), message.seq + 1)
        self.steps[key] = max(self.steps.get(key, 0), message.step)
        self.world_sizes[message.run_id] = max(self.world_sizes.get(message.run_id, 0), message.world_size)
        self.last_received_at = max(self.last_received_at, received_at)
        if isinstance(message, RunStart):
            self.run_starts[key] = message
        elif isinstance(message, RunEnd):
            self.ended.add(key)

    @property
    def open_ranks(self) -> dict[tuple[str, int], int]:
        """(run, rank) -> next seq, for the ranks that had not sent their run end."""
        return {key: seq for key, seq in sorted(self.next_seq.items()) if key not in self.ended}


def previous_recording(log_dir: Path, own: Path) -> Path | None:
    """The newest recording in `log_dir` (first file of a set) other than `own`, if any."""
    candidates = [path for path in Path(log_dir).glob("*.stratrec") if path.resolve() != Path(own).resolve()]
    return max(candidates, key=lambda path: path.stat().st_mtime, default=None)


def read_previous_stream(path: Path, *, now: float | None = None) -> PreviousStream | None:
    """The previous stream's open ranks, or None when it ended more than RESUME_WITHIN_S ago or
    holds nothing readable."""
    stream = PreviousStream(Path(path))
    reader = RecordingReader(path)
    decoder = MessageDecoder()

    def read(records) -> set[tuple[str, int]]:
        seen = set()
        for record in records:
            try:
                message = decoder.decode(record.frame)
            except ProtocolError:
                continue
            stream.note(message, record.received_at)
            seen.add((message.run_id, message.rank))
        return seen

    wanted = {key for key in read(_head(reader)) if key not in stream.ended}
    in_tail: set[tuple[str, int]] = set()
    for file in reversed(reader.paths):  # the last file first; an earlier one only for a rank missing there
        size, window = os.path.getsize(file), TAIL_BYTES
        while not wanted <= in_tail or not in_tail:
            in_tail |= read(reader.records_from(file, max(size - window, 0)))
            wanted |= in_tail
            if window >= size:
                break
            window *= 8
        if wanted <= in_tail:
            break
    if not stream.open_ranks or (now if now is not None else time.time()) - stream.last_received_at > RESUME_WITHIN_S:
        return None
    return stream


def _head(reader: RecordingReader):
    """The records in the first HEAD_BYTES of the recording."""
    read = 0
    for record in reader:
        yield record
        read += len(record.frame)
        if read >= HEAD_BYTES:
            return
