"""Sink throughput on one core: metrics ingest, full-size snapshot ingest with decoding and
analysis, and headless replay of a 100 000-message recording.

Run: python bench/bench_sink.py [--write]   (pins itself to one CPU; about a minute; prints the
"## Sink" section of BENCHMARKS.md)

Each figure goes through `SinkPipeline.handle` exactly as the live sink does after its socket
read: decode and validate, record (for the ingest figures), analyse, write the human log,
findings.jsonl and metrics.jsonl. Frames are encoded beforehand, so the figures are the sink's
cost per frame, not the sender's. Full-size snapshots are the four kinds of `protocol.examples`
(2 048 tokens, 8 codebooks, 28 layers x 24 heads) decoded with the embedded tiny checkpoint's
tokenizer when it is built (set STRATLOG_CACHE; token ids folded into its vocabulary), else
without one (then said so).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks_md import argument_parser, measured_on, publish
from stratlog.protocol import Array, Metrics, RecordingWriter, RunStart, encode
from stratlog.protocol.examples import FULL_SIZE, example_snapshots
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.replay import replay_recording
from stratlog.sink.token_decoding import TokenDecoder

GOALS = {"metrics": 20_000, "snapshots": 1_000, "replay_s": 10.0}
METRICS_MESSAGES = 100_000
SNAPSHOT_STEPS = 500
"""Capture steps of both ranks, four full-size snapshots each: 4 000 snapshots."""
REPLAY_MESSAGES = 100_000


def tokenizer_path() -> str | None:
    cache = Path(os.environ.get("STRATLOG_CACHE") or Path.home() / ".cache" / "stratlog")
    built = sorted(cache.glob("demo-v*/model/tokenizer.json"))  # the demo's tokenizer (not importing torch here)
    return str(built[-1].parent) if built else None


def vocabulary_size(tokenizer: str | None) -> int | None:
    return TokenDecoder.from_path(tokenizer).vocab_size if tokenizer else None


def run_start(rank: int, tokenizer: str | None) -> RunStart:
    return RunStart(run_id="bench", rank=rank, world_size=2, seq=0, step=0, time=1.7e9, model_path="m",
                    tokenizer_path=tokenizer or "", audio_tokenizer_path="a",
                    model_config={"num_codebooks": 8, "codebook_size": 1026, "audio_stream_eos_id": 1025},
                    training_args={"learning_rate": 1e-4, "warmup_steps": 100, "max_steps": 100_000},
                    hostname="bench", pid=1, capture_interval=1, capture_ranks=[])


def metrics_frames(count: int) -> list[bytes]:
    return [encode(Metrics(run_id="bench", rank=i % 2, world_size=2, seq=1 + i // 2, step=1 + i // 2, time=1.7e9 + i,
                           values={"loss": 5.0 - i * 1e-5, "grad_norm": 1.5, "learning_rate": 1e-4, "text_loss": 2.0,
                                   "audio_loss": 3.0, "tokens_per_second": 9e3, "step_time_s": 0.4, "memory_bytes": 3e10}))
            for i in range(count)]


def in_vocabulary(snapshot, vocabulary: int | None):
    """The examples' token ids span a 128k vocabulary; with the tiny tokenizer they would all be
    out of vocabulary (one piece each), so fold them into its vocabulary to decode real text."""
    if vocabulary is None:
        return snapshot
    for name in ("input_ids", "target_text_ids", "predicted_text_ids"):
        if hasattr(snapshot, name):
            setattr(snapshot, name, Array.from_numpy(getattr(snapshot, name).to_numpy() % vocabulary))
    return snapshot


def snapshot_frames(steps: int, vocabulary: int | None) -> list[bytes]:
    frames = []
    for step in range(1, steps + 1):
        for rank in (0, 1):
            for offset, snapshot in enumerate(example_snapshots(FULL_SIZE, seed=step % 7, run_id="bench", rank=rank,
                                                                world_size=2, step=step, time=1.7e9 + step)):
                snapshot.seq = 1 + 4 * (step - 1) + offset
                frames.append(encode(in_vocabulary(snapshot, vocabulary)))
    return frames


def ingest(frames: list[bytes], tokenizer: str | None, workdir: Path, name: str) -> float:
    """Messages per second through the whole pipeline, recording included."""
    pipeline = SinkPipeline(workdir / name, recorder=RecordingWriter(workdir / f"{name}.stratrec"), tokenizer_path=tokenizer)
    for rank in (0, 1):
        pipeline.handle(encode(run_start(rank, tokenizer)), 1.7e9)
    start = time.perf_counter()
    for index, frame in enumerate(frames):
        pipeline.handle(frame, 1.7e9 + index * 1e-4)
    pipeline.close()
    return len(frames) / (time.perf_counter() - start)


def replay_seconds(tokenizer: str | None, workdir: Path) -> tuple[float, int]:
    """A recording of REPLAY_MESSAGES shaped like a run's stream with capture every 100 steps:
    both ranks' metrics every step, and their four full-size snapshots after every 200 metrics."""
    path = workdir / "replay.stratrec"
    snapshots = snapshot_frames(1, vocabulary_size(tokenizer))
    stream = [encode(run_start(rank, tokenizer)) for rank in (0, 1)]
    for index, frame in enumerate(metrics_frames(REPLAY_MESSAGES)):
        stream.append(frame)
        if index % 200 == 199:
            stream.extend(snapshots)
    with RecordingWriter(path) as writer:
        for index, frame in enumerate(stream[:REPLAY_MESSAGES]):
            writer.write(frame, received_at=1.7e9 + index * 0.01)
    pipeline = SinkPipeline(workdir / "replayed", tokenizer_path=tokenizer)
    start = time.perf_counter()
    replay_recording(path, pipeline)
    pipeline.close()
    return time.perf_counter() - start, pipeline.state.messages


def main() -> None:
    args = argument_parser(__doc__).parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the goal says
    tokenizer = tokenizer_path()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        metrics_rate = ingest(metrics_frames(METRICS_MESSAGES), tokenizer, workdir, "metrics")
        snapshot_rate = ingest(snapshot_frames(SNAPSHOT_STEPS, vocabulary_size(tokenizer)), tokenizer, workdir, "snapshots")
        replay_s, replayed = replay_seconds(tokenizer, workdir)
    lines = [
        f"{measured_on('python bench/bench_sink.py')}; pinned to one core.",
        f"Tokenizer: {'the embedded tiny checkpoint' if tokenizer else 'none found (ids shown raw)'}.",
        "",
        "| Measure | Result | Goal | Ratio to goal |",
        "|---|---:|---:|---:|",
        f"| Metrics messages ingested | {metrics_rate:,.0f} /s | >= {GOALS['metrics']:,} /s | {metrics_rate / GOALS['metrics']:.2f}x |",
        f"| Full-size snapshots ingested (decode + analysis + logs) | {snapshot_rate:,.0f} /s | >= {GOALS['snapshots']:,} /s "
        f"| {snapshot_rate / GOALS['snapshots']:.2f}x |",
        f"| Headless replay of {replayed:,} messages | {replay_s:.2f} s | <= {GOALS['replay_s']:.0f} s "
        f"| {GOALS['replay_s'] / replay_s:.2f}x |",
    ]
    publish("Sink", "\n".join(lines), write=args.write)


if __name__ == "__main__":
    main()
