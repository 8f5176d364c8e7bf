"""What the user can fix gets one `error:` line and a non-zero exit, not a traceback: a busy port,
a log folder that cannot be made, a file that is not a recording, a recording that lost records.
Run: ./run-tests tests/sink/test_command_errors.py"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from stratlog.cli import main
from stratlog.sink_commands import DAMAGE_EXIT_CODE

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDING = FIXTURES / "demo-20-steps.stratrec"
TOKENIZER = str(FIXTURES / "demo-tokenizer.json")


def error_lines(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error: ")]


def replay(recording: Path, log_dir: Path, *extra: str) -> int:
    return main(["replay", str(recording), "--tokenizer", TOKENIZER, "--log-dir", str(log_dir), *extra])


def test_a_busy_port_is_one_line(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        endpoint = f"tcp://127.0.0.1:{taken.getsockname()[1]}"
        assert main(["sink", "--bind", endpoint, "--log-dir", str(tmp_path / "logs")]) == 2
    assert [line.startswith(f"error: cannot listen on {endpoint}: ") for line in error_lines(capsys)] == [True]


@pytest.mark.parametrize("command", ["sink", "replay"])
def test_a_log_folder_that_cannot_be_made_is_one_line(tmp_path, capsys, command):
    """A folder under a regular file: it cannot be created even by root (who ignores chmod)."""
    (tmp_path / "a_file").write_text("")
    log_dir = tmp_path / "a_file" / "logs"
    argv = ["--bind", "tcp://127.0.0.1:0"] if command == "sink" else [str(RECORDING)]
    assert main([command, *argv, "--log-dir", str(log_dir)]) == 2
    assert [line.startswith(f"error: cannot write logs in {log_dir}: ") for line in error_lines(capsys)] == [True]


def test_a_damaged_magic_is_one_line(tmp_path, capsys):
    damaged = tmp_path / "damaged.stratrec"
    damaged.write_bytes(b"XXXX" + RECORDING.read_bytes()[4:])
    assert replay(damaged, tmp_path / "logs") == 2
    assert [f"{damaged} is not a stratlog recording" in line for line in error_lines(capsys)] == [True]


def test_records_lost_to_damage_fail_the_replay(tmp_path, capsys):
    data = bytearray(RECORDING.read_bytes())
    data[5000:5008] = b"XXXXXXXX"  # inside a record's frame: its checksum fails, the record is lost
    damaged = tmp_path / "damaged.stratrec"
    damaged.write_bytes(bytes(data))
    assert replay(damaged, tmp_path / "logs") == DAMAGE_EXIT_CODE
    assert [line.startswith("error: the recording is damaged: 1 damaged byte ranges") for line in error_lines(capsys)] == [True]


def test_a_torn_last_record_fails_only_a_strict_replay(tmp_path, capsys):
    """A sink killed mid-write leaves the record it was writing torn; that alone is no failure."""
    torn = tmp_path / "torn.stratrec"
    torn.write_bytes(RECORDING.read_bytes()[:-10])
    assert replay(torn, tmp_path / "logs") == 0
    assert error_lines(capsys) == []
    assert replay(torn, tmp_path / "strict", "--strict") == DAMAGE_EXIT_CODE
    assert len(error_lines(capsys)) == 1
