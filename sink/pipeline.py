"""One frame in, everything out: record, decode, analyse, update state, write logs.

The live sink and replay both feed frames through `SinkPipeline.handle`, which is why a
replayed recording produces the same findings and logs as the live run. A snapshot is handled
by its row of `sink.snapshot_kinds` (its analysis, its section of the human log); events (run
start and end, metrics, capture errors) write their own records and are judged here. Time in
the pipeline is the frames' recorded receive time: `advance_clock` (called before each frame,
and on the live sink's idle ticks) finds stalls and completes quiet log entries from it, never
from a clock of its own. A frame that fails to decode is recorded anyway (the recording is the
raw stream), counted by reason, reported as a finding, and never stops the sink; nor does an
analysis that fails on a strange snapshot.
"""

from __future__ import annotations

import time
from pathlib import Path

from stratlog.protocol import (
    ErrorEvent,
    MessageDecoder,
    Metrics,
    ProtocolError,
    RecordingWriter,
    RunEnd,
    RunStart,
    kind_of,
)
from stratlog.sink import human_log, snapshot_kinds
from stratlog.sink.analysis import stream
from stratlog.sink.analysis.metrics import MetricsHealth
from stratlog.sink.analysis.run_context import RunContext, SpecialTokenIds
from stratlog.sink.fanout import FramePublisher
from stratlog.sink.findings import WARN, Finding
from stratlog.sink.log_entries import EntryBuffer
from stratlog.sink.log_files import LogFiles
from stratlog.sink.state import RankState, RunState
from stratlog.sink.token_decoding import DecoderCache


