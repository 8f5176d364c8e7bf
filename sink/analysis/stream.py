"""Stream health findings: run start and end, sequence gaps, drops, stalls, bad frames,
capture errors the ranks reported, and the live sink's own overload (its drops and lag).

`RunState` does the bookkeeping (sequence numbers, receive times); this module words what it
saw as findings a person can act on. Stalls are found from the recorded receive times and the
senders' times together (the pipeline's clock advances with each frame, and on idle ticks when
live), so a replay finds the same stalls at the same place in the stream and a sink that was
paused finds none in its backlog; a run whose ranks all ended or stalled, one at least without
its run end, is aborted.
"""

from __future__ import annotations

import os

from stratlog.protocol import Damage, ErrorEvent, RunEnd, RunStart
from stratlog.sink.findings import FAIL, OK, WARN, Finding
from stratlog.sink.state import Delivery, RankState

ANALYSIS = "stream"


def _finding(message, check: str, severity: str, reason: str, value=None) -> Finding:
    return Finding(message.run_id, message.rank, message.step, ANALYSIS, check, severity, reason, value)


def delivery_findings(message, delivery: Delivery) -> list[Finding]:
    """Findings about how this message arrived (gaps, drops, restart, end of a stall)."""
    findings = []
    rank = message.rank
    if delivery.restarted:
        findings.append(_finding(message, "restart", WARN,
                                 f"rank {rank} sent a new run start (seq 0): the rank restarted (torchrun elastic "
                                 "restart or a crash); check its log for the error that ended the previous attempt"))
    if delivery.silent_for_s is not None:
        findings.append(_finding(message, "stall", OK, f"rank {rank} resumed after {delivery.silent_for_s:.1f} s of silence",
                                 round(delivery.silent_for_s, 3)))
    if delivery.missing or delivery.dropped:
        dropped = min(delivery.dropped, delivery.missing) if delivery.missing else delivery.dropped
        lost = max(delivery.missing - delivery.dropped, 0)
        first = message.seq - delivery.missing
        parts = []
        if dropped:
            parts.append(f"{dropped} dropped by the rank itself (its send queue was full: the sink is too slow "
                         "or was unreachable; check the sink's CPU load and that it was up)")
        if lost:
            parts.append(f"{lost} lost in transit (sent but never received: the sink restarted, refused frames, or "
                         "dropped them itself while overloaded; check events.jsonl for bad frames and sink_load)")
        span = f" (seq {first}..{message.seq - 1})" if delivery.missing else ""
        findings.append(_finding(message, "sequence_gap", WARN,
                                 f"{delivery.missing or dropped} message(s) missing from rank {rank}{span}: " + "; ".join(parts),
                                 {"missing": delivery.missing, "dropped_by_rank": dropped, "lost_in_transit": lost}))
    return findings


def run_start_finding(message: RunStart) -> Finding:
    if message.seq > 0:  # the same run start again: the rank reconnected to a sink (PROTOCOL.md §2)
        return _finding(message, "run_start", OK, f"rank {message.rank} sent its run start again (seq {message.seq}) "
                        "on reconnecting to a sink: its run context is current")
    return _finding(message, "run_start", OK,
                    f"rank {message.rank} of {message.world_size} started on {message.hostname} (pid {message.pid}), "
                    f"capturing every {message.capture_interval} steps, heartbeat every {message.heartbeat_interval_s:g} s")


def run_end_finding(message: RunEnd, rank: RankState) -> Finding:
    received_before = rank.first_seq + rank.received - 1
    lost = max(message.messages_sent - received_before, 0)
    totals = (f"{message.messages_sent} sent, {message.messages_dropped} dropped by the rank, "
              f"{lost} lost in transit")
    value = {"status": message.status, "sent": message.messages_sent, "dropped": message.messages_dropped, "lost": lost}
    if message.status == "completed":
        return _finding(message, "run_end", WARN if lost or message.messages_dropped else OK,
                        f"rank {message.rank} completed at step {message.step} ({totals})", value)
    severity = FAIL if message.status == "failed" else WARN
    return _finding(message, "run_end", severity,
                    f"rank {message.rank} ended '{message.status}' at step {message.step} ({totals}): "
                    "training did not complete; check the rank's log for the exception or signal", value)


