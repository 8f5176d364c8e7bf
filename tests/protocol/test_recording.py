"""Recording files: round trip, recovery from truncation and damage, rotation, seeking.

Frames are the example messages' real frames; each test writes its own files under tmp_path.

Run: python -m pytest tests/protocol/test_recording.py -q
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from stratlog.protocol import Record, RecordingError, RecordingReader, RecordingWriter, decode, encode
from stratlog.protocol.examples import example_messages
from stratlog.protocol.recording import FILE_MAGIC, RECORD_HEADER_SIZE, pack_file_header

FRAMES = [encode(m) for m in example_messages()]
HEADER_SIZE = len(pack_file_header())


def write_recording(path: Path, frames: list[bytes], **options) -> list[Record]:
    records = [Record(received_at=1000.0 + i, step=i, frame=f) for i, f in enumerate(frames)]
    with RecordingWriter(path, **options) as writer:
        for record in records:
            writer.write(record.frame, received_at=record.received_at, step=record.step)
    return records


def record_offsets(records: list[Record]) -> list[int]:
    offsets, offset = [], HEADER_SIZE
    for record in records:
        offsets.append(offset)
        offset += RECORD_HEADER_SIZE + len(record.frame)
    return offsets


def read(path: Path) -> tuple[list[Record], RecordingReader]:
    reader = RecordingReader(path)
    return list(reader), reader


def _disk_full(*args, **kwargs):
    """Stands in for os.open / os.writev on a disk with no space left."""
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "run.stratrec"
    records = write_recording(path, FRAMES)
    restored, reader = read(path)
    assert restored == records and reader.damage == []
    assert [decode(r.frame) for r in restored] == example_messages()
    assert reader.header.writer.startswith("stratlog-protocol 1.") and reader.header.format_version == 1


def test_truncation_at_every_offset_of_the_last_record(tmp_path: Path) -> None:
    source = tmp_path / "full.stratrec"
    records = write_recording(source, FRAMES)
    data = source.read_bytes()
    last = record_offsets(records)[-1]
    cut_path = tmp_path / "cut.stratrec"
    for cut in range(last, len(data) + 1):
        cut_path.write_bytes(data[:cut])
        restored, reader = read(cut_path)
        if cut == len(data):
            assert restored == records and reader.damage == []
        elif cut == last:  # cut exactly between records: a shorter, intact recording
            assert restored == records[:-1] and reader.damage == []
        else:
            assert restored == records[:-1], cut
            [damage] = reader.damage
            assert (damage.offset, damage.length) == (last, cut - last)
            assert "cut short at end of file" in damage.reason


@pytest.mark.parametrize("where", [0, 3, 5, 12, 20, 28, 31, 32, 40, -1])
def test_a_damaged_middle_record_is_skipped_and_reported(tmp_path: Path, where: int) -> None:
    path = tmp_path / "run.stratrec"
    records = write_recording(path, FRAMES)
    offsets = record_offsets(records)
    victim = 4
    data = bytearray(path.read_bytes())
    position = (offsets[victim + 1] - 1) if where == -1 else offsets[victim] + where
    data[position] ^= 0x5A  # header fields (0-31) or frame bytes (32+)
    path.write_bytes(bytes(data))
    restored, reader = read(path)
    assert restored == records[:victim] + records[victim + 1 :]
    [damage] = reader.damage
    assert damage.offset == offsets[victim] and damage.length == offsets[victim + 1] - offsets[victim]
    expected = "frame checksum" if where >= RECORD_HEADER_SIZE or where == -1 else "bad record header"
    assert expected in damage.reason


def test_a_zeroed_block_across_records_and_inserted_garbage(tmp_path: Path) -> None:
    path = tmp_path / "run.stratrec"
    records = write_recording(path, FRAMES)
    offsets = record_offsets(records)
    data = bytearray(path.read_bytes())
    data[offsets[2] + 40 : offsets[4] + 10] = bytes(offsets[4] + 10 - offsets[2] - 40)  # kills 2, 3, 4
    garbage = b"\xc1REC garbage that starts like a record"
    data[offsets[6] : offsets[6]] = garbage
    path.write_bytes(bytes(data))
    restored, reader = read(path)
    assert restored == records[:2] + records[5:]
    assert [(d.offset, d.length) for d in reader.damage] == [
        (offsets[2], offsets[5] - offsets[2]),
        (offsets[6], len(garbage)),
    ]


def test_a_damaged_file_header_still_yields_the_records(tmp_path: Path) -> None:
    path = tmp_path / "run.stratrec"
    records = write_recording(path, FRAMES)
    data = bytearray(path.read_bytes())
    data[9] ^= 0xFF  # the format version: the header checksum no longer holds
    path.write_bytes(bytes(data))
    restored, reader = read(path)
    assert restored == records and reader.header is None
    assert reader.damage[0].offset == 0 and "file header" in reader.damage[0].reason


def test_not_a_recording_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello, this is not a recording")
    with pytest.raises(RecordingError, match="not a stratlog recording"):
        RecordingReader(path)


def test_a_newer_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.stratrec"
    header = bytearray(pack_file_header())
    header[8] = 2
    header[-4:] = zlib.crc32(bytes(header[:-4])).to_bytes(4, "little")
    path.write_bytes(bytes(header))
    with pytest.raises(RecordingError, match="format 2"):
        RecordingReader(path)


def test_format_version_0_is_refused(tmp_path: Path) -> None:
    """An intact header naming a format that never existed is not a damaged one (PROTOCOL.md §10)."""
    path = tmp_path / "zero.stratrec"
    header = bytearray(pack_file_header())
    header[8] = 0
    header[-4:] = zlib.crc32(bytes(header[:-4])).to_bytes(4, "little")
    path.write_bytes(bytes(header))
    with pytest.raises(RecordingError, match="format 0"):
        RecordingReader(path)


def test_the_scan_after_a_damaged_header_starts_at_byte_1(tmp_path: Path) -> None:
    """The whole header, from offset 0 to the first record, is one damaged range."""
    path = tmp_path / "run.stratrec"
    write_recording(path, FRAMES[:2])
    data = bytearray(path.read_bytes())
    data[HEADER_SIZE - 1] ^= 0xFF  # the header's own checksum
    path.write_bytes(bytes(data))
    restored, reader = read(path)
    assert len(restored) == 2 and [(d.offset, d.length) for d in reader.damage] == [(0, HEADER_SIZE)]


def test_a_refused_frame_is_recorded_with_step_minus_1_and_seeking_skips_it(tmp_path: Path) -> None:
    path = tmp_path / "run.stratrec"
    with RecordingWriter(path) as writer:
        writer.write(b"\xc1 not msgpack", received_at=1.0)  # the sink's record of a refused frame
        writer.write(FRAMES[1], received_at=2.0, step=0)
    restored, _ = read(path)
    assert [r.step for r in restored] == [-1, 0]
    assert [r.frame for r in RecordingReader(path).seek_step(0)] == [FRAMES[1]]


def test_an_empty_or_header_only_file_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "run.stratrec"
    write_recording(path, [])
    assert read(path)[0] == []
    path.write_bytes(FILE_MAGIC[:5])  # the sink died while writing the header
    restored, reader = read(path)
    assert restored == [] and "file header" in reader.damage[0].reason


def test_rotation_writes_numbered_files_read_back_as_one(tmp_path: Path) -> None:
    path = tmp_path / "run.stratrec"
    frames = FRAMES * 5
    records = write_recording(path, frames, rotate_bytes=4096)
    files = sorted(os.listdir(tmp_path))
    assert files[0] == "run.stratrec" and "run.stratrec.1" in files and len(files) > 2
    for name in files:
        size = (tmp_path / name).stat().st_size
        assert (tmp_path / name).read_bytes().startswith(FILE_MAGIC)
        assert size <= 4096 or size == HEADER_SIZE + RECORD_HEADER_SIZE + max(map(len, frames))
    restored, reader = read(path)
    assert restored == records and reader.damage == [] and len(reader.paths) == len(files)


def test_seek_step_starts_at_the_first_record_of_that_step(tmp_path: Path) -> None:
    path = tmp_path / "run.stratrec"
    count = 100_000
    with RecordingWriter(path) as writer:
        for index in range(count):
            writer.write(FRAMES[index % 3], received_at=float(index), step=index // 10)
    reader = RecordingReader(path)
    found = list(reader.seek_step(9_990))
    assert len(found) == 100 and found[0].step == 9_990 and found[0].received_at == 99_900.0
    assert list(reader.seek_step(10**9)) == [] and reader.damage == []


def test_frames_reach_the_file_before_close(tmp_path: Path) -> None:
    path = tmp_path / "run.stratrec"
    with RecordingWriter(path, flush_interval_s=0.05) as writer:
        writer.write(FRAMES[0], received_at=1.0, step=0)
        assert [r.frame for r in RecordingReader(path)] == [FRAMES[0]]  # no process buffer
        time.sleep(0.2)  # let the sync thread run at least once
    with pytest.raises(ValueError, match="closed"):
        writer.write(FRAMES[0], received_at=1.0)


def test_writer_never_overwrites_and_validates_options(tmp_path: Path) -> None:
    path = tmp_path / "run.stratrec"
    write_recording(path, FRAMES[:1])
    with pytest.raises(FileExistsError):
        RecordingWriter(path)
    with pytest.raises(ValueError, match="flush_interval_s"):
        RecordingWriter(tmp_path / "a", flush_interval_s=0)
    with pytest.raises(ValueError, match="rotate_bytes"):
        RecordingWriter(tmp_path / "b", rotate_bytes=0)


_KILLED_WRITER = """
import sys
from stratlog.protocol import RecordingWriter
with RecordingWriter(sys.argv[1]) as writer:
    index = 0
    while True:
        writer.write(bytes(range(256)) * 40, received_at=float(index), step=index)
        if index == 50:
            print("ready", flush=True)
        index += 1
