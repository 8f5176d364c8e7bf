"""Gathers the snapshots of one step of one rank into one human-log entry.

A rank sends the snapshots of a step (one of each kind: input, output, attention, zero-shot)
as separate messages, and other ranks' messages arrive in between, so each rank's sections
wait here until the entry is complete: when that rank sends anything of a later step, ends, or
ENTRY_GRACE_S after its last snapshot (recorded receive times). Sections are written in the
order of `sink.snapshot_kinds` (the seed's) whatever order they arrived in. Every decision
depends on the message order and recorded times only, so replay writes the same log, and a
live sink running behind still writes whole entries: the times are when the snapshots arrived,
not when the sink got to them (`sink.backlog`). Pending entries are kept in the order of their
latest snapshot, which is the order they fall due, so finding the due ones costs nothing per
message however many ranks have one pending.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from stratlog.sink import human_log, snapshot_kinds
from stratlog.sink.thresholds import ENTRY_GRACE_S


@dataclass
class PendingEntry:
    header: str
    step: int
    last_received: float
    sections: dict[str, list[str]] = field(default_factory=dict)
    """Snapshot kind key -> its sections (one, unless a rank sent the kind twice in a step)."""

    def text(self) -> str:
        """The header, a blank line, each section followed by one: joined once (an entry holds an
        input's decoded text, ~16 000 characters; each `+` would copy it again)."""
        parts = [self.header, "\n"]
        for kind in snapshot_kinds.SNAPSHOT_KINDS:
            for text in self.sections.get(kind.key, ()):
                parts += (text, "\n\n")
        if len(parts) == 2:
            parts.append("\n\n")
        return "".join(parts)

    @property
    def due(self) -> float:
        return self.last_received + ENTRY_GRACE_S


class EntryBuffer:
    """Pending entries by (run, rank); each method returns the entries' texts now complete."""

    def __init__(self) -> None:
        self._pending: OrderedDict[tuple[str, int], PendingEntry] = OrderedDict()
        """Oldest latest snapshot first (receive times only grow, so: soonest due first)."""

    def add(self, message, kind: str, section: str, received_at: float) -> list[str]:
        """`message`'s `section` of kind `kind` joins its rank's entry (the entry's header, from the
        first snapshot of the step, is made only then)."""
        key = (message.run_id, message.rank)
        done = self.rank_moved(key, message.step)
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = PendingEntry(human_log.entry_header(message), message.step, received_at)
        entry.sections.setdefault(kind, []).append(section)
        entry.last_received = received_at
        self._pending.move_to_end(key)
        return done

    def rank_moved(self, key: tuple[str, int], step: int, ended: bool = False) -> list[str]:
        """The rank sent a message of `step` (or its run end): an entry of an earlier step is complete."""
        entry = self._pending.get(key)
        if entry is not None and (ended or step != entry.step):
            del self._pending[key]
            return [entry.text()]
        return []

    def due(self, now: float) -> list[str]:
        """Entries whose rank has been quiet for ENTRY_GRACE_S, oldest first."""
        keys = []
        for key, entry in self._pending.items():
            if entry.last_received + ENTRY_GRACE_S >= now:  # `entry.due`, without a property call per message
                break
            keys.append(key)
        return self._take(keys) if keys else keys

    def drain(self) -> list[str]:
        return self._take(list(self._pending))

    def _take(self, keys: list[tuple[str, int]]) -> list[str]:
        keys.sort(key=lambda key: (self._pending[key].due, key))
        return [self._pending.pop(key).text() for key in keys]
