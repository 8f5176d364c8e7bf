"""Helpers for tests that launch real processes: process groups that never leak, the
`stratlog` command line, and polling with a deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


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
