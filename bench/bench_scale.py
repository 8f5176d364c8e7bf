"""Sink scale: one `stratlog sink` process on one core against 128, 512 and 2 048 simulated ranks.

Run: python bench/bench_scale.py [--write] [--ranks 128 512 2048] [--seconds 25]   (needs 2 CPUs;
about 40 s per rank count; prints the "## Sink scale" section of BENCHMARKS.md)

Each simulated rank is a PUSH socket of its own, sending what a real rank sends (frames of the
project encoder): metrics at 5 steps/s, and at step 1 and every 10th step the four full-size
snapshots of `protocol.examples` (2 048 tokens, 8 codebooks, 28 x 24 heads; 52 KiB), every rank
at the same step as in data-parallel training, so captures arrive as bursts. Their token ids
(input, target and predicted text: what the sink decodes) differ for every rank and step, each a
slice at a random place of one pool of ids drawn once from the tokenizer's vocabulary, so the
sink never sees the same text twice, as with real data; so do the inputs' sample ids, as a
sharded sampler gives them (identical ones across ranks are a fault the sink reports, and its
check then costs a pass over the ranks that share them). The sink is the
real command (`stratlog sink`, default backlog, recording on, the demo tokenizer when built, as
bench_sink.py), pinned to CPU 0; every sender runs in one process pinned to CPU 1, so senders
never take the sink's core. The sender is not the bottleneck: it encodes each frame once
(~1 us a metrics frame, ~10 us four snapshots) and sends without blocking; it reports its own
CPU share and how many steps started late (its schedule slipping would mean the offered load
was lower than stated), and a send refused by ZeroMQ counts as the rank's drop, reported to the
sink in `dropped` as a rank does.

Measured from outside the sink: CPU (utime + stime of all its threads over the sending window,
as a share of one core) and resident memory (sampled every 0.5 s: peak, and at the end). From
its own `sink_load` records (events.jsonl): messages handled, the largest lag (now minus the
arrival time of the message being handled) and the messages it dropped past its backlog.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq

from bench_sink import tokenizer_path, vocabulary_size
from benchmarks_md import argument_parser, measured_on, publish
from stratlog.protocol import Array, InputSnapshot, Metrics, RunEnd, RunStart, encode
from stratlog.protocol.examples import FULL_SIZE, example_snapshots

VARIED_IDS = ("input_ids", "target_text_ids", "predicted_text_ids")
"""The token ids that differ for every rank and step (the text the sink decodes)."""
ID_POOL = 1 << 22
BASELINE_COMMIT = "3f0d229"
BASELINE_MS_PER_RANK_S = 1.61
"""Sink CPU per rank and second at BASELINE_COMMIT (the end of the first round of scale work), measured
with this bench on this machine within the hour of the figures in BENCHMARKS.md: 512 ranks, two runs
alternated with the current code (1.58, 1.64 ms). This machine's timings drift over hours (the same commit
measured 1.14 and 1.96 ms in earlier sessions, under other load), so only a baseline measured beside the
figures is one."""
STEPS_PER_S = 5
CAPTURE_EVERY = 10
SINK_CPU, SENDER_CPU = 0, 1
RUN_ID = "scale"
VALUES = {"loss": 5.0, "text_loss": 2.0, "audio_loss": 3.0, "learning_rate": 1e-4, "grad_norm": 1.5,
          "tokens_per_second": 9e3, "step_time_s": 0.2, "memory_bytes": 3e10}


class VaryingIds:
    """Fresh token ids for every snapshot sent: a slice of one pool of random in-vocabulary ids at
    a random place, so each rank and step carries its own text at the cost of a slice; and an
    input's sample ids the next ones of one data set, as a sharded sampler gives every rank and
    step its own samples (every rank sending the same ones is the missing-sampler fault the
    input analysis reports, not a healthy run)."""

    def __init__(self, vocabulary: int | None) -> None:
        self._rng = np.random.default_rng(0)
        self._pool = self._rng.integers(0, vocabulary or 128_000, ID_POOL, dtype=np.int32)
        self._next_sample = 0

    def vary(self, snapshot) -> None:
        for name in VARIED_IDS:
            if hasattr(snapshot, name):
                ids = getattr(snapshot, name).to_numpy()
                start = int(self._rng.integers(0, ID_POOL - ids.size))
                setattr(snapshot, name, Array.from_numpy(self._pool[start:start + ids.size].reshape(ids.shape)))
        if isinstance(snapshot, InputSnapshot):
            first, self._next_sample = self._next_sample, self._next_sample + len(snapshot.sample_ids)
            snapshot.sample_ids = [f"sample{index:09d}" for index in range(first, self._next_sample)]


def drive_ranks(address: str, ranks: int, seconds: float, tokenizer: str | None, go, report) -> None:
    """The sender process: `ranks` PUSH sockets, each one rank's stream; results into `report`."""
    os.sched_setaffinity(0, {SENDER_CPU})
    context = zmq.Context(io_threads=1)
    context.set(zmq.MAX_SOCKETS, ranks + 16)
    sockets = []
    for _ in range(ranks):
        socket = context.socket(zmq.PUSH)
        socket.setsockopt(zmq.SNDHWM, 1000)
        socket.setsockopt(zmq.LINGER, 2000)
        socket.connect(address)
        sockets.append(socket)
    seq, dropped, refused = [0] * ranks, [0] * ranks, 0

    def send(rank: int, message) -> None:
        nonlocal refused
        message.seq, message.dropped = seq[rank], dropped[rank]
        seq[rank] += 1
        try:
            sockets[rank].send(encode(message), zmq.NOBLOCK)
            dropped[rank] = 0
        except zmq.Again:  # a rank never blocks: it drops and reports it in its next message
            dropped[rank] += 1
            refused += 1

    head = {"run_id": RUN_ID, "world_size": ranks, "seq": 0, "step": 0, "time": time.time()}
    for rank in range(ranks):
        send(rank, RunStart(**head, rank=rank, model_path="m", tokenizer_path=tokenizer or "", audio_tokenizer_path="a",
                            model_config={"num_codebooks": 8, "codebook_size": 1026, "audio_stream_eos_id": 1025},
                            training_args={"learning_rate": 1e-4, "warmup_steps": 100, "max_steps": 100_000},
                            hostname="bench", pid=rank, capture_interval=CAPTURE_EVERY, capture_ranks=[],
                            heartbeat_interval_s=2.0))
    vocabulary = vocabulary_size(tokenizer)
    snapshots = example_snapshots(FULL_SIZE, run_id=RUN_ID, world_size=ranks)
    metrics = Metrics(**head, rank=0, values=VALUES)
    varying = VaryingIds(vocabulary)
    go.wait()
    cpu_start, start, step, late = time.process_time(), time.monotonic(), 0, 0
    while time.monotonic() - start < seconds:
        step += 1
        due = start + step / STEPS_PER_S
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        else:
            late += 1
        now = time.time()
        for rank in range(ranks):
            metrics.rank, metrics.step, metrics.time = rank, step, now
            send(rank, metrics)
        if step == 1 or step % CAPTURE_EVERY == 0:
            for rank in range(ranks):
                for snapshot in snapshots:
                    snapshot.rank, snapshot.step, snapshot.time = rank, step, now
                    varying.vary(snapshot)
                    send(rank, snapshot)
    elapsed, cpu = time.monotonic() - start, time.process_time() - cpu_start
    for rank in range(ranks):
        send(rank, RunEnd(**{**head, "time": time.time(), "step": step}, rank=rank, status="completed",
                          messages_sent=seq[rank] - dropped[rank], messages_dropped=0))
    report.put({"steps": step, "late_steps": late, "sent": sum(seq), "refused": refused, "elapsed_s": elapsed,
                "cpu_share": cpu / elapsed})
    for socket in sockets:
        socket.close()
    context.term()


