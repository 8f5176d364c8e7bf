"""A disk that refuses writes (ENOSPC) pauses the sink's outputs, never the sink: the drill of
issue 18 item 3, on real files, with `os.write`/`os.writev` failing for a while as a full disk does.
Run: ./run-tests tests/sink/test_disk_errors.py"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from stratlog.protocol import RecordingReader, RecordingWriter
from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.log_files import RotatingTextFile
from stratlog.sink.pipeline import SinkPipeline

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDING = FIXTURES / "demo-20-steps.stratrec"
TOKENIZER = FIXTURES / "demo-tokenizer.json"
JSONL = ("findings.jsonl", "metrics.jsonl", "events.jsonl")


class FullDisk:
    """While `full`, each write puts half its bytes on disk (a short write) and the next one
    fails with ENOSPC, the way a filling disk tears a write."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.full = False
        self._write, self._writev = os.write, os.writev
        self._torn = False
        monkeypatch.setattr(os, "write", self.write)
        monkeypatch.setattr(os, "writev", self.writev)

    def write(self, fd: int, data) -> int:
        if not self.full:
            return self._write(fd, data)
        if self._torn or len(data) < 2:
            self._torn = False
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._torn = True
        return self._write(fd, bytes(data)[: len(data) // 2])

    def writev(self, fd: int, parts) -> int:
        return self.write(fd, b"".join(bytes(part) for part in parts))


def lines(path: Path) -> list[dict]:
    """Every line of a JSONL file, parsed: a torn line fails here."""
    text = path.read_text()
    assert text == "" or text.endswith("\n"), f"{path.name} ends in a torn line"
    return [json.loads(line) for line in text.splitlines()]


def test_a_full_disk_pauses_the_outputs_and_analysis_goes_on(tmp_path, monkeypatch):
    records = list(RecordingReader(RECORDING))
    third = len(records) // 3
    disk = FullDisk(monkeypatch)
    recording = tmp_path / "stream.stratrec"
    pipeline = SinkPipeline(tmp_path / "logs", recorder=RecordingWriter(recording), tokenizer_path=str(TOKENIZER))
    model = DashboardModel.attach(pipeline)

    def feed(part):
        for record in part:
            pipeline.handle(bytes(record.frame), record.received_at)
        pipeline.files.flush()

    feed(records[:third])
    disk.full = True
    feed(records[third : 2 * third])
    paused = dict(pipeline.state.writes_paused)
    shown = model.view(now=records[2 * third].received_at).writes_paused
    disk.full = False
    feed(records[2 * third :])
    pipeline.close()

    assert set(paused) == {"recording", "strategic_log.txt", "findings.jsonl", "metrics.jsonl", "events.jsonl"}
    assert pipeline.state.writes_paused == {}
    assert shown.startswith("recording, ") and shown.endswith(os.strerror(errno.ENOSPC))
    logs = {name: lines(tmp_path / "logs" / name) for name in JSONL}
    errors = [event for event in logs["events.jsonl"] if event["event"] == "write_error"]
    assert sorted(event["output"] for event in errors) == sorted(paused)  # one event per outage
    assert {event["errno"] for event in errors} == {"ENOSPC"}
    assert {event["output"] for event in logs["events.jsonl"] if event["event"] == "write_resumed"} == set(paused)
    assert sum(finding["check"] == "write_error" for finding in logs["findings.jsonl"]) == len(paused)
    # Analysis went on through the outage, and the paused log files kept what it found.
    full_steps = {record.step for record in records[third : 2 * third] if record.step >= 0}
    assert full_steps & {finding["step"] for finding in logs["findings.jsonl"]}
    # The recording lost the records of the outage, whole: it reads back without damage.
    reader = RecordingReader(recording)
    kept = [record.frame for record in reader]
    assert reader.damage == []
    assert kept == [record.frame for record in records[:third] + records[2 * third :]]


def test_a_refused_rotation_keeps_the_current_file(tmp_path, monkeypatch):
    """A disk that cannot create the next file (no inodes left) pauses the log on its current one."""
    log = RotatingTextFile(tmp_path / "findings.jsonl", rotate_bytes=20)
    log.write('{"n": 1}\n')
    log.flush()
    open_file = os.open

    def refused(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "open", refused)
    log.write('{"n": 2}\n')
    log.write('{"n": 3}\n')  # 9-byte lines: the third goes past 20 bytes, to findings.jsonl.1
    with pytest.raises(OSError):
        log.flush()
    assert log.paused
    monkeypatch.setattr(os, "open", open_file)
    log.close()
    assert lines(tmp_path / "findings.jsonl") == [{"n": 1}, {"n": 2}]
    assert lines(tmp_path / "findings.jsonl.1") == [{"n": 3}]


def test_a_disk_full_at_start_up_pauses_the_recording_instead_of_stopping_the_sink(tmp_path, monkeypatch):
    records = list(RecordingReader(RECORDING))[:20]
    disk = FullDisk(monkeypatch)
    disk.full = True  # not even the recording's header fits
    recording = tmp_path / "stream.stratrec"
    writer = RecordingWriter(recording)
    assert writer.start_error is not None and recording.stat().st_size == 0
    pipeline = SinkPipeline(tmp_path / "logs", recorder=writer, tokenizer_path=str(TOKENIZER))
    assert set(pipeline.state.writes_paused) == {"recording"}  # shown from the start
    for record in records[:10]:
        pipeline.handle(bytes(record.frame), record.received_at)
    pipeline.files.flush()
    disk.full = False
    for record in records[10:]:
        pipeline.handle(bytes(record.frame), record.received_at)
    pipeline.close()
    assert pipeline.state.messages == 20  # analysis went on through it
    events = lines(tmp_path / "logs" / "events.jsonl")
    assert [(event["event"], event["output"]) for event in events if event["event"].startswith("write_")][:1] == [
        ("write_error", "recording")]
    assert ("write_resumed", "recording") in [(event["event"], event.get("output")) for event in events]
    reader = RecordingReader(recording)
    assert [record.frame for record in reader] == [record.frame for record in records[10:]]  # a header, then whole records
    assert reader.damage == [] and reader.header is not None
