"""`--report-to tensorboard`: one event-file folder per training run, <log-dir>/tensorboard/<run id>/.

Written with TensorBoard's protos (the `tensorboard` package, extra `stratlog[tensorboard]`;
TensorFlow and torch are not needed): scalars as simple values, the decoded texts as text
summaries the Text tab shows, the run start's configuration as one text, the decoded WAV files
(`--audio-tokenizer`) as audio summaries the Audio tab plays. Point
`tensorboard --logdir <log-dir>/tensorboard` at it: each run is one TensorBoard run.

The file is TensorBoard's event file (TFRecord framing: length, masked CRC-32C of the length,
the event, masked CRC-32C of the event), written here rather than by TensorBoard's
EventFileWriter, which hands each event to yet another thread through a 10-event queue and
checksums in pure Python (about 150 us an event, holding the GIL the sink needs): the checksums
come from google-crc32c (C), the writes are synchronous on the export's own thread
(`sink.report.handoff`) and flushed every FLUSH_S.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
import wave
from pathlib import Path

from stratlog.sink.report.records import Clips, Record, RunClosed, RunOpened, Scalars, Texts

FLUSH_S = 2.0
"""Seconds between two flushes of an event file (a TensorBoard reading it live sees this late)."""


class TensorBoardWriter:
    name = "tensorboard"

    def __init__(self, root: Path):
        # imported here: the sink runs without the extra unless --report-to asks for it
        import google_crc32c
        from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
        from tensorboard.plugins.text import metadata as text_metadata

        self.root = root
        self._event, self._summary, self._tensor, self._types = event_pb2, summary_pb2, tensor_pb2, types_pb2
        self._text_metadata = text_metadata.create_summary_metadata("", "")
        self._crc32c = google_crc32c.value
        self._files: dict[str, object] = {}
        self._flushed = time.monotonic()

    def write(self, record: Record) -> None:
        if isinstance(record, RunClosed):
            if (file := self._files.pop(record.run_id, None)) is not None:
                file.close()
            return
        if isinstance(record, RunOpened):
            self._add(record.run_id, 0, 0.0, [self._text_value("run/config", json.dumps(record.config, indent=1,
                                                                                        default=str))])
        elif isinstance(record, Scalars):
            Value = self._summary.Summary.Value
            self._add(record.run_id, record.step, record.wall_time,
                      [Value(tag=tag, simple_value=value) for tag, value in record.values.items()])
        elif isinstance(record, Texts):
            self._add(record.run_id, record.step, record.wall_time,
                      [self._text_value(tag, text) for tag, text in record.values.items()])
        elif isinstance(record, Clips):
            self._add(record.run_id, record.step, record.wall_time,
                      [self._audio_value(tag, path) for tag, path in record.values.items()])

    def _text_value(self, tag: str, text: str):
        tensor = self._tensor.TensorProto(dtype=self._types.DT_STRING, string_val=[text.encode("utf-8")])
        return self._summary.Summary.Value(tag=tag, metadata=self._text_metadata, tensor=tensor)

    def _audio_value(self, tag: str, path: Path):
        """The WAV file as it is (TensorBoard plays "audio/wav" bytes), its rate and length from its header."""
        with wave.open(str(path), "rb") as clip:
            audio = self._summary.Summary.Audio(sample_rate=float(clip.getframerate()), num_channels=clip.getnchannels(),
                                                length_frames=clip.getnframes(), content_type="audio/wav",
                                                encoded_audio_string=path.read_bytes())
        return self._summary.Summary.Value(tag=tag, audio=audio)

    def _add(self, run_id: str, step: int, wall_time: float, values: list) -> None:
        if not values:
            return
        file = self._files.get(run_id) or self._open(run_id)
        self._write_event(file, self._event.Event(wall_time=wall_time, step=step,
                                                  summary=self._summary.Summary(value=values)))
        if time.monotonic() - self._flushed >= FLUSH_S:
            self._flushed = time.monotonic()
            for open_file in self._files.values():
                open_file.flush()

    def _open(self, run_id: str):
        """A new event file in the run's folder, named as TensorBoard names them, its version first."""
        folder = self.root / run_id
        folder.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{len(self._files)}"
        file = self._files[run_id] = open(folder / name, "wb")  # noqa: SIM115 - open while the run is
        self._write_event(file, self._event.Event(wall_time=time.time(), file_version="brain.Event:2"))
        return file

    def _write_event(self, file, event) -> None:
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        file.write(b"".join((header, self._masked_crc(header), data, self._masked_crc(data))))

    def _masked_crc(self, data: bytes) -> bytes:
        crc = self._crc32c(data)
        return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)

    def abandon(self) -> None:
        """Nothing keeps the process from exiting: a blocked write holds only its daemon thread."""

    def close(self) -> None:
        for file in self._files.values():
            file.close()
        self._files.clear()
