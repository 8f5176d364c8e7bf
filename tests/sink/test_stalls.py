"""Stalls are found exactly where looking at every rank on every message would find them, though
the state looks only once the earliest silence deadline has passed (the work per message must
not grow with the number of ranks). Seeded, so a failure replays.
Run: ./run-tests tests/sink/test_stalls.py"""

from __future__ import annotations

import random

from stratlog.protocol import Heartbeat, RunEnd
from stratlog.sink.state import RunState
from stratlog.sink.thresholds import STALL_HEARTBEATS
from tests.sink.builders import envelope, run_start

RANKS = 40


def every_rank_looked_at(ranks: dict, now: float, stall_after_s: float | None, stalled: set) -> set:
    """The reference: every rank, at every message."""
    found = set()
    for number, (last, interval, ended) in ranks.items():
        limit = stall_after_s if stall_after_s is not None else STALL_HEARTBEATS * interval
        if not ended and number not in stalled and now - last > limit:
            found.add(number)
    return found


def test_stalls_are_found_at_the_same_messages_as_by_looking_at_every_rank():
    for seed, stall_after_s in ((1, None), (2, None), (3, 1.5)):
        rng = random.Random(seed)
        state, ranks, stalled, now, seqs = RunState(stall_after_s=stall_after_s), {}, set(), 0.0, {}
        for _ in range(3_000):
            now += rng.expovariate(40.0)
            rank = rng.randrange(RANKS) if rng.random() < 0.97 else rng.randrange(RANKS // 4)  # a few ranks go quiet
            seq = seqs.get(rank, -1) + 1
            seqs[rank] = seq
            head = envelope(run_id="run", rank=rank, world_size=RANKS, seq=seq, step=seq)
            if seq == 0 or rng.random() < 0.01:  # (re)start, with its own heartbeat interval
                interval = rng.choice((0.2, 0.5, 1.0))
                message = run_start(rank=rank, world_size=RANKS, seq=0)
                message.heartbeat_interval_s = interval
                seqs[rank] = 0
            elif rng.random() < 0.005:
                message = RunEnd(**head, status="completed", messages_sent=seq, messages_dropped=0)
            else:
                message = Heartbeat(**head)
            found = {rank_state.rank for _, rank_state, _ in state.find_stalls(now)}
            expected = every_rank_looked_at(ranks, now, stall_after_s, stalled)
            assert found == expected, (seed, now)
            stalled |= found
            state.apply(message, now)
            stalled.discard(rank)
            previous = ranks.get(rank, (0.0, 5.0, False))
            interval = message.heartbeat_interval_s if hasattr(message, "heartbeat_interval_s") else previous[1]
            restarted = message.seq == 0 and rank in ranks
            ended = isinstance(message, RunEnd) or (previous[2] and not restarted)
            ranks[rank] = (now, interval, ended)
        assert stalled, "the walk must have stalled some ranks"
