"""torchrun as a child process group: launched, watched, and stopped without leftovers.

The group is its own session, so a Ctrl-C in the terminal reaches only us, and we decide how
the trainer stops: SIGINT to the whole group (torchrun forwards it to its ranks), then
SIGTERM, then SIGKILL, each after a grace period. No rank outlives the demo.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from stratlog import trainer


def train_script() -> Path:
    return Path(trainer.__file__).resolve().parent / "train_v2_ddp.py"


def torchrun_command(nproc: int, train_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            str(train_script()), *train_args]


class TrainingProcess:
    def __init__(self, command: list[str], *, log_file: Path | None = None):
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        self._log = open(log_file, "w") if log_file else None
        self.process = subprocess.Popen(
            command, env=env, start_new_session=True,
            stdout=self._log or None, stderr=subprocess.STDOUT if self._log else None,
        )

    def exit_code(self) -> int | None:
        return self.process.poll()

    def stop(self, grace_s: float = 10.0) -> int:
        """Stop the whole process group; returns the exit code."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None and not self._group_alive():
                break
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                continue
            if not self._group_alive():
                break
        if self._log:
            self._log.close()
        return self.process.wait()

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
            return True
        except ProcessLookupError:
            return False
