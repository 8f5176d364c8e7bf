"""Benchmark of the wire protocol: a full-size snapshot against pickle and JSON, and recordings.

Measures, in one run and on one machine, encode and decode time and bytes on the wire of the
four snapshots of one capture step at full size (2 048 tokens, 8 codebooks, 28 layers x 24
heads), against the same content pickled (arrays as NumPy arrays, what a naive sender would
pickle) and as JSON (arrays as nested lists); then metrics-decode throughput and the recording
writer/reader on 100 000 records. Goals (SPEC §8, issue 3): a snapshot <= 256 KiB on the wire,
faster than pickle both ways.

Run:   python bench/bench_protocol.py            (prints a Markdown report)
       python bench/bench_protocol.py --write    (also replaces "## Protocol" in BENCHMARKS.md)
"""

from __future__ import annotations

import json
import pickle
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from benchmarks_md import argument_parser, measured_on, publish
from stratlog.protocol import Array, RecordingReader, RecordingWriter, decode, encode, kind_of
from stratlog.protocol.examples import FULL_SIZE, example_messages, example_snapshots

REPEATS = 7


def per_call_us(function: Callable[[], object], calls: int) -> float:
    """Best over REPEATS runs of the mean time of one call, in microseconds (min: least disturbed
    by other load on the machine, as timeit advises)."""
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return min(runs)


def as_python(value: object, arrays: Callable[[Array], object]) -> object:
    """The message's content as plain Python, arrays converted by ``arrays``."""
    if isinstance(value, Array):
        return arrays(value)
    if isinstance(value, msgspec.Struct):
        content = {name: as_python(getattr(value, name), arrays) for name in value.__struct_fields__}
        return {"kind": kind_of(value), **content} if "run_id" in content else content
    if isinstance(value, list):
        return [as_python(item, arrays) for item in value]
    return value


def to_numpy_all(message: msgspec.Struct) -> None:
    for name in message.__struct_fields__:
        if isinstance(value := getattr(message, name), Array):
            value.to_numpy()


def bench_snapshots(calls: int) -> list[dict]:
    rows = []
    for message in example_snapshots(FULL_SIZE):
        frame = encode(message)
        native = as_python(message, lambda a: a.to_numpy().copy())
        listed = as_python(message, lambda a: a.to_numpy().tolist())
        pickled = pickle.dumps(native, protocol=pickle.HIGHEST_PROTOCOL)
        text = json.dumps(listed).encode()
        rows.append(
            {
                "kind": kind_of(message),
                "bytes": len(frame),
                "pickle_bytes": len(pickled),
                "json_bytes": len(text),
                "encode_us": per_call_us(lambda m=message: encode(m), calls),
                "decode_us": per_call_us(lambda f=frame: decode(f), calls),
                "decode_numpy_us": per_call_us(lambda f=frame: to_numpy_all(decode(f)), calls),
                "pickle_encode_us": per_call_us(
                    lambda n=native: pickle.dumps(n, protocol=pickle.HIGHEST_PROTOCOL), calls
                ),
                "pickle_decode_us": per_call_us(lambda p=pickled: pickle.loads(p), calls),
                "json_encode_us": per_call_us(lambda v=listed: json.dumps(v).encode(), max(1, calls // 10)),
                "json_decode_us": per_call_us(lambda t=text: json.loads(t), max(1, calls // 10)),
            }
        )
    total = {"kind": "**all four**"}
    for key in rows[0]:
        if key != "kind":
            total[key] = sum(row[key] for row in rows)
    return [*rows, total]


def bench_metrics(calls: int) -> float:
    """Metrics messages decoded per second (the sink's most frequent kind)."""
    frame = encode(next(m for m in example_messages() if kind_of(m) == "metrics"))
    return 1e6 / per_call_us(lambda: decode(frame), calls)


def bench_recording(records: int) -> dict:
    frame = encode(next(m for m in example_messages() if kind_of(m) == "metrics"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.stratrec"
        start = time.perf_counter()
        with RecordingWriter(path) as writer:
            for index in range(records):
                writer.write(frame, received_at=float(index), step=index // 4)
        write_s = time.perf_counter() - start
        start = time.perf_counter()
        count = sum(1 for _ in RecordingReader(path))
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        tail = sum(1 for _ in RecordingReader(path).seek_step(records // 4 - 10))
        seek_s = time.perf_counter() - start
        size = path.stat().st_size
    assert count == records and tail == 40
    return {"records": records, "bytes": size, "write_s": write_s, "read_s": read_s, "seek_s": seek_s}


def report(snapshots: list[dict], metrics_per_s: float, recording: dict) -> str:
    total = snapshots[-1]
    lines = [
        f"{measured_on('python bench/bench_protocol.py', 'msgspec', 'numpy')}.",
        "Best of 7 runs. Content: the four snapshots of one capture step at full size (2 048",
        "tokens, 8 codebooks, 28 layers x 24 heads), from `protocol.examples`. Baselines in the same",
        "run: pickle (highest protocol) of the same content with arrays as NumPy arrays, and JSON with",
        "arrays as lists. Our decode includes all validation; *+ to_numpy* also views every array.",
        "",
        "| Snapshot | bytes | pickle bytes | JSON bytes | encode µs | pickle enc µs | JSON enc µs |"
        " decode µs | + to_numpy µs | pickle dec µs | JSON dec µs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in snapshots:
        lines.append(
            f"| {row['kind']} | {row['bytes']:,} | {row['pickle_bytes']:,} | {row['json_bytes']:,} | "
            f"{row['encode_us']:.1f} | {row['pickle_encode_us']:.1f} | {row['json_encode_us']:.0f} | "
            f"{row['decode_us']:.1f} | {row['decode_numpy_us']:.1f} | {row['pickle_decode_us']:.1f} | "
            f"{row['json_decode_us']:.0f} |"
        )
    lines += [
        "",
        f"- On the wire: {total['bytes'] / 1024:.1f} KiB for all four (goal <= 256 KiB); "
        f"{total['bytes'] / total['pickle_bytes']:.2f}x pickle's bytes, "
        f"{total['bytes'] / total['json_bytes']:.2f}x JSON's.",
        f"- Encode: {total['pickle_encode_us'] / total['encode_us']:.1f}x faster than pickle, "
        f"{total['json_encode_us'] / total['encode_us']:.0f}x faster than JSON.",
        f"- Decode (validated): {total['pickle_decode_us'] / total['decode_us']:.1f}x faster than "
        f"pickle ({total['pickle_decode_us'] / total['decode_numpy_us']:.1f}x with every array viewed "
        f"as NumPy), {total['json_decode_us'] / total['decode_us']:.0f}x faster than JSON.",
        f"- Metrics messages decoded and validated: {metrics_per_s:,.0f} per second on one core.",
        f"- Recording, {recording['records']:,} metrics records ({recording['bytes'] / 2**20:.1f} MiB): "
        f"write {recording['write_s']:.2f} s, read all {recording['read_s']:.2f} s, "
        f"seek_step to the last 10 steps {recording['seek_s']:.2f} s.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per timing run (default 2000)")
    parser.add_argument("--records", type=int, default=100_000, help="recording size (default 100000)")
    args = parser.parse_args()
    body = report(bench_snapshots(args.calls), bench_metrics(args.calls * 10), bench_recording(args.records))
    publish("Protocol", body, write=args.write)


if __name__ == "__main__":
    main()
