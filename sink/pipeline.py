"""One frame in, everything out: record, decode, update state, write logs, notify viewers.

The live sink and replay both feed frames through `SinkPipeline.handle`, which is why a
replayed recording produces the same log files as the live run. A frame that fails to decode
is recorded anyway (the recording is the raw stream), counted by reason and never stops it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from protocol import ErrorEvent, InputSnapshot, Metrics, ProtocolError, RecordingWriter, RunEnd, RunStart, decode
from sink import human_log
from sink.log_files import LogFiles
from sink.state import RunState
from sink.token_decoding import TokenDecoder


class SinkPipeline:
    def __init__(self, log_dir: Path, *, recorder: RecordingWriter | None = None, tokenizer_path: str | None = None):
        self.files = LogFiles(log_dir)
        self.recorder = recorder
        self.state = RunState()
        self._tokenizer_override = tokenizer_path
        self._decoders: dict[str, TokenDecoder | None] = {}
        self._run_tokenizer: dict[str, str] = {}

    def handle(self, frame: bytes, received_at: float):
        """Returns the decoded message, or None for a bad frame."""
        try:
            message = decode(frame)
        except ProtocolError as error:
            if self.recorder is not None:
                self.recorder.write(frame, received_at=received_at)
            reason = type(error).__name__
            self.state.count_bad_frame(reason)
            self.files.write_event({"event": "bad_frame", "reason": reason, "detail": str(error)[:500], "bytes": len(frame)})
            return None
        if self.recorder is not None:
            self.recorder.write(frame, received_at=received_at, step=message.step)
        decoded_input = ""
        if isinstance(message, RunStart):
            self._run_tokenizer[message.run_id] = message.tokenizer_path
            self.files.write_human(human_log.run_start_entry(message))
        elif isinstance(message, Metrics):
            self.files.write_metrics({"run_id": message.run_id, "rank": message.rank, "step": message.step,
                                      "time": message.time, **message.values})
        elif isinstance(message, InputSnapshot):
            decoded_input = self.decode_ids(message.run_id, message.input_ids.to_numpy().tolist())
            self.files.write_human(human_log.input_entry(message, decoded_input))
        elif isinstance(message, ErrorEvent):
            self.files.write_human(human_log.error_entry(message))
            self.files.write_event({"event": "capture_error", "rank": message.rank, "step": message.step,
                                    "where": message.where, "error_type": message.error_type, "message": message.message})
        elif isinstance(message, RunEnd):
            self.files.write_human(human_log.run_end_entry(message))
        self.state.apply(message, received_at, decoded_input)
        return message

    def decode_ids(self, run_id: str, ids: list[int]) -> str:
        decoder = self._decoder_for(run_id)
        if decoder is None:
            return f"<no tokenizer for run {run_id}: ids shown raw> {ids}"
        return decoder.render(ids)

    def _decoder_for(self, run_id: str) -> TokenDecoder | None:
        path = self._tokenizer_override or self._run_tokenizer.get(run_id)
        if not path:
            return None
        if path not in self._decoders:
            try:
                self._decoders[path] = TokenDecoder.from_path(path)
            except Exception as error:  # noqa: BLE001 - a bad tokenizer must not stop the sink
                print(f"[sink] cannot load tokenizer from {path}: {error}", file=sys.stderr)
                self._decoders[path] = None
        return self._decoders[path]

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        self.files.close()
