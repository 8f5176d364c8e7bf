"""Helpers for tests that launch real processes: process groups that never leak, the
`stratlog` command line, a sink started on a free port, free addresses, polling with a
deadline, reading the sink's JSON-lines files and replaying a recording."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.receiver import FrameReceiver
from stratlog.sink.service import SinkService

class ProcessGroup:
    """Child processes started in their own session, all killed at teardown (even when the
    test fails), so a leaked rank or sink never holds ports and cores for later tests."""

    def __init__(self):
        self.processes: list[subprocess.Popen] = []

    def start(self, command: list[str], **kwargs) -> subprocess.Popen:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})}
        process = subprocess.Popen(command, start_new_session=True, env=env, **kwargs)
        self.processes.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


def stratlog_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "stratlog.cli", *args]


def wait_for(predicate, timeout_s: float, interval_s: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def free_address() -> str:
    """A local TCP endpoint nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


@contextmanager
def serving(pipeline: SinkPipeline) -> Iterator[SinkService]:
    """A live sink in this process: a real PULL socket on a free port, served by a thread, with
    `pipeline` behind it; stopped, joined and closed on exit (at once: no wait for run ends)."""
    service = SinkService(FrameReceiver("tcp://127.0.0.1:0"), pipeline, close_grace_s=0)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.stop()
        thread.join(timeout=5)
        service.close()


def start_sink(group: ProcessGroup, log_dir: Path, address_file: Path, *extra: str,
               **popen) -> tuple[subprocess.Popen, str]:
    """A real `stratlog sink` on a free port; returns it with the address it listens on.
    `popen`: more arguments for subprocess.Popen (stdout=subprocess.PIPE to read its summary)."""
    sink = group.start(stratlog_command("sink", "--bind", "tcp://127.0.0.1:0", "--log-dir", str(log_dir),
                                        "--address-file", str(address_file), *extra), **popen)

    def address():
        assert sink.poll() is None, "the sink exited before listening"
        return address_file.is_file() and address_file.read_text()

    return sink, wait_for(address, 60, what="the sink to listen")


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file; none while it does not exist."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


FIXTURES = Path(__file__).parent / "fixtures"


def replay_demo(log_dir: Path, *options: str) -> None:
    """`stratlog replay --headless` of the fixed 20-step demo recording, decoded with its
    tokenizer, into `log_dir`, with more `options` (e.g. --report-to)."""
    done = subprocess.run(stratlog_command("replay", str(FIXTURES / "demo-20-steps.stratrec"), "--tokenizer",
                                           str(FIXTURES / "demo-tokenizer.json"), "--log-dir", str(log_dir),
                                           "--headless", *options), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def replayed_log(recording: Path, log_dir: Path) -> str:
    """`stratlog replay --headless` of `recording` into `log_dir`; returns the strategic log it
    wrote without the replay's marker line, which is all that may differ from the live log."""
    replay = subprocess.run(stratlog_command("replay", str(recording), "--log-dir", str(log_dir), "--headless"),
                            capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    marker, _, rest = (log_dir / "strategic_log.txt").read_text().partition("\n\n")
    assert marker.startswith("=== Replay of "), marker
    return rest
