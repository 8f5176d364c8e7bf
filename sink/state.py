"""What the sink knows about the runs it receives: the data model behind logs and dashboard.

Ranks are kept per run: two runs sending to one sink (two experiments, one address) never mix
their sequence numbers, stalls or ends. The run shown (`run_id`, `ranks`, `world_size` and the
observer) is the first run seen until a run first seen later produces real steps (metrics or a
snapshot): a run start alone never takes the dashboard over, so a stray or forged run start (or
one for a run id already known) cannot replace the run being watched, live or in a replay; a new
experiment sent to the same sink is shown from its first step. A viewer may show another run
the sink has seen (`show_next_run`); that choice holds until a run first seen after it sends a
real step. Per rank it tracks the sequence
numbers (a jump is a gap: messages missing), the drops the rank itself reported, the last receive time (a quiet rank is
stalled), the latest step, and the latest findings. Frames that fail to decode are counted by
reason, and so are the frames the sink failed to analyse, log or draw (analysis errors).
`apply` and `find_stalls` return what changed so `sink.analysis.stream` can turn it into
findings; times are the recorded receive times, never a clock read here. The work per message
does not grow with the number of ranks: stalls are looked for only once the earliest moment a
rank could have stalled has passed (`find_stalls`). Nothing here knows about Textual; a
dashboard reads `RunState` under its lock.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Protocol

from stratlog.protocol import ErrorEvent, Heartbeat, RunEnd, RunStart
from stratlog.sink.backlog import SinkLoad
from stratlog.sink.findings import Finding
from stratlog.sink.thresholds import STALL_HEARTBEATS

RECENT_FINDINGS = 500
"""Findings kept in memory for viewers (the full list is in findings.jsonl)."""
RUNS_KEPT = 32
"""Runs whose state the sink keeps in memory. A sink that outlives many experiments, or a client
that invents run ids, must not grow without bound: past this, the run heard from least recently
(never the one shown) is forgotten (`RunState.apply`); its logs stay on disk."""
FORGOTTEN_RUNS_KEPT = 4096
"""Forgotten run ids remembered (a few hundred KiB at most), so that one which speaks again is
taken up where it is, not charged with every message it sent before as missing."""


@dataclass
class RankState:
    rank: int
    next_seq: int = 0
    first_seq: int = 0
    """Where this record of the rank starts: 0, or the first message's seq for a viewer that
    joined mid-stream (the messages before it count as seen, not as lost)."""
    received: int = 0
    """Messages received from this rank (this run start on)."""
    gaps: int = 0
    """Messages missing from the sequence: dropped by the rank or lost in transit."""
    reported_drops: int = 0
    """Messages the rank says it dropped before sending (queue full / high-water mark)."""
    last_message_time: float = 0.0
    """Receive time (sink clock, as recorded) of the rank's latest message."""
    last_sent_time: float = 0.0
    """Sender time (the envelope's `time`) of the rank's latest message."""
    clock_offset: float = math.inf
    """Smallest receive time minus sender time of the rank's messages: its transit time plus the
    clocks' difference, so `last_sent_time + clock_offset` is when that message would have been
    received by a sink that keeps up (`RunState.find_stalls`)."""
    heartbeat_interval_s: float = 5.0
    stalled: bool = False
    step: int = 0
    ended: str = ""
    """Run-end status once received ("completed", "failed", "interrupted", "terminated")."""
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    """Latest finding per (analysis, check)."""


@dataclass(slots=True)
class Delivery:
    """What one message told about its rank's stream (one per message: not frozen, which makes
    building it 3x dearer)."""

    rank: RankState
    missing: int = 0
    """Sequence numbers skipped since the rank's previous message."""
    dropped: int = 0
    """Of those, how many the rank says it dropped itself."""
    restarted: bool = False
    silent_for_s: float | None = None
    """Set when the message ends a stall: how long the rank was silent."""
    viewer_error: Exception | None = None
    """What the observer (a dashboard's history) raised on this message, for the pipeline to
    count: a viewer failing on one strange message must not stop the sink."""
    forgotten_run: str | None = None
    """A run this message's new run pushed out of memory (`RUNS_KEPT`): the pipeline forgets it too."""


