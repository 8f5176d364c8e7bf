"""Structured fuzzing at volume: 100 000 real frames mutated one field at a time (type, dtype,
shape, length, range, key, content; `stratlog.protocol.mutations`) through the decoder alone,
then 100 000 more through the whole sink pipeline (decode, analyses, human log, findings,
metrics, the dashboard model drawn every 25 frames), with tracemalloc on.

The goal (issue 16, item 7): only counted rejections; nothing raised out of the decoder, the
pipeline or the dashboard model; no analysis error on a frame the decoder accepted; memory that
levels off. Seeds: one example message of every kind and the 86 frames of
tests/fixtures/demo-20-steps.stratrec, decoded with its demo tokenizer. The short run of the
same code is tests/protocol/test_structured_fuzz.py.

Run:   python bench/bench_fuzz.py                      (prints a Markdown report)
       python bench/bench_fuzz.py --write              (also replaces "## Fuzzing" in BENCHMARKS.md)
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from benchmarks_md import argument_parser, measured_on, publish
from stratlog.pipeline_fuzz import FuzzResult, fuzz_decoder, fuzz_pipeline, seed_frames

CLASSES = ("InvalidMessage", "InvalidArray", "UnknownKind", "LimitExceeded", "UnsupportedVersion", "MalformedFrame",
           "FrameTooLarge")


def row(name: str, result: FuzzResult) -> str:
    refused = " / ".join(f"{result.rejections.get(cls, 0):,}" for cls in CLASSES)
    memory = (f"{result.memory_samples[0] / 2**20:.1f} → {result.memory_samples[-1] / 2**20:.1f} MiB, peak "
              f"{result.peak_bytes / 2**20:.1f} MiB" if result.memory_samples else "not traced")
    return (f"| {name} | {result.mutations:,} | {result.decoded:,} | {refused} | {len(result.escapes)} | "
            f"{len(result.analysis_errors)} | {memory} | {result.seconds:.0f} s |")


def growth_mib(samples: list[int]) -> float:
    """Traced memory at the end minus half-way: near 0 when memory levels off (issue 16, item 7)."""
    return (samples[-1] - samples[len(samples) // 2 - 1]) / 2**20 if len(samples) >= 2 else float("nan")


def report(decoder: FuzzResult, pipeline: FuzzResult, seed: int) -> str:
    lines = [
        f"{measured_on('python bench/bench_fuzz.py', 'msgspec', 'numpy')}; seed {seed}.",
        "Each mutation changes one value of a real frame (one example message of every kind and the 86 frames of",
        "`tests/fixtures/demo-20-steps.stratrec`): its type, an array's dtype or shape, a length, an integer or",
        "float at an edge, a key (removed, renamed, written twice, not a string) or an array's bytes. *Pipeline*:",
        "`SinkPipeline.handle` with the demo tokenizer and a `DashboardModel` drawn every 25 frames, after the",
        "unmutated frames; memory is what tracemalloc traces while the mutations run (after the first tenth →",
        "at the end). Refused: " + " / ".join(CLASSES) + ".",
        "",
        "| run | mutations | decoded | refused | raised | analysis errors | memory | time |",
        "|---|---:|---:|---|---:|---:|---|---:|",
        row("decoder", decoder),
        row("pipeline", pipeline),
        "",
        f"- Refusals counted by the pipeline (`RunState.bad_frames`): {pipeline.counted_bad_frames:,} of "
        f"{pipeline.mutations - pipeline.decoded:,} refused frames. No mutant is `MalformedFrame`: each is"
        " packed again as msgpack (bytes that are not: tests/protocol/test_fuzz.py).",
        "- Traced memory after each tenth of the pipeline run (MiB): "
        + ", ".join(f"{sample / 2**20:.1f}" for sample in pipeline.memory_samples)
        + f"; growth over the last half: {growth_mib(pipeline.memory_samples):+.1f} MiB.",
    ]
    found = Counter(escape.signature() for escape in pipeline.escapes + pipeline.analysis_errors + decoder.escapes)
    if not found:
        lines.append("- Nothing raised, and no analysis error on an accepted frame.")
    for (where, error, origin), count in found.most_common():
        lines.append(f"- {count:,} × {error} in {where}, at `{origin}`")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--mutations", type=int, default=100_000, help="mutations per run (default 100000)")
    parser.add_argument("--seed", type=int, default=16, help="random seed of the mutations (default 16)")
    args = parser.parse_args()
    frames = seed_frames()
    decoder = fuzz_decoder(frames, args.mutations, args.seed, trace_memory=True)
    with tempfile.TemporaryDirectory() as log_dir:
        pipeline = fuzz_pipeline(frames, args.mutations, args.seed, Path(log_dir))
    publish("Fuzzing", report(decoder, pipeline, args.seed), write=args.write)


if __name__ == "__main__":
    main()