def proc_cpu_s(pid: int) -> float:
    """utime + stime of every thread of `pid`, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def run_starts_logged(log_dir: Path) -> int:
    path = log_dir / "findings.jsonl"
    return path.read_text().count('"check": "run_start"') if path.is_file() else 0


def measure(ranks: int, seconds: float, tokenizer: str | None, workdir: Path) -> dict:
    log_dir = workdir / f"sink-{ranks}"
    address_file = workdir / f"address-{ranks}"
    sink = subprocess.Popen([sys.executable, "-m", "stratlog.cli", "sink", "--bind", "tcp://127.0.0.1:0", "--log-dir",
                             str(log_dir), "--address-file", str(address_file)],
                            preexec_fn=lambda: os.sched_setaffinity(0, {SINK_CPU}), stdout=subprocess.DEVNULL)
    try:
        wait_for(address_file.is_file, 60, "the sink to listen")
        go, report = multiprocessing.Event(), multiprocessing.Queue()
        sender = multiprocessing.Process(target=drive_ranks, args=(address_file.read_text(), ranks, seconds, tokenizer,
                                                                    go, report))
        sender.start()
        wait_for(lambda: run_starts_logged(log_dir) >= ranks, 120, f"{ranks} run starts at the sink")
        cpu_before, rss_samples = proc_cpu_s(sink.pid), []
        go.set()
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            time.sleep(0.5)
            rss_samples.append(proc_rss_mib(sink.pid))
        window_s = time.monotonic() - started
        cpu_in_window = proc_cpu_s(sink.pid) - cpu_before
        sent = report.get(timeout=60)
        sender.join(timeout=60)  # its sockets linger until the run ends are sent
        time.sleep(1.0)
        sink.send_signal(signal.SIGTERM)  # the sink handles its backlog, then writes its last sink_load record
        _, status, usage = os.wait4(sink.pid, 0)
        sink.returncode = status
        cpu_total = usage.ru_utime + usage.ru_stime - cpu_before  # from the start of sending to the sink's exit
    finally:
        if sink.poll() is None:
            sink.kill()
    loads = [json.loads(line) for line in (log_dir / "events.jsonl").read_text().splitlines()
             if '"sink_load"' in line]
    return {
        "ranks": ranks, "offered_per_s": sent["sent"] / sent["elapsed_s"], "sink_cpu": cpu_in_window / window_s,
        "cpu_needed": cpu_total / window_s, "rss_peak": max(rss_samples),
        "rss_half": rss_samples[len(rss_samples) // 2], "rss_end": rss_samples[-1], "max_lag_s": max(load["max_lag_s"] for load in loads),
        "handled": sum(load["handled"] for load in loads), "sink_dropped": loads[-1]["dropped_frames_total"],
        "peak_backlog_mib": max(load["max_backlog_bytes"] for load in loads) / 2**20, **sent,
    }


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--ranks", type=int, nargs="+", default=[128, 512, 2048], help="Rank counts (default: 128 512 2048).")
    parser.add_argument("--seconds", type=float, default=25.0, help="Sending window per rank count (default: 25).")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs 2 CPUs: the sink on one, the senders on the other")
    tokenizer, load_before = tokenizer_path(), os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ranks in args.ranks:
            result = measure(ranks, args.seconds, tokenizer, Path(tmp))
            print(json.dumps(result), file=sys.stderr)
            rows.append(result)
            for leftover in Path(tmp).glob(f"sink-{ranks}/*.stratrec*"):
                leftover.unlink()  # a recording of 2 048 ranks is ~50 MB/s: keep the disk free
    load_after = os.getloadavg()[0]
    per_second = STEPS_PER_S * (1 + 4 / CAPTURE_EVERY)
    lines = [
        f"{measured_on('python bench/bench_scale.py', 'pyzmq', 'msgspec')}; the sink pinned to CPU 0, every sender "
        f"on CPU 1; {args.seconds:g} s of sending per rank count; load average {load_before:.2f} before the run and "
        f"{load_after:.2f} after it (other work shares both CPUs: the sink's CPU time grows with it).",
        f"Tokenizer: {'the embedded tiny checkpoint' if tokenizer else 'none found (ids shown raw)'}. Per rank: metrics "
        f"at {STEPS_PER_S} steps/s, the four full-size snapshots at step 1 and every {CAPTURE_EVERY} steps "
        f"({per_second:g} messages/s/rank, the snapshots of all ranks at once; their token ids differ for every rank "
        "and step, random in the tokenizer's vocabulary, and so do their sample ids). CPU needed: the sink's CPU time from "
        "the first step to its exit (its backlog handled) per second of sending; CPU got: its share of CPU 0 while "
        "the ranks sent (less than needed: the sink fell behind). Resident memory is bounded by the backlog (256 MiB "
        "by default) and per-rank state (the latest snapshot of each kind, ~52 KiB a rank; the sample ids of the last "
        "64 capture steps).",
        "",
        "| Ranks | Target msg/s | Sent / handled | Sink drops | Sink CPU needed / got | RSS half-way / end / peak MiB "
        "| Max lag s | Peak backlog MiB | Sender CPU, late steps, refused |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        share = row["sink_dropped"] / row["sent"] if row["sent"] else 0.0
        lines.append(
            f"| {row['ranks']:,} | {row['ranks'] * per_second:,.0f} | {row['sent']:,} / {row['handled']:,} "
            f"| {row['sink_dropped']:,} ({share:.0%}) | {row['cpu_needed']:.2f} / {row['sink_cpu']:.2f} "
            f"| {row['rss_half']:.0f} / {row['rss_end']:.0f} / {row['rss_peak']:.0f} | {row['max_lag_s']:.1f} "
            f"| {row['peak_backlog_mib']:.0f} "
            f"| {row['cpu_share']:.0%}, {row['late_steps']}/{row['steps']}, {row['refused']:,} |")
    whole = [row for row in rows if not row["sink_dropped"]]
    if whole:
        largest = max(whole, key=lambda row: row["ranks"])
        per_rank = largest["cpu_needed"] / largest["ranks"]
        lines += ["", f"- One rank at these rates costs the sink {per_rank * 1e3:.2f} ms of CPU per second (from "
                      f"{largest['ranks']:,} ranks, nothing dropped; {per_rank * 1e3 / BASELINE_MS_PER_RANK_S:.2f}x the "
                      f"{BASELINE_MS_PER_RANK_S} ms of {BASELINE_COMMIT}): one core handles about {1 / per_rank:,.0f} "
                      f"ranks; 2 048 ranks need {per_rank * 2048:.2f} cores, so the goal (2 048 on one core, no drops) is "
                      f"{'met' if per_rank * 2048 <= 1 else f'missed by {per_rank * 2048:.1f}x'}."]
    for row in rows:
        if row["sink_dropped"]:
            lines.append(f"- Past saturation ({row['ranks']:,} ranks): {row['sink_dropped']:,} messages dropped at the "
                         f"sink and counted, the backlog capped at {row['peak_backlog_mib']:.0f} MiB, lag up to "
                         f"{row['max_lag_s']:.0f} s, resident memory {row['rss_half']:.0f} MiB half-way and "
                         f"{row['rss_end']:.0f} MiB at the end of sending.")
    publish("Sink scale", "\n".join(lines), write=args.write)


if __name__ == "__main__":
    main()
