"""`grep` reads the sink's logs as text on a run of real multilingual data (the demo recording:
English, Spanish, Chinese), even when token text, sample ids and a rank's error message carry
control characters (NUL, form feed, 0x14, NEL, an ANSI escape). `stratlog replay`, a real
process, writes the logs. Run: ./run-tests tests/e2e/test_logs_are_text.py"""

from __future__ import annotations

import subprocess

import numpy as np
from tokenizers import Tokenizer

from stratlog.protocol import Array, ErrorEvent, InputSnapshot, MessageDecoder, RecordingReader, RecordingWriter, encode
from tests.processes import stratlog_command
from tests.tui.replayed import RECORDING, TOKENIZER

CONTROLS = "\x00\x0c\x14\x85\x1b"


def control_characters(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 0x20 and c not in "\t\n") or 0x7f <= ord(c) <= 0x9f or c in "\u2028\u2029"]


def recording_with_control_characters(path) -> None:
    """The demo recording, its first input snapshot's prompt text replaced in place by tokens that
    decode to control characters, its first sample id holding some, and a rank's error message
    holding an ANSI escape."""
    control_ids = Tokenizer.from_file(str(TOKENIZER)).encode(CONTROLS).ids
    decoder, changed = MessageDecoder(), False
    with RecordingWriter(path) as writer:
        for record in RecordingReader(RECORDING):
            frame, message = record.frame, decoder.decode(record.frame)
            if isinstance(message, InputSnapshot) and not changed:
                ids = message.input_ids.to_numpy().copy()
                text = np.flatnonzero(ids > 30)[5:5 + len(control_ids)]  # ordinary tokens of the prompt
                ids[text] = control_ids
                message.input_ids = Array.from_numpy(ids)
                message.sample_ids = [f"bad{CONTROLS}id", *message.sample_ids[1:]]
                frame, changed = encode(message), True
                writer.write(frame, received_at=record.received_at, step=record.step)
                error = ErrorEvent(run_id=message.run_id, rank=message.rank, world_size=message.world_size,
                                   seq=message.seq, step=message.step, time=message.time, where="capture.input",
                                   error_type="ValueError", message="\x1b[31mred\x1b[0m\x00", count=1)
                writer.write(encode(error), received_at=record.received_at, step=record.step)  # a seq repeated: fine
                continue
            writer.write(frame, received_at=record.received_at, step=record.step)


def test_grep_reads_every_log_as_text(tmp_path):
    recording = tmp_path / "controls.stratrec"
    recording_with_control_characters(recording)
    log_dir = tmp_path / "logs"
    replay = subprocess.run(stratlog_command("replay", str(recording), "--tokenizer", str(TOKENIZER), "--log-dir",
                                             str(log_dir), "--headless"), capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    for name in ("strategic_log.txt", "findings.jsonl", "events.jsonl", "metrics.jsonl"):
        text = (log_dir / name).read_text(encoding="utf-8")
        assert not control_characters(text), name
        if name in ("strategic_log.txt", "findings.jsonl"):
            found = subprocess.run(["grep", "-I", "-c", "rank", str(log_dir / name)], capture_output=True, text=True)
            assert found.returncode == 0 and int(found.stdout) > 0, name  # -I: a binary file would match nothing
    log = (log_dir / "strategic_log.txt").read_text(encoding="utf-8")
    assert "\\x00\\x0c\\x14\\x85\\x1b" in log  # the decoded tokens, visible
    assert "bad\\x00\\x0c\\x14\\x85\\x1bid" in log and "\\x1b[31mred" in log
    assert "学生晚上走到山上" in log and "La estrella tiembla" in log  # multilingual text stays itself
