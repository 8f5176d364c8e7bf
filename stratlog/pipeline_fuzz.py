"""Structured fuzzing of the whole sink: real frames mutated one field at a time
(`stratlog.protocol.mutations`) through decode, analysis, logs and the dashboard model.

The promise under test (issue 16): whatever one frame holds, the sink refuses it with a counted
protocol error or handles it, and nothing else happens: no exception out of
`SinkPipeline.handle` or `DashboardModel.view`, no analysis error on a frame the decoder
accepted (the pipeline catches those per frame, which keeps the sink alive but means that the
protocol let through a frame the sink cannot handle, or the sink has a bug), and memory that
stops growing. Shared by tests/protocol/test_structured_fuzz.py (a short run) and
bench/bench_fuzz.py (100 000 mutations): it lives in the package because that is the one place
both may import (benchmarks import no test code, tests no benchmark code).
"""

from __future__ import annotations

import time
import traceback
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from stratlog.protocol import MessageDecoder, ProtocolError, RecordingReader, encode
from stratlog.protocol.examples import example_messages
from stratlog.protocol.mutations import FrameMutator, Mutation
from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.pipeline import SinkPipeline

REPOSITORY = Path(__file__).resolve().parents[1]
DEMO_RECORDING = REPOSITORY / "tests" / "fixtures" / "demo-20-steps.stratrec"
DEMO_TOKENIZER = REPOSITORY / "tests" / "fixtures" / "demo-tokenizer.json"
FRAME_INTERVAL_S = 0.01
"""Receive-time step between fed frames: 100 frames/s of the pipeline's own clock."""


def seed_frames(recording: Path | None = DEMO_RECORDING) -> list[bytes]:
    """Real frames to mutate: one example message of every kind, and every frame of a recording
    of a real (demo) training run."""
    frames = [encode(message) for message in example_messages()]
    if recording is not None:
        frames += [record.frame for record in RecordingReader(recording)]
    return frames


@dataclass
class Escape:
    """Something that went wrong on one mutated frame other than a counted rejection."""

    mutation: Mutation
    where: str
    """``decode``, ``handle``, ``dashboard view``, or where the pipeline caught an analysis error."""
    error: str
    traceback: str
    origin: str
    """The innermost line of the traceback, ``sink/human_log.py:40 timestamp``: with ``where`` and
    the exception class, one name per bug."""

    def describe(self) -> str:
        return f"{self.where}: {self.error} at {self.origin} on {self.mutation.describe()}"

    def signature(self) -> tuple[str, str, str]:
        return self.where, self.error.split(":")[0], self.origin


def _origin(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    innermost = Path(frames[-1].filename).resolve()
    shown = innermost.relative_to(REPOSITORY) if innermost.is_relative_to(REPOSITORY) else innermost.name
    return f"{shown}:{frames[-1].lineno} {frames[-1].name}"


def _escape(mutation: Mutation, where: str, error: BaseException) -> Escape:
    return Escape(mutation, where, f"{type(error).__name__}: {error}"[:300], "".join(traceback.format_exception(error)),
                  _origin(error))


@dataclass
class FuzzResult:
    mutations: int = 0
    decoded: int = 0
    rejections: Counter = field(default_factory=Counter)
    """Protocol error class -> mutated frames refused with it."""
    counted_bad_frames: int = 0
    """Refusals the pipeline counted (RunState.bad_frames): equal to sum(rejections)."""
    escapes: list[Escape] = field(default_factory=list)
    """Exceptions out of decode, handle or view: the sink would have died."""
    analysis_errors: list[Escape] = field(default_factory=list)
    """Errors the pipeline caught while handling a frame the decoder accepted."""
    memory_samples: list[int] = field(default_factory=list)
    """Bytes traced by tracemalloc after each tenth of the run (empty without tracing)."""
    peak_bytes: int = 0
    seconds: float = 0.0


class _ObservedPipeline(SinkPipeline):
    """A pipeline that also keeps the traceback of every error it catches (the real one keeps
    only the innermost line), so a report can say where the sink failed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.caught: list[tuple[str, BaseException]] = []

    def _analysis_error(self, message, where: str, error: Exception) -> None:
        self.caught.append((where, error))
        super()._analysis_error(message, where, error)


@contextmanager
def _measured(result: FuzzResult, count: int, trace_memory: bool) -> Iterator[Callable[[int], None]]:
    """Times a run of ``count`` mutations into ``result`` and, with ``trace_memory``, samples the
    traced bytes after each tenth of it (the caller calls the yielded function with each index)."""
    every = max(1, count // 10)

    def sample(index: int) -> None:
        if trace_memory and (index + 1) % every == 0:
            result.memory_samples.append(tracemalloc.get_traced_memory()[0])

    if trace_memory:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        yield sample
        result.seconds = time.perf_counter() - start
        if trace_memory:
            result.peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        if trace_memory:
            tracemalloc.stop()


def fuzz_decoder(frames: list[bytes], count: int, seed: int, *, trace_memory: bool = False) -> FuzzResult:
    """Mutations through the decoder alone: refused with a ProtocolError, or decoded to a message
    that encodes again."""
    result, decoder = FuzzResult(), MessageDecoder()
    with _measured(result, count, trace_memory) as sample:
        for index, mutation in enumerate(FrameMutator(frames, seed).mutations(count)):
            result.mutations += 1
            try:
                encode(decoder.decode(mutation.frame))
                result.decoded += 1
            except ProtocolError as error:
                result.rejections[type(error).__name__] += 1
            except Exception as error:  # noqa: BLE001 - exactly what the fuzzer hunts
                result.escapes.append(_escape(mutation, "decode", error))
            sample(index)
    return result


def fuzz_pipeline(frames: list[bytes], count: int, seed: int, log_dir: Path, *, tokenizer: Path | None = DEMO_TOKENIZER,
                  view_every: int = 25, trace_memory: bool = True) -> FuzzResult:
    """Mutations through a whole `SinkPipeline` (logs under ``log_dir``) with a dashboard model
    attached and drawn every ``view_every`` frames. The unmutated frames go first, so that runs,
    ranks and their contexts exist for the mutations to hit."""
    pipeline = _ObservedPipeline(log_dir, tokenizer_path=str(tokenizer) if tokenizer else None)
    model = DashboardModel.attach(pipeline)
    result, now = FuzzResult(), 1_700_000_000.0
    for frame in frames:
        now += FRAME_INTERVAL_S
        pipeline.handle(frame, now)
    pipeline.caught.clear()
    bad_before = sum(pipeline.state.bad_frames.values())
    try:
        with _measured(result, count, trace_memory) as sample:
            for index, mutation in enumerate(FrameMutator(frames, seed).mutations(count)):
                now += FRAME_INTERVAL_S
                result.mutations += 1
                try:
                    message = pipeline.handle(mutation.frame, now)
                except Exception as error:  # noqa: BLE001 - exactly what the fuzzer hunts
                    result.escapes.append(_escape(mutation, "handle", error))
                    continue
                result.decoded += message is not None
                result.analysis_errors += [_escape(mutation, where, error) for where, error in pipeline.caught]
                pipeline.caught.clear()
                if index % view_every == 0:
                    try:
                        model.view(now=now)
                    except Exception as error:  # noqa: BLE001
                        result.escapes.append(_escape(mutation, "dashboard view", error))
                sample(index)
    finally:
        pipeline.close()
    result.rejections = Counter(pipeline.state.bad_frames)
    result.counted_bad_frames = sum(pipeline.state.bad_frames.values()) - bad_before
    return result