def stall_finding(run_id: str, rank: RankState, silent_after_s: float) -> Finding:
    return Finding(run_id, rank.rank, rank.step, ANALYSIS, "stall", FAIL,
                   f"rank {rank.rank} sent nothing, not even a heartbeat, for more than {silent_after_s:g} s after "
                   f"step {rank.step}: the rank hung or died; check its process (py-spy dump), NCCL timeouts, "
                   "and the network path to the sink", silent_after_s)


def run_aborted_finding(run_id: str, ranks: dict[int, RankState]) -> Finding:
    """Every rank of the run has ended or stalled, and some stalled without a run end: the run
    was aborted (killed, OOM, a lost node) rather than finished."""
    silent = sorted(rank.rank for rank in ranks.values() if not rank.ended)
    step = max(rank.step for rank in ranks.values())
    steps = ", ".join(f"rank {rank} after step {ranks[rank].step}" for rank in silent)
    return Finding(run_id, None, step, ANALYSIS, "run_aborted", FAIL,
                   f"{len(silent)} of {len(ranks)} rank(s) stopped without a run end ({steps}): the run was killed or "
                   "crashed (SIGKILL, out of memory, a lost node), its logs end here; check the ranks' own output and "
                   "the system log (dmesg)", silent)


def recording_damage_finding(damage: Damage) -> Finding:
    """A damaged byte range a replay skipped: WARN when records written whole were lost there; OK
    for the torn last record a sink killed mid-write leaves (nothing else is lost)."""
    where = f"{damage.length} bytes at offset {damage.offset} of {os.path.basename(damage.path)} ({damage.reason})"
    if damage.torn_tail:
        return Finding(None, None, None, ANALYSIS, "recording_damage", OK,
                       f"the recording's last record is cut short, {where}: a sink killed while writing it leaves this; "
                       "nothing before it is lost", damage.length)
    return Finding(None, None, None, ANALYSIS, "recording_damage", WARN,
                   f"the recording is damaged, {where}: the records there are lost and this replay goes on after them; "
                   "check the disk or the copy the recording came from", damage.length)


def bad_frame_finding(reason: str, detail: str, size: int) -> Finding:
    return Finding(None, None, None, ANALYSIS, "bad_frame", WARN,
                   f"a frame of {size} bytes was refused ({reason}: {detail}); the sink goes on. A sender of another "
                   "protocol version or corrupted traffic; check the senders' stratlog versions", size)


def capture_error_finding(message: ErrorEvent) -> Finding:
    return _finding(message, "capture_error", WARN,
                    f"capture '{message.where}' failed on rank {message.rank}: {message.error_type}: {message.message} "
                    f"(failure #{message.count}); training went on without that snapshot; fix the capture code",
                    message.count)


def overload_finding(load: dict) -> Finding:
    """`load`: a sink_load record of `sink.service` whose period had drops."""
    return Finding(None, None, None, ANALYSIS, "sink_overload", WARN,
                   f"the sink dropped {load['dropped_frames']} message(s) ({load['dropped_bytes'] / 2**20:.1f} MiB) in the "
                   f"last {load['period_s']:.0f} s: its backlog was full ({load['backlog_limit_bytes'] / 2**20:.0f} MiB) "
                   f"and it ran up to {load['max_lag_s']:.1f} s behind; any rank's messages may be missing (sequence "
                   "gaps). The ranks send more than one sink core handles: capture less often (--strategic_logging_steps) "
                   "or on fewer ranks (--strategic_ranks), or give the sink more --backlog-mb for bursts", load["dropped_frames"])


def caught_up_finding(load: dict) -> Finding:
    return Finding(None, None, None, ANALYSIS, "sink_overload", OK,
                   f"the sink dropped nothing in the last {load['period_s']:.0f} s and is {load['lag_s']:.1f} s behind",
                   0)