"""


def test_a_killed_writer_leaves_every_complete_record_readable(tmp_path: Path) -> None:
    path = tmp_path / "run.stratrec"
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,
    )
    try:
        assert writer.stdout.readline() == b"ready\n"
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait()
    restored, reader = read(path)
    assert len(restored) > 50
    assert [r.step for r in restored] == list(range(len(restored)))
    assert all(r.frame == bytes(range(256)) * 40 for r in restored)
    assert len(reader.damage) <= 1  # at most the record being written when killed


def test_a_refused_rotation_keeps_the_current_file_in_use(tmp_path, monkeypatch):
    """A disk that cannot create the next file loses that record only; the writer neither writes
    to a closed descriptor nor leaves a headerless file, and rotates once the disk allows it."""
    path = tmp_path / "refused.stratrec"
    writer = RecordingWriter(path, rotate_bytes=200)
    writer.write(b"a" * 100, received_at=1.0)
    monkeypatch.setattr(os, "open", _disk_full)
    with pytest.raises(OSError):
        writer.write(b"b" * 100, received_at=2.0)
    monkeypatch.undo()
    writer.write(b"c" * 100, received_at=3.0)
    writer.close()
    reader = RecordingReader(path)
    assert [record.frame for record in reader] == [b"a" * 100, b"c" * 100]
    assert reader.damage == [] and len(writer.paths) == 2


def test_held_records_reach_the_file_together_on_flush_and_close(tmp_path: Path) -> None:
    """A writer told to hold keeps records in memory until a flush, close, or its bounds, and
    writes them in order: the live sink's batches while it works through a backlog."""
    path = tmp_path / "held.stratrec"
    writer = RecordingWriter(path)
    writer.write(FRAMES[0], received_at=1.0, step=0)
    writer.hold(60.0)
    for index, frame in enumerate(FRAMES[1:4], start=1):
        writer.write(frame, received_at=1.0 + index, step=index)
    assert [r.frame for r in RecordingReader(path)] == FRAMES[:1]  # held, not yet written
    writer.flush()
    assert [r.frame for r in RecordingReader(path)] == FRAMES[:4]
    writer.write(FRAMES[4], received_at=5.0, step=4)
    writer.close()
    restored, reader = read(path)
    assert [r.frame for r in restored] == FRAMES[:5] and [r.step for r in restored] == [0, 1, 2, 3, 4]
    assert reader.damage == []
    with RecordingWriter(tmp_path / "plain.stratrec") as plain:
        for index, frame in enumerate(FRAMES[:5]):
            plain.write(frame, received_at=1.0 + index, step=index)
    assert path.read_bytes() == (tmp_path / "plain.stratrec").read_bytes()  # holding changes no byte


