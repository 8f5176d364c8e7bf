"""`stratlog view ADDR --web`'s own rules (issue 21): loopback unless --web-insecure, HOST:PORT
checked, and each browser tab's viewer gets this command's options (its CURVE keys included)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from stratlog.cli import build_parser
from stratlog.web_view import viewer_command
from tests.processes import stratlog_command


def run_view(*options: str) -> subprocess.CompletedProcess:
    return subprocess.run(stratlog_command("view", "tcp://127.0.0.1:5561", *options), capture_output=True, text=True,
                          timeout=60)


def test_a_web_address_beyond_loopback_needs_web_insecure():
    done = run_view("--web", "0.0.0.0:8123")
    assert done.returncode == 2
    assert "0.0.0.0:8123" in done.stderr and "--web-insecure" in done.stderr


def test_a_malformed_web_address_is_refused_by_name():
    done = run_view("--web", "localhost:http")
    assert done.returncode == 2
    assert "localhost:http" in done.stderr


def test_each_tab_runs_the_view_with_this_commands_options(tmp_path):
    args = build_parser().parse_args([
        "view", "tcp://10.0.0.5:5561", "--web", "--sink-key", "keys/sink.key", "--client-key", "keys/viewer.key_secret",
        "--tokenizer", str(tmp_path / "tokenizer.json"), "--stall-after", "30", "--exit-after-run"])
    assert args.web == ("127.0.0.1", 8000)  # loopback by default
    command = viewer_command(args)
    assert command[command.index("view") + 1] == "tcp://10.0.0.5:5561"
    assert "--web" not in command
    for option, value in (("--sink-key", str(Path("keys/sink.key").resolve())),
                          ("--client-key", str(Path("keys/viewer.key_secret").resolve())),
                          ("--tokenizer", str(tmp_path / "tokenizer.json")), ("--stall-after", "30.0")):
        assert command[command.index(option) + 1] == value
    assert "--exit-after-run" in command
