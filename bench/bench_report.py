"""What --report-to tensorboard costs the sink: ingest with and without the TensorBoard export.

Run: python bench/bench_report.py [--write]   (pins itself to one CPU; about a minute; prints the
"## Sink export to TensorBoard" section of BENCHMARKS.md)

The frames are bench_sink.py's (metrics of two ranks; the four full-size snapshot kinds), fed
through `SinkPipeline.handle` as the live sink does, recording included, in interleaved rounds
(plain, exported, plain, ...) so both see the same machine. "Sink thread" is the rate at which
handle() returns: what the ranks' stream sees. "Until written" also waits, at close, for the
export thread to have written every record: the TensorBoard writer shares the one core (and the
GIL) with the sink, so its work shows in both figures. The median of the rounds is shown.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_sink import metrics_frames, run_start, snapshot_frames, tokenizer_path, vocabulary_size
from benchmarks_md import argument_parser, measured_on, publish
from stratlog.protocol import RecordingWriter, encode
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.report.reporter import Reporter

ROUNDS = 3
METRICS_MESSAGES = 20_000
SNAPSHOT_STEPS = 50
"""Capture steps of both ranks, four full-size snapshots each: 400 snapshots."""


def ingest(frames: list[bytes], tokenizer: str | None, workdir: Path, export: bool) -> tuple[float, float]:
    """(messages per second on the sink's thread, messages per second until every export is written)."""
    workdir.mkdir(parents=True)
    reporter = Reporter.for_targets(["tensorboard"], workdir) if export else None
    pipeline = SinkPipeline(workdir, recorder=RecordingWriter(workdir / "stream.stratrec"), tokenizer_path=tokenizer,
                            reporter=reporter)
    for rank in (0, 1):
        pipeline.handle(encode(run_start(rank, tokenizer)), 1.7e9)
    start = time.perf_counter()
    for index, frame in enumerate(frames):
        pipeline.handle(frame, 1.7e9 + index * 1e-4)
    handled = time.perf_counter() - start
    pipeline.close()  # waits for the export thread to drain its queue
    written = time.perf_counter() - start
    if reporter is not None:
        assert reporter.handoffs[0].load().dropped == 0, "the export dropped records: the figures would flatter it"
    return len(frames) / handled, len(frames) / written


def main() -> None:
    args = argument_parser(__doc__).parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    tokenizer = tokenizer_path()
    load_average = os.getloadavg()[0]
    loads = {"metrics": metrics_frames(METRICS_MESSAGES),
             "snapshots": snapshot_frames(SNAPSHOT_STEPS, vocabulary_size(tokenizer))}
    results: dict[tuple[str, bool], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_index in range(ROUNDS):
            for name, frames in loads.items():
                for export in (False, True):
                    workdir = Path(tmp) / f"{name}-{export}-{round_index}"
                    results.setdefault((name, export), []).append(ingest(frames, tokenizer, workdir, export))
    lines = [
        f"{measured_on('python bench/bench_report.py', 'tensorboard')}; pinned to one core; median of {ROUNDS} "
        "interleaved rounds.",
        f"Tokenizer: {'the embedded tiny checkpoint' if tokenizer else 'none found (ids shown raw)'}. "
        f"{METRICS_MESSAGES:,} metrics messages (8 values each); {SNAPSHOT_STEPS * 8:,} full-size snapshots. "
        f"Load average at the start: {load_average:.1f} (on a shared machine the ratios, from interleaved rounds, "
        "say more than the rates).",
        "",
        "| Frames | Measure | Without export | --report-to tensorboard | Ratio (with / without) |",
        "|---|---|---:|---:|---:|",
    ]
    for name in loads:
        for column, measure in ((0, "sink thread"), (1, "until written")):
            plain = statistics.median(result[column] for result in results[(name, False)])
            exported = statistics.median(result[column] for result in results[(name, True)])
            lines.append(f"| {name} | {measure} | {plain:,.0f} /s | {exported:,.0f} /s | {exported / plain:.2f}x |")
    publish("Sink export to TensorBoard", "\n".join(lines), write=args.write)


if __name__ == "__main__":
    main()
