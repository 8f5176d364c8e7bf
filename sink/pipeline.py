"""One frame in, everything out: record, decode, analyse, update state, write logs.

The live sink and replay both feed frames through `SinkPipeline.handle`, which is why a
replayed recording produces the same findings and logs as the live run. A snapshot is handled
by its row of `sink.snapshot_kinds` (its analysis, its section of the human log); events (run
start and end, metrics, capture errors) write their own records and are judged here. Time in
the pipeline is the frames' recorded receive time: `advance_clock` (called before each frame,
and on the live sink's idle ticks) finds stalls and completes quiet log entries from it, never
from a clock of its own; a stall also needs the silence in the senders' time (`RunState.find_stalls`). A frame that fails to decode is counted by reason and never stops the
sink; the first few of each reason per minute are also recorded (the recording is the raw
stream) and reported as a finding, the rest only counted (`sink.refusals`), so junk cannot fill
the disk. Nor does a frame that decodes but then fails anywhere in analysis, logging or the dashboard's readings:
each failure is caught for that frame alone, counted as an analysis error with its reason
(events.jsonl, the dashboard's header, a finding) and the next frame is handled as usual.
"""

from __future__ import annotations

import errno
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from stratlog.protocol import (
    Damage,
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
from stratlog.sink.audio_clips import AudioClips, with_audio_line
from stratlog.sink.analysis import stream, tokenizer_match
from stratlog.sink.analysis.metrics import MetricsHealth
from stratlog.sink.analysis.run_context import RunContext, SpecialTokenIds
from stratlog.sink.fanout import FramePublisher
from stratlog.sink.findings import OK, WARN, Finding
from stratlog.sink.log_entries import EntryBuffer
from stratlog.sink.log_files import LogFiles
from stratlog.sink.refusals import RECORDED_REFUSAL_BYTES, RefusalSampler
from stratlog.sink.report.reporter import Reporter
from stratlog.sink.resume import PreviousStream
from stratlog.sink.run_summary import RunSummary
from stratlog.sink.state import RUNS_KEPT, RankState, RunState
from stratlog.sink.token_decoding import DecoderCache


class SinkPipeline:
    def __init__(self, log_dir: Path, *, recorder: RecordingWriter | None = None, tokenizer_path: str | None = None,
                 stall_after_s: float | None = None, rotate_bytes: int | None = None,
                 publisher: FramePublisher | None = None, joined_mid_stream: bool = False,
                 on_alarm: Callable[[Finding], None] | None = None, reporter: Reporter | None = None,
                 audio_clips: AudioClips | None = None):
        """`stall_after_s` None: STALL_HEARTBEATS x each rank's heartbeat interval;
        `joined_mid_stream`: a viewer's pipeline (RunState.joined_mid_stream); `on_alarm` is
        called with each finding that moves a check to WARN or FAIL (a headless sink prints it);
        `reporter`: --report-to's exports (`sink.report`), handed each message and finding;
        `audio_clips`: --audio-tokenizer's WAV files of each output snapshot (`sink.audio_clips`)."""
        self.files = LogFiles(log_dir, rotate_bytes=rotate_bytes, on_write_error=self._write_error)
        self.recorder = recorder
        self.publisher = publisher
        self.reporter = reporter
        self.audio_clips = audio_clips
        self.state = RunState(joined_mid_stream=joined_mid_stream, stall_after_s=stall_after_s)
        self.decoders = DecoderCache(tokenizer_path)
        self.contexts: dict[str, RunContext] = {}
        """Run id -> what the analyses know of the run, and the state they share."""
        self.entries = EntryBuffer()
        self.summary = RunSummary()
        self._on_alarm = on_alarm
        self._decoder = MessageDecoder()
        self.metrics_health = MetricsHealth()
        """The metrics analysis; a dashboard shows its `latest` verdicts (sink.dashboard_model)."""
        self._analyses = {kind.key: kind.analysis() for kind in snapshot_kinds.SNAPSHOT_KINDS}
        """Snapshot kind -> its analysis, this pipeline's own (trends are per pipeline)."""
        self._tokenizers_judged: set[str] = set()
        """Runs whose tokenizer verdict (`tokenizer_match`) was made: it is said once per run."""
        self._tokenizer_verdicts: dict[str, Finding] = {}
        """Run id -> its tokenizer verdict, until the run start it came with reports it."""
        self._aborted: set[str] = set()
        """Runs reported aborted (ranks stopped without a run end)."""
        self._announced: dict[str, set[int]] = {}
        """Run -> ranks whose run start is in the human log: a re-sent one (seq > 0) is not written again."""
        if recorder is not None and recorder.start_error is not None:  # a full disk at start-up
            self._write_error("recording", recorder.start_error)
        self._refusals = RefusalSampler()
        self._forgettings = RefusalSampler()
        """Which forgotten runs events.jsonl names (`_forget`)."""

    def handle(self, frame: bytes, received_at: float):
        """Returns the decoded message, or None for a bad frame."""
        try:
            message = self._decoder.decode(frame)
        except ProtocolError as error:
            self.advance_clock(received_at, self.state.sender_now)  # a bad frame tells no sender time
            self._bad_frame(frame, received_at, error)
            return None
        self.advance_clock(received_at, self.state.sender_time(message, received_at))
        if self.publisher is not None:  # viewers get what decodes, never a flood of junk
            self.publisher.publish(frame)
        if self.recorder is not None:
            self._record(frame, received_at, message.step)
        try:
            self.handle_message(message, received_at)
        except Exception as error:  # noqa: BLE001 - by design: one frame that breaks the sink must not stop it
            self._analysis_error(message, "handling", error)
        return message

    def refuse(self, error: ProtocolError, size: int, received_at: float) -> None:
        """A message refused before decoding (a multipart message): counted and reported like a
        frame that failed to decode, but not recorded (a recording holds frames, and this is not one)."""
        self.advance_clock(received_at, self.state.sender_now)
        self._refused(error, size, received_at)

    def refuse_connections(self, reasons: list[str], now: float) -> None:
        """Connections the CURVE check refused (`protocol.curve`): each counted, the first few
        per reason per minute written as an event and a finding; nothing they sent is read."""
        for reason in reasons:
            self.state.count_refused_connection(reason)
            unwritten_before = self._refusals.admit(f"connection: {reason}", now)
            if unwritten_before is None:
                continue
            self.files.write_event({"event": "connection_refused", "reason": reason, "time": round(now, 3),
                                    "unwritten_before": unwritten_before})
            self._report([Finding(None, None, None, stream.ANALYSIS, "connection_refused", WARN,
                                  f"the sink refused a connection ({reason}): a client without an authorised CURVE key "
                                  "tried to send; nothing it sent was read. Add its public key to --curve-clients if "
                                  "it is one of yours")], as_notices=True)

    def handle_message(self, message, received_at: float) -> None:
        """A decoded message in: analyse, update state, write logs. `handle` calls it after
        decoding and recording the frame; the clock is the caller's to advance (`advance_clock`)."""
        context = self._context(message)
        delivery = self.state.apply(message, received_at)
        if delivery.forgotten_run is not None:
            self._forget(delivery.forgotten_run, received_at)
        if delivery.viewer_error is not None:
            self._analysis_error(message, "dashboard readings", delivery.viewer_error)
        notices = stream.delivery_findings(message, delivery)
        if type(message) is Metrics:  # most of the stream: the event path below, in fewer steps
            self._metrics(message, context, notices)
        elif (kind := snapshot_kinds.kind_of_snapshot(message)) is not None:
            context.remember(message)
            findings = self._guarded(f"{kind.key} analysis", message,
                                     lambda: self._analyses[kind.key].evaluate(message, context), [])
            self._report(notices, as_notices=True)
            self._report(findings, as_notices=False)
            section = self._guarded(f"{kind.key} log section", message, lambda: kind.section(message, findings, context),
                                    f"{kind.key}: not written, the sink failed on this snapshot (events.jsonl says why)")
            if self.audio_clips is not None:
                paths = self._guarded("audio clips", message, lambda: self.audio_clips.offer(message), [])
                section = with_audio_line(section, paths) if paths else section
                self._take_audio(self.audio_clips.take_scores())
            self._write_entries(self.entries.add(message, kind.key, section, received_at))
        else:
            if done := self.entries.rank_moved((message.run_id, message.rank), message.step,
                                               ended=isinstance(message, RunEnd)):
                self._write_entries(done)
            self._log_event(message)
            self._report(notices + self._event_findings(message, delivery.rank), as_notices=True)
        if self.reporter is not None:
            ended = isinstance(message, RunEnd) and self.state.settled(message.run_id)
            self._guarded("report", message, lambda: self.reporter.offer_message(message, context, run_ended=ended), None)
            self._report_exports()
        self.files.flush_if_due()

    def _forget(self, run_id: str, now: float) -> None:
        """`run_id` was pushed out of memory by a newer run (`sink.state.RUNS_KEPT`): everything kept
        of it goes, its logs stay. Said in events.jsonl, the first few per minute (`RefusalSampler`;
        the rest counted in one last event), as a client inventing run ids could otherwise fill the
        disk with these lines."""
        for kept in (self.contexts, self._tokenizer_verdicts, self._announced):
            kept.pop(run_id, None)
        self._tokenizers_judged.discard(run_id)
        self._aborted.discard(run_id)
        self.metrics_health.forget(run_id)
        self.summary.forget(run_id)
        for analysis in self._analyses.values():
            analysis.forget(run_id)
        unwritten_before = self._forgettings.admit("run forgotten", now)
        if unwritten_before is not None:
            self.files.write_event({"event": "run_forgotten", "run_id": run_id, "time": round(now, 3),
                                    "runs_kept": RUNS_KEPT, "unwritten_before": unwritten_before})

    def _metrics(self, message: Metrics, context: RunContext, notices: list[Finding]) -> None:
        """A metrics message, as any event: the rank moved on, its line of metrics.jsonl, then its
        notices and findings (a failing analysis is an analysis error of this frame alone)."""
        if done := self.entries.rank_moved((message.run_id, message.rank), message.step):
            self._write_entries(done)
        self.files.write_metrics({"run_id": message.run_id, "rank": message.rank, "step": message.step,
                                  "time": message.time, **message.values})
        findings = self._guarded("metrics analysis", message, lambda: self.metrics_health.evaluate(message, context), [])
        if notices or findings:
            self._report(notices + findings, as_notices=True)

    def advance_clock(self, now: float, sender_now: float | None = None) -> None:
        """Time passed up to `now` (a receive time, or the wall clock on a live idle tick) and, in
        the senders' time, up to `sender_now` (None: `now`, the sink has caught up); a stall needs
        both (`RunState.find_stalls`). A run whose every rank has now ended or stalled, one at least
        without its run end, is reported aborted, once."""
        stalls = self.state.find_stalls(now, sender_now)
        if stalls:  # rare: nearly every call finds nothing, and nothing due
            self._report_stalls(stalls)
        if due := self.entries.due(now):
            self._write_entries(due)

    def _report_stalls(self, stalls: list) -> None:
        for run_id, rank, limit in stalls:
            self._report([stream.stall_finding(run_id, rank, limit)], as_notices=True)
        for run_id in dict.fromkeys(run_id for run_id, _, _ in stalls):
            if run_id not in self._aborted and self.state.settled(run_id):
                self._aborted.add(run_id)
                finding = stream.run_aborted_finding(run_id, self.state.runs[run_id])
                self.files.write_human(human_log.run_aborted_entry(run_id, finding.reason))
                self._report([finding], as_notices=False)

    def tick(self) -> None:
        """The live sink's idle tick: let time pass, write what a dashboard failed to draw, and
        flush the files when due."""
        self.advance_clock(time.time())
        if self.audio_clips is not None:
            self._take_audio(self.audio_clips.take_scores())
        self._write_error_events()
        if self.reporter is not None:
            self._report_exports()
        self.files.flush_if_due()

    def resume(self, previous: PreviousStream, now: float) -> None:
        """Goes on where the previous recording of this log folder ends (`sink.resume`): each open
        rank's sequence and step, its run's context, an entry in the human log and an event."""
        for (run_id, rank), next_seq in previous.open_ranks.items():
            self.state.resume_rank(run_id, rank, previous.world_sizes[run_id], next_seq, previous.steps[(run_id, rank)], now)
        for run_id in dict.fromkeys(run_id for run_id, _ in previous.open_ranks):
            ranks = {rank: seq for (run, rank), seq in previous.open_ranks.items() if run == run_id}
            starts = [start for (run, _), start in sorted(previous.run_starts.items()) if run == run_id]
            if starts:
                self._context(starts[-1])
                self._announced.setdefault(run_id, set()).update(ranks)
            self.files.write_human(human_log.resumed_entry(run_id, ranks, previous.path.name))
            self.files.write_event({"event": "resumed", "run_id": run_id, "from": str(previous.path),
                                    "next_seq": {str(rank): seq for rank, seq in ranks.items()},
                                    "run_context": bool(starts)})

    def recording_damaged(self, damage: Damage) -> None:
        """A replay met a damaged byte range of its recording: an event, and a finding the
        dashboard, the log and the summary show (`stream.recording_damage_finding`)."""
        self.files.write_event({"event": "recording_damage", "path": damage.path, "offset": damage.offset,
                                "bytes": damage.length, "reason": damage.reason, "torn_tail": damage.torn_tail})
        self._report([stream.recording_damage_finding(damage)], as_notices=True)

    def report_load(self, record: dict, findings: list[Finding]) -> None:
        """The live sink's load (`sink.service`): a line of events.jsonl and its findings, if any."""
        self.files.write_event(record)
        self._report(findings, as_notices=True)

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
            self._load_tokenizer(context)
        return context

    def _load_tokenizer(self, context: RunContext) -> None:
        """The run's decoder and special-token ids: the run start's identity says which tokenizer
        the run used; a loaded one that differs decodes nothing (ids shown raw), and the special
        ids then come from the run start, so the data is judged with the run's own tokens."""
        decoder = self.decoders.get(context.tokenizer_path)
        run = context.tokenizer_identity
        verdict = (tokenizer_match.tokenizer_finding(context.run_id, decoder.source, decoder.identity, run)
                   if decoder is not None else None)
        if verdict is not None and context.run_id not in self._tokenizers_judged:
            self._tokenizers_judged.add(context.run_id)
            self._tokenizer_verdicts[context.run_id] = verdict
        if verdict is not None and verdict.severity != OK:
            decoder = None
            context.no_decoder_reason = f"the sink's tokenizer is not run {context.run_id}'s"
        context.decoder = decoder
        special = run.special_tokens if run.digest else (decoder.special_ids if decoder is not None else None)
        if special:
            context.tokens = SpecialTokenIds.from_vocabulary(special, context.model_config)

    def _log_event(self, message) -> None:
        """What an event other than metrics (`_metrics`) adds to the logs (its findings are `_event_findings`')."""
        if isinstance(message, RunStart):
            announced = self._announced.setdefault(message.run_id, set())
            if message.seq == 0 or message.rank not in announced:
                self.files.write_human(human_log.run_start_entry(message))
            announced.add(message.rank)
        elif isinstance(message, ErrorEvent):
            self.files.write_event({"event": "capture_error", "rank": message.rank, "step": message.step,
                                    "where": message.where, "error_type": message.error_type, "message": message.message})
        elif isinstance(message, RunEnd):
            self.files.write_human(human_log.run_end_entry(message))

    def _event_findings(self, message, rank: RankState) -> list[Finding]:
        if isinstance(message, RunStart):
            tokenizer = self._tokenizer_verdicts.pop(message.run_id, None)
            return [stream.run_start_finding(message)] + ([tokenizer] if tokenizer is not None else [])
        if isinstance(message, ErrorEvent):
            return [stream.capture_error_finding(message)]
        if isinstance(message, RunEnd):
            return [stream.run_end_finding(message, rank)]
        return []

    def _guarded(self, where: str, message, work, failed):
        """`work()`, or `failed` when it raises: an analysis or a log section that fails on a
        strange snapshot is an analysis error, not a dead sink, and the rest of the frame's work
        (its findings, its log entry) goes on."""
        try:
            return work()
        except Exception as error:  # noqa: BLE001 - by design: one bad snapshot must not stop the sink
            self._analysis_error(message, where, error)
            return failed

    def _take_audio(self, rows: list[dict]) -> None:
        """What the audio decoder finished since the last look: its SIM `rows` and the captures
        whose WAV files it wrote (those only --report-to exports: audio summaries)."""
        self._sim_scored(rows)
        decoded = self.audio_clips.take_decoded()
        if self.reporter is not None:
            self.reporter.offer_clips(self.audio_clips.folder, decoded)

    def _sim_scored(self, rows: list[dict]) -> None:
        """SIM rows the audio decoder scored (`sink.audio_clips`), taken without waiting for it:
        judged by the zero-shot analysis and charted by a dashboard (via the state's observer)."""
        for row in rows:
            try:
                findings = self._analyses["zero_shot"].evaluate_sim(row, self.contexts.get(row["run_id"]))
                self.state.record_sim_scores(row)
            except Exception as error:  # noqa: BLE001 - by design: one strange row must not stop the sink
                self.state.count_analysis_error({"event": "analysis_error", "where": "SIM trend", "run_id": row.get("run_id"),
                                                 "rank": row.get("rank"), "step": row.get("step"),
                                                 "error": f"{type(error).__name__}: {str(error)[:300]}"})
                self._write_error_events()
                continue
            self._report(findings, as_notices=False)
            if self.reporter is not None:
                self.reporter.offer_sim(row)

    def _analysis_error(self, message, where: str, error: Exception) -> None:
        """Counts a frame the sink failed to handle at `where`, writes it to events.jsonl and
        reports it as a finding about the frame's rank."""
        origin = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
        detail = f"{type(error).__name__}: {str(error)[:300]}"
        self.state.count_analysis_error({
            "event": "analysis_error", "where": where, "kind": kind_of(message), "run_id": message.run_id,
            "rank": message.rank, "step": message.step, "error": detail,
            "at": f"{Path(origin.filename).name}:{origin.lineno} {origin.name}" if origin else "",
        })
        self._write_error_events()
        kind = snapshot_kinds.kind_of_snapshot(message)
        self._report([Finding(message.run_id, message.rank, message.step, kind.key if kind else stream.ANALYSIS,
                              "analysis_error", WARN,
                              f"the sink failed on this {kind_of(message)} ({where}): {detail}; the frame is "
                              "inconsistent (a sender bug) or the sink has a bug; the sink goes on")], as_notices=True)

    def _write_error_events(self) -> None:
        if self.state.has_unwritten_errors:
            for record in self.state.take_unwritten_errors():
                self.files.write_event(record)

    def _record(self, frame: bytes, received_at: float, step: int = -1) -> None:
        """Records the frame; a disk that refuses it pauses the recording, not the analysis."""
        try:
            self.recorder.write(frame, received_at=received_at, step=step)
        except OSError as error:
            self._write_error("recording", error)
        else:
            if self.state.writes_paused:  # one taken ends an outage; nearly always there is none
                self._write_error("recording", None)

    def flush_recording(self) -> None:
        """Hands the records the recorder holds (`RecordingWriter.hold`) to the operating system:
        the live sink does so whenever it has caught up, before it waits for more."""
        if self.recorder is not None:
            try:
                self.recorder.flush()
            except OSError as error:
                self._write_error("recording", error)

    def _write_error(self, output: str, error: OSError | None) -> None:
        """A disk that refuses an output (ENOSPC, EIO) pauses it: one error event per outage and a
        visible state (`RunState.writes_paused`) while analysis goes on; `error` None: `output`
        was written, which ends its outage (a `write_resumed` event)."""
        if error is None:
            if output in self.state.writes_paused:
                self.state.write_resumed(output)
                self.files.write_event({"event": "write_resumed", "output": output})
        elif self.state.write_failed(output, error):
            reason = error.strerror or str(error)
            self.files.write_event({"event": "write_error", "output": output,
                                    "errno": errno.errorcode.get(error.errno, str(error.errno)), "error": reason})
            self._report([Finding(None, None, None, stream.ANALYSIS, "write_error", WARN,
                                  f"the disk refused {output} ({reason}): writing it is paused and resumes when the "
                                  "disk takes writes again; analysis goes on. Free space on the log folder's disk")],
                         as_notices=True)

    def _bad_frame(self, frame: bytes, received_at: float, error: ProtocolError) -> None:
        written = self._refused(error, len(frame), received_at)
        if written and self.recorder is not None and len(frame) <= RECORDED_REFUSAL_BYTES:
            self._record(frame, received_at)

    def _refused(self, error: ProtocolError, size: int, received_at: float) -> bool:
        """Counts a refused frame; the first few per reason per minute are also written (event,
        finding, human log; the caller records the frame): True for those (`sink.refusals`)."""
        reason = type(error).__name__
        self.state.count_bad_frame(reason)
        unwritten_before = self._refusals.admit(reason, received_at)
        if unwritten_before is None:
            return False
        self.files.write_event({"event": "bad_frame", "reason": reason, "detail": str(error)[:500], "bytes": size,
                                "unwritten_before": unwritten_before})
        self._report([stream.bad_frame_finding(reason, str(error)[:200], size)], as_notices=True)
        return True

    def _report(self, findings: list[Finding], *, as_notices: bool) -> None:
        if not findings:
            return
        for finding in findings:
            self.files.write_finding(finding)
            if as_notices:
                self.files.write_human(human_log.notice(finding))
        self.state.record_findings(findings)
        if self.reporter is not None:
            self.reporter.offer_findings(findings)
        for alarm in self.summary.add(findings):
            if self._on_alarm is not None:
                self._on_alarm(alarm)

    def _report_exports(self) -> None:
        """An export target that fell behind (or caught up): an event and a finding, never a wait."""
        for record, finding in self.reporter.load_news():
            self.files.write_event(record)
            self._report([finding], as_notices=True)

    def _write_entries(self, texts: list[str]) -> None:
        for text in texts:
            self.files.write_human(text)

    def summary_text(self) -> str:
        """The end-of-run summary with this pipeline's log files and recording."""
        files = self.files
        paths = [file.path for file in (files.human, files.findings, files.metrics, files.events)]
        return self.summary.text(paths + [Path(path) for path in (self.recorder.paths if self.recorder else [])])

    def close(self) -> None:
        self._write_entries(self.entries.drain())
        if self.recorder is not None:
            try:
                self.recorder.close()
            except OSError as error:  # its last sync: the records are written, their durability is not sure
                self._write_error("recording", error)
        if self.publisher is not None:
            self.publisher.close()
        if self.audio_clips is not None:  # before the reporter: its last results are exported too
            errors, rows = self.audio_clips.close()
            self._take_audio(rows)
            for error in errors:
                self.files.write_event({"event": "audio_clips_error", "error": error})
            self.files.write_human(self.audio_clips.sim_summary())
        if self.reporter is not None:  # bounded: a blocked target is left behind, counted
            for record in self.reporter.close():
                self.files.write_event(record)
        for reason, count in self._refusals.take_unwritten().items():
            self.files.write_event({"event": "bad_frames_unwritten", "reason": reason, "count": count})
        if unwritten := self._forgettings.take_unwritten():
            self.files.write_event({"event": "runs_forgotten_unwritten", "count": sum(unwritten.values())})
        self.files.close()
