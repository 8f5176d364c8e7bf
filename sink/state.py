"""What the sink knows about the runs it receives: the data model behind logs and dashboard.

Per rank it tracks the sequence numbers (a jump is a gap: messages lost in transit), the drops
the rank itself reported, the last message time (a quiet rank is stalled), the latest step,
metrics and decoded input. Frames that fail to decode are counted by reason. Nothing here
knows about Textual; a dashboard reads `RunState` under its lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from protocol import Heartbeat, InputSnapshot, Metrics, RunEnd, RunStart


@dataclass
class RankState:
    rank: int
    next_seq: int = 0
    gaps: int = 0
    """Messages missing from the sequence (lost between the rank's socket and ours)."""
    reported_drops: int = 0
    """Messages the rank says it dropped before sending (queue full / high-water mark)."""
    last_message_time: float = 0.0
    """Sink clock (received_at) of the rank's latest message."""
    step: int = 0
    ended: str = ""
    """Run-end status once received ("completed", "failed", "interrupted")."""
    metrics: dict[str, float] = field(default_factory=dict)
    decoded_input: str = ""
    input_step: int = 0


@dataclass
class RunState:
    run_id: str = ""
    world_size: int = 0
    model_path: str = ""
    ranks: dict[int, RankState] = field(default_factory=dict)
    bad_frames: Counter = field(default_factory=Counter)
    messages: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    version: int = 0
    """Bumped on every change, so a dashboard redraws only when something happened."""

    @property
    def step(self) -> int:
        return max((rank.step for rank in self.ranks.values()), default=0)

    @property
    def finished(self) -> bool:
        """Every rank of the run has sent its run end."""
        return bool(self.world_size) and len(self.ranks) == self.world_size and all(r.ended for r in self.ranks.values())

    def count_bad_frame(self, reason: str) -> None:
        with self.lock:
            self.bad_frames[reason] += 1
            self.version += 1

    def apply(self, message, received_at: float, decoded_input: str = "") -> None:
        with self.lock:
            self.messages += 1
            self.version += 1
            if isinstance(message, RunStart) or not self.run_id:
                self.run_id = message.run_id
            self.world_size = max(self.world_size, message.world_size)
            rank = self.ranks.setdefault(message.rank, RankState(message.rank))
            if message.seq > rank.next_seq:
                rank.gaps += message.seq - rank.next_seq
            rank.next_seq = max(rank.next_seq, message.seq + 1)
            rank.reported_drops += message.dropped
            rank.last_message_time = received_at
            rank.step = max(rank.step, message.step)
            if isinstance(message, RunStart):
                self.model_path = message.model_path
            elif isinstance(message, Metrics):
                rank.metrics = dict(message.values)
            elif isinstance(message, InputSnapshot):
                rank.decoded_input, rank.input_step = decoded_input, message.step
            elif isinstance(message, RunEnd):
                rank.ended = message.status
            elif isinstance(message, Heartbeat):
                pass