@pytest.mark.parametrize("bound", ["bytes", "records", "seconds"])
def test_held_records_are_written_once_a_bound_is_reached(tmp_path: Path, bound: str) -> None:
    from stratlog.protocol.recording_writer import HOLD_BYTES, HOLD_RECORDS

    path = tmp_path / "bounded.stratrec"
    frame = {"bytes": b"x" * (HOLD_BYTES // 4), "records": b"y", "seconds": b"z"}[bound]
    count = {"bytes": 4, "records": HOLD_RECORDS, "seconds": 2}[bound]
    with RecordingWriter(path) as writer:
        writer.hold(0.05 if bound == "seconds" else 60.0)
        for index in range(count):
            if bound == "seconds" and index:
                time.sleep(0.06)
            writer.write(frame, received_at=float(index))
        assert len(list(RecordingReader(path))) == count  # written without a flush


def test_a_refused_batch_is_lost_whole_and_the_next_record_is_written_at_once(tmp_path, monkeypatch):
    path = tmp_path / "refused-batch.stratrec"
    writer = RecordingWriter(path)
    writer.hold(60.0)
    writer.write(b"a" * 100, received_at=1.0)
    writer.write(b"b" * 100, received_at=2.0)
    monkeypatch.setattr(os, "writev", _disk_full)
    with pytest.raises(OSError):
        writer.flush()
    monkeypatch.undo()
    writer.write(b"c" * 100, received_at=3.0)  # the disk refused the last write: this one is not held
    assert [r.frame for r in RecordingReader(path)] == [b"c" * 100]
    writer.write(b"d" * 100, received_at=4.0)  # taken again: held
    assert [r.frame for r in RecordingReader(path)] == [b"c" * 100]
    writer.close()
    restored, reader = read(path)
    assert [r.frame for r in restored] == [b"c" * 100, b"d" * 100] and reader.damage == []


def test_held_records_rotate_with_their_file(tmp_path: Path) -> None:
    path = tmp_path / "held-rotated.stratrec"
    with RecordingWriter(path, rotate_bytes=HEADER_SIZE + 2 * (RECORD_HEADER_SIZE + 100)) as writer:
        writer.hold(60.0)
        for index in range(5):
            writer.write(bytes([65 + index]) * 100, received_at=float(index), step=index)
    record = RECORD_HEADER_SIZE + 100
    assert [os.path.getsize(p) for p in writer.paths] == [HEADER_SIZE + 2 * record] * 2 + [HEADER_SIZE + record]
    assert [r.step for r in RecordingReader(path)] == [0, 1, 2, 3, 4]  # read as one, in order