class SinkPipeline:
    def __init__(self, log_dir: Path, *, recorder: RecordingWriter | None = None, tokenizer_path: str | None = None,
                 stall_after_s: float | None = None, rotate_bytes: int | None = None,
                 publisher: FramePublisher | None = None, joined_mid_stream: bool = False):
        """`stall_after_s` None: STALL_HEARTBEATS x each rank's heartbeat interval;
        `joined_mid_stream`: a viewer's pipeline (RunState.joined_mid_stream)."""
        self.files = LogFiles(log_dir, rotate_bytes=rotate_bytes)
        self.recorder = recorder
        self.publisher = publisher
        self.stall_after_s = stall_after_s
        self.state = RunState(joined_mid_stream=joined_mid_stream)
        self.decoders = DecoderCache(tokenizer_path)
        self.contexts: dict[str, RunContext] = {}
        """Run id -> what the analyses know of the run, and the state they share."""
        self.entries = EntryBuffer()
        self._decoder = MessageDecoder()
        self._metrics = MetricsHealth()
        self._analyses = {kind.key: kind.analysis() for kind in snapshot_kinds.SNAPSHOT_KINDS}
        """Snapshot kind -> its analysis, this pipeline's own (trends are per pipeline)."""

    def handle(self, frame: bytes, received_at: float):
        """Returns the decoded message, or None for a bad frame."""
        self.advance_clock(received_at)
        if self.publisher is not None:
            self.publisher.publish(frame)
        try:
            message = self._decoder.decode(frame)
        except ProtocolError as error:
            self._bad_frame(frame, received_at, error)
            return None
        if self.recorder is not None:
            self.recorder.write(frame, received_at=received_at, step=message.step)
        self.handle_message(message, received_at)
        return message

    def handle_message(self, message, received_at: float) -> None:
        """A decoded message in: analyse, update state, write logs. `handle` calls it after
        decoding and recording the frame; the clock is the caller's to advance (`advance_clock`)."""
        context = self._context(message)
        delivery = self.state.apply(message, received_at)
        key = (message.run_id, message.rank)
        notices = stream.delivery_findings(message, delivery)
        kind = snapshot_kinds.kind_of_snapshot(message)
        if kind is not None:
            context.remember(message)
            findings = self._guarded(kind.key, message, lambda: self._analyses[kind.key].evaluate(message, context))
            self._report(notices, as_notices=True)
            self._report(findings, as_notices=False)
            self._write_entries(self.entries.add(key, message.step, human_log.entry_header(message), kind.key,
                                                 kind.section(message, findings, context), received_at))
        else:
            self._write_entries(self.entries.rank_moved(key, message.step, ended=isinstance(message, RunEnd)))
            self._log_event(message)
            self._report(notices + self._event_findings(message, context, delivery.rank), as_notices=True)
        self.files.flush_if_due()

    def advance_clock(self, now: float) -> None:
        """Time passed up to `now` (a receive time, or the wall clock on a live idle tick)."""
        for run_id, rank, limit in self.state.find_stalls(now, self.stall_after_s):
            self._report([stream.stall_finding(run_id, rank, limit)], as_notices=True)
        self._write_entries(self.entries.due(now))

    def tick(self) -> None:
        """The live sink's idle tick: let time pass and flush the files when due."""
        self.advance_clock(time.time())
        self.files.flush_if_due()

    def _context(self, message) -> RunContext:
        if isinstance(message, RunStart):
            earlier = self.contexts.get(message.run_id)
            context = self.contexts[message.run_id] = RunContext.from_run_start(message, earlier)
        else:
            context = self.contexts.get(message.run_id)
            if context is None:
                context = self.contexts[message.run_id] = RunContext(message.run_id)
        if not context.tokenizer_checked:
            context.tokenizer_checked = True
            context.decoder = self.decoders.get(context.tokenizer_path)
            if context.decoder is not None:
                context.tokens = SpecialTokenIds.from_vocabulary(context.decoder.special_ids, context.model_config)
        return context

    def _log_event(self, message) -> None:
        """What an event itself adds to the logs (its findings are `_event_findings`')."""
        if isinstance(message, RunStart):
            self.files.write_human(human_log.run_start_entry(message))
        elif isinstance(message, Metrics):
            self.files.write_metrics({"run_id": message.run_id, "rank": message.rank, "step": message.step,
                                      "time": message.time, **message.values})
        elif isinstance(message, ErrorEvent):
            self.files.write_event({"event": "capture_error", "rank": message.rank, "step": message.step,
                                    "where": message.where, "error_type": message.error_type, "message": message.message})
        elif isinstance(message, RunEnd):
            self.files.write_human(human_log.run_end_entry(message))

    def _event_findings(self, message, context: RunContext, rank: RankState) -> list[Finding]:
        if isinstance(message, RunStart):
            return [stream.run_start_finding(message)]
        if isinstance(message, Metrics):
            return self._guarded("metrics", message, lambda: self._metrics.evaluate(message, context))
        if isinstance(message, ErrorEvent):
            return [stream.capture_error_finding(message)]
        if isinstance(message, RunEnd):
            return [stream.run_end_finding(message, rank)]
        return []

    @staticmethod
    def _guarded(analysis: str, message, evaluate) -> list[Finding]:
        """An analysis that fails on a strange snapshot becomes a finding, not a dead sink."""
        try:
            return evaluate()
        except Exception as error:  # noqa: BLE001 - by design: one bad snapshot must not stop the sink
            return [Finding(message.run_id, message.rank, message.step, analysis, "analysis_error", WARN,
                            f"the {analysis} analysis failed on this {kind_of(message)}: {type(error).__name__}: "
                            f"{error}; the snapshot is inconsistent (sender bug) or the sink has a bug")]

    def _bad_frame(self, frame: bytes, received_at: float, error: ProtocolError) -> None:
        if self.recorder is not None:
            self.recorder.write(frame, received_at=received_at)
        reason = type(error).__name__
        self.state.count_bad_frame(reason)
        self.files.write_event({"event": "bad_frame", "reason": reason, "detail": str(error)[:500], "bytes": len(frame)})
        self._report([stream.bad_frame_finding(reason, str(error)[:200], len(frame))], as_notices=True)

    def _report(self, findings: list[Finding], *, as_notices: bool) -> None:
        if not findings:
            return
        for finding in findings:
            self.files.write_finding(finding)
            if as_notices:
                self.files.write_human(human_log.notice(finding))
        self.state.record_findings(findings)

    def _write_entries(self, texts: list[str]) -> None:
        for text in texts:
            self.files.write_human(text)

    def close(self) -> None:
        self._write_entries(self.entries.drain())
        if self.recorder is not None:
            self.recorder.close()
        if self.publisher is not None:
            self.publisher.close()
        self.files.close()