class RunObserver(Protocol):
    """Told of every applied message and recorded finding of every run, under the state's lock,
    in the receiving thread: a viewer's history (sink.dashboard_model) keeps what RunState does not."""

    def message_applied(self, message) -> None: ...

    def findings_recorded(self, findings: list[Finding]) -> None: ...

    def sim_scored(self, row: dict) -> None:
        """One capture's SIM scores from the sink's audio decoder (sink.audio_clips)."""

    def run_switched(self, run_id: str) -> None:
        """Another run is now the one shown (a takeover, or the viewer's choice)."""

    def run_forgotten(self, run_id: str) -> None:
        """`run_id` is no longer kept (`RUNS_KEPT`): drop what is kept of it."""


@dataclass
class RunState:
    run_id: str = ""
    """The run shown: the first run seen, or the latest-seen run that has produced real steps (`_shows`)."""
    runs: dict[str, dict[int, RankState]] = field(default_factory=dict)
    """Ranks per run id."""
    world_sizes: dict[str, int] = field(default_factory=dict)
    bad_frames: Counter = field(default_factory=Counter)
    refused_connections: Counter = field(default_factory=Counter)
    """Reason -> connections the sink's CURVE check refused (unknown key, plain-text client)."""
    messages: int = 0
    recent_findings: deque = field(default_factory=lambda: deque(maxlen=RECENT_FINDINGS))
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    version: int = 0
    """Bumped on every change, so a dashboard redraws only when something happened."""
    observer: RunObserver | None = field(default=None, repr=False)
    """None when headless; a dashboard's history otherwise."""
    joined_mid_stream: bool = False
    """A viewer attached to a running sink: each rank's first message sets where its sequence
    starts, so what was sent before the viewer subscribed is not counted as a gap."""
    stall_after_s: float | None = None
    """Silence after which a rank is stalled; None: STALL_HEARTBEATS x the rank's heartbeat interval."""
    analysis_errors: Counter = field(default_factory=Counter)
    """Where it failed ("input analysis", "dashboard TokenView", ...) -> frames the sink could not
    analyse, log or draw there; each is also a line of events.jsonl."""
    load: SinkLoad | None = None
    """The live sink's lag, backlog and drops (`sink.service`); None in a replay."""
    write_errors: Counter = field(default_factory=Counter)
    """Output ("recording", "findings.jsonl", ...) -> times the disk refused it (ENOSPC, EIO)."""
    writes_paused: dict = field(default_factory=dict)
    """Output -> why its writing is paused now ("No space left on device"); analysis goes on,
    and the output resumes when the disk takes writes again."""
    sender_now: float = 0.0
    """The latest sender time the sink has caught up with (`find_stalls`)."""
    _next_stall_check: float = field(default=math.inf, init=False, repr=False)
    """No rank can stall before this receive time: the earliest silence deadline seen since the
    last look (a deadline only moves later when its rank sends, so this never misses one)."""
    _next_sender_check: float = field(default=math.inf, init=False, repr=False)
    """The same in sender time (`_sender_deadline`): both must have passed for a stall."""
    _unwritten_errors: list = field(default_factory=list, init=False, repr=False)
    _first_seen: dict = field(default_factory=dict, init=False, repr=False)
    """Run id -> the order in which its first message arrived (0, 1, ...; a forgotten run's number is not reused)."""
    _runs_seen: int = field(default=0, init=False, repr=False)
    _heard: dict = field(default_factory=dict, init=False, repr=False)
    """Run id -> receive time of its latest message: the least recent is forgotten first. Kept on
    each message (one dict store) rather than found from the ranks' own times when a run must go:
    a stream of invented run ids makes that happen on every frame, a pass over every kept rank."""
    forgotten: dict = field(default_factory=dict, init=False, repr=False)
    """Run ids forgotten (oldest first, at most FORGOTTEN_RUNS_KEPT): a rank of one of them that
    speaks again starts its sequence where it is, as for a viewer that joined mid-stream."""
    _takeover_from: int = field(default=0, init=False, repr=False)
    """Runs first seen from this place on may take the view over: a viewer's choice
    (`show_next_run`) holds until a run it has not seen yet sends a real step."""

    @property
    def ranks(self) -> dict[int, RankState]:
        """The shown run's ranks."""
        return self.runs.get(self.run_id, {})

    @property
    def world_size(self) -> int:
        return self.world_sizes.get(self.run_id, 0)

    @property
    def step(self) -> int:
        return max((rank.step for rank in self.ranks.values()), default=0)

    @property
    def finished(self) -> bool:
        """Every rank of every run, the shown one included, has sent its run end or is stalled
        (a rank killed without a run end must not keep the sink waiting: `--exit-after-run`
        ends after a stall-declared end)."""
        return bool(self.world_size) and self.all_settled

    @property
    def all_settled(self) -> bool:
        """Every rank of every run (none included) has ended or stalled: nothing more will come."""
        return all(self.settled(run_id) for run_id in self.runs)

    def settled(self, run_id: str) -> bool:
        """Every rank of `run_id` has been heard of and has ended or stalled."""
        ranks = self.runs.get(run_id, {})
        return len(ranks) == self.world_sizes.get(run_id, 0) and all(rank.ended or rank.stalled for rank in ranks.values())

    def resume_rank(self, run_id: str, rank: int, world_size: int, next_seq: int, step: int, now: float) -> None:
        """A rank another sink received before this one started (`sink.resume`): its sequence goes
        on at `next_seq`, what came before counts as seen, and it may stall from `now` on."""
        with self.lock:
            self.world_sizes[run_id] = max(self.world_sizes.get(run_id, 0), world_size)
            state = self.runs.setdefault(run_id, {})[rank] = RankState(rank, next_seq=next_seq, first_seq=next_seq,
                                                                      step=step, last_message_time=now)
            limit = self._stall_limit(state)
            self._next_stall_check = min(self._next_stall_check, now + limit)
            self._next_sender_check = min(self._next_sender_check, self._sender_deadline(state, limit))
            self.version += 1

    def count_bad_frame(self, reason: str) -> None:
        with self.lock:
            self.bad_frames[reason] += 1
            self.version += 1

    def count_refused_connection(self, reason: str) -> None:
        with self.lock:
            self.refused_connections[reason] += 1
            self.version += 1

    def count_analysis_error(self, record: dict) -> None:
        """`record` (its "where" says where it failed) is counted and kept until the pipeline
        writes it to events.jsonl (`take_unwritten_errors`); safe from any thread: a dashboard
        counts here what it failed to draw."""
        with self.lock:
            self.analysis_errors[record["where"]] += 1
            self._unwritten_errors.append(record)
            self.version += 1

    def write_failed(self, output: str, error: OSError) -> bool:
        """Counts a write the disk refused; True when it pauses `output` (one error event per outage)."""
        with self.lock:
            self.write_errors[output] += 1
            newly = output not in self.writes_paused
            self.writes_paused[output] = error.strerror or type(error).__name__
            self.version += 1
            return newly

    def write_resumed(self, output: str) -> None:
        with self.lock:
            self.writes_paused.pop(output, None)
            self.version += 1

    @property
    def has_unwritten_errors(self) -> bool:
        """Read without the lock (a list's truth is one atomic read): the pipeline asks on every tick."""
        return bool(self._unwritten_errors)

    def take_unwritten_errors(self) -> list[dict]:
        with self.lock:
            records, self._unwritten_errors = self._unwritten_errors, []
            return records

    def set_load(self, load: SinkLoad) -> None:
        with self.lock:
            self.load = load

    def _stall_limit(self, rank: RankState) -> float:
        return self.stall_after_s if self.stall_after_s is not None else STALL_HEARTBEATS * rank.heartbeat_interval_s

    def apply(self, message, received_at: float) -> Delivery:
        run_id, sent_at = message.run_id, message.time
        with self.lock:
            self.messages += 1
            self.version += 1
            # a message of the run shown (nearly all of them) switches nothing: `_shows` has nothing to do
            switched = False if run_id == self.run_id and run_id in self._first_seen else self._shows(message)
            known = self.world_sizes.get(run_id)
            if known is None or message.world_size > known:  # `max`, without the call (per message)
                self.world_sizes[run_id] = message.world_size
            self._heard[run_id] = received_at
            ranks = self.runs.get(run_id)
            forgotten_run = None
            if ranks is None:
                forgotten_run = self._forget_one_if_full()
                ranks = self.runs[run_id] = {}
            rank = ranks.get(message.rank)
            if rank is None:
                rank = ranks[message.rank] = RankState(message.rank)
            if (self.joined_mid_stream or run_id in self.forgotten) and rank.received == 0:
                rank.next_seq = rank.first_seq = message.seq
            restarted = isinstance(message, RunStart) and message.seq == 0 and (rank.received > 0 or rank.next_seq > 0)
            if restarted:
                rank.next_seq, rank.first_seq, rank.received, rank.ended = 0, 0, 0, ""
            missing = message.seq - rank.next_seq
            if missing >= 0:  # the next message, or later ones: `missing` were skipped
                rank.gaps += missing
                rank.next_seq = message.seq + 1
            else:  # an earlier one again (a re-sent run start)
                missing = 0
            rank.received += 1
            rank.reported_drops += message.dropped
            silent_for = received_at - rank.last_message_time if rank.stalled else None
            rank.stalled = False
            rank.last_message_time = received_at
            rank.last_sent_time = sent_at
            if received_at - sent_at < rank.clock_offset:  # `min` and `max` as if-statements: the same
                rank.clock_offset = received_at - sent_at  # choices (a NaN never replaces), fewer steps
            if message.step > rank.step:
                rank.step = message.step
            if isinstance(message, RunStart):
                rank.heartbeat_interval_s = message.heartbeat_interval_s
            elif isinstance(message, RunEnd):
                rank.ended = message.status
            if not rank.ended:
                limit = self._stall_limit(rank)
                deadline, sender_deadline = received_at + limit, self._sender_deadline(rank, limit)
                if deadline < self._next_stall_check:
                    self._next_stall_check = deadline
                if sender_deadline < self._next_sender_check:
                    self._next_sender_check = sender_deadline
            viewer_error = None
            if self.observer is not None:
                try:
                    if switched:
                        self.observer.run_switched(message.run_id)
                    self.observer.message_applied(message)
                except Exception as error:  # noqa: BLE001 - a viewer's failure is counted, the sink goes on
                    viewer_error = error
            return Delivery(rank, missing, message.dropped, restarted, silent_for, viewer_error, forgotten_run)

    def _forget_one_if_full(self) -> str | None:
        """Makes room for a new run (lock held): with RUNS_KEPT runs kept, the one heard from least
        recently, never the one shown, is forgotten and returned."""
        if len(self.runs) < RUNS_KEPT:
            return None
        run_id = min((run for run in self.runs if run != self.run_id), key=lambda run: self._heard.get(run, -math.inf))
        for kept in (self.runs, self.world_sizes, self._first_seen, self._heard):
            kept.pop(run_id, None)
        self.forgotten[run_id] = None
        if len(self.forgotten) > FORGOTTEN_RUNS_KEPT:
            del self.forgotten[next(iter(self.forgotten))]
        if self.observer is not None:
            self.observer.run_forgotten(run_id)
        return run_id

    def _shows(self, message) -> bool:
        """Makes `message`'s run the one shown when the takeover rule says so (lock held); True
        when that switched from another run. Only real steps take over, and only for a run first
        seen after the shown one: a run start (new or repeated), a heartbeat or a run end never does."""
        run_id = message.run_id
        if run_id not in self._first_seen:
            self._first_seen[run_id] = self._runs_seen
            self._runs_seen += 1
        if not isinstance(message, (RunStart, RunEnd, Heartbeat, ErrorEvent)):
            if self.run_id and run_id != self.run_id and self._first_seen[run_id] > self._first_seen[self.run_id] \
                    and self._first_seen[run_id] >= self._takeover_from:
                self.run_id = run_id
                return True
        if not self.run_id:
            self.run_id = run_id
        return False

    def _sender_deadline(self, rank: RankState, limit: float) -> float:
        """When, in sender time made sink time (`clock_offset`), `rank` is silent for longer than `limit`."""
        if math.isinf(rank.clock_offset):  # nothing received from it yet (a rank resumed after a restart)
            return rank.last_message_time + limit
        return rank.last_sent_time + rank.clock_offset + limit

    def sender_time(self, message, received_at: float) -> float:
        """`message`'s sender time as sink time: when a sink that keeps up would have received it
        (at most `received_at`; a sink that was paused receives its backlog late, all at once)."""
        ranks = self.runs.get(message.run_id)  # no `{}` made per message for a run not seen yet
        rank = ranks.get(message.rank) if ranks is not None else None
        offset, smallest = received_at - message.time, rank.clock_offset if rank is not None else math.inf
        return message.time + (offset if offset < smallest else smallest)  # `min`'s choice, without the call

    def find_stalls(self, now: float, sender_now: float | None = None) -> list[tuple[str, RankState, float]]:
        """Ranks of any run that have just become stalled: silent for longer than their limit
        (`stall_after_s`) both at receive time `now` and at sender time `sender_now` (the latest
        message's `sender_time`; None: `now`, a sink that has caught up, e.g. an idle tick), not
        ended; each with its run id and the limit it broke. Judged on both clocks, a sink that was
        paused (SIGSTOP, a long GC, a slow disk) and receives its backlog at once finds no stall
        in it: the backlog was sent on time. Every rank is looked at only once both clocks pass
        the earliest deadlines, so the cost per message does not grow with the number of ranks
        (a rank's deadlines only move later while it sends, or earlier in `apply`, which lowers
        the earliest: a look finds exactly the stalls that looking at every message would)."""
        sender_now = now if sender_now is None else sender_now
        if sender_now > self.sender_now:  # `max`'s choice, without the call (once per message)
            self.sender_now = sender_now
        if now <= self._next_stall_check or self.sender_now <= self._next_sender_check:
            return []
        stalled = []
        with self.lock:
            next_check = next_sender_check = math.inf
            for run_id, ranks in self.runs.items():
                for rank in ranks.values():
                    if rank.ended or rank.stalled:
                        continue
                    limit = self._stall_limit(rank)
                    sender_deadline = self._sender_deadline(rank, limit)
                    if now - rank.last_message_time > limit and self.sender_now > sender_deadline:
                        rank.stalled = True
                        stalled.append((run_id, rank, limit))
                    else:
                        next_check = min(next_check, rank.last_message_time + limit)
                        next_sender_check = min(next_sender_check, sender_deadline)
            self._next_stall_check, self._next_sender_check = next_check, next_sender_check
            if stalled:
                self.version += 1
        return sorted(stalled, key=lambda item: (item[1].last_message_time, item[1].rank, item[0]))

    @property
    def run_ids(self) -> list[str]:
        """Every run this state has seen, in the order they were first seen."""
        return [run_id for run_id in self._first_seen if run_id in self.runs]

    def show_next_run(self, delta: int = 1) -> str:
        """A viewer's choice: show the run `delta` places on in `run_ids` (wrapping); returns it."""
        with self.lock:
            runs = self.run_ids
            if self.run_id not in runs:
                return self.run_id
            chosen = runs[(runs.index(self.run_id) + delta) % len(runs)]
            if chosen != self.run_id:
                self.run_id = chosen
                self._takeover_from = self._runs_seen
                self.version += 1
                if self.observer is not None:
                    self.observer.run_switched(chosen)
            return chosen

    def record_sim_scores(self, row: dict) -> None:
        """One capture's SIM scores (a sim.jsonl row), which arrive after its snapshots: only
        the observer keeps them (a dashboard's trend)."""
        with self.lock:
            if self.observer is not None:
                self.observer.sim_scored(row)
            self.version += 1

    def record_findings(self, findings: list[Finding]) -> None:
        with self.lock:
            self.recent_findings.extend(findings)
            for finding in findings:
                ranks = self.runs.get(finding.run_id)  # no `{}` made per finding (a snapshot has several)
                rank = ranks.get(finding.rank) if ranks is not None else None
                if rank is not None:
                    rank.findings[(finding.analysis, finding.check)] = finding
            if self.observer is not None and findings:
                self.observer.findings_recorded(findings)
            self.version += 1
