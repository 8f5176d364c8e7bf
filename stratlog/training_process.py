"""torchrun as a child process group: launched, watched, and stopped without leftovers.

The group is its own session, so a Ctrl-C in the terminal reaches only us, and we decide how
the trainer stops: whatever asked us to stop (SIGINT, SIGTERM, SIGHUP, or the user quitting the
dashboard), torchrun's group gets SIGTERM, torchrun hands it to its ranks and waits for them,
and after a bounded grace everything left, the ranks in their own sessions included, is
killed. No rank outlives the demo or `stratlog train`. SIGTERM because it is the stop a rank
handles cleanly wherever it is: it sends its run end "terminated" and ends (about 3 s for the
demo); a SIGINT raises KeyboardInterrupt wherever the rank stands, a gloo collective included,
and took 12 s and printed a traceback per rank.

Run as a module (`python -m stratlog.training_process ARGS`) this is torchrun itself (`ARGS` are
torchrun's), minus the traceback torchrun prints when a stop signal ends it: that signal is the
user's request, so one line says it instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stratlog import trainer

STOP_GRACE_S = 15.0
"""How long a stopped trainer gets to end by itself (its ranks send their run ends and flush)."""
TORCHRUN_SHUTDOWN_S = 10
"""torchrun's own wait for its ranks after a stop signal before it kills them (its default is
30 s); shorter than STOP_GRACE_S, so torchrun rather than we ends a rank that does not stop."""


def train_script() -> Path:
    return Path(trainer.__file__).resolve().parent / "train_v2_ddp.py"


def launch_command(torchrun_args: list[str]) -> list[str]:
    """torchrun with `torchrun_args` (its options, the script and the script's arguments)."""
    return [sys.executable, "-m", "stratlog.training_process", *torchrun_args]


def torchrun_command(nproc: int, train_args: list[str]) -> list[str]:
    """Our training script on `nproc` local ranks."""
    return launch_command(["--standalone", f"--nproc_per_node={nproc}", str(train_script()), *train_args])


class TrainingProcess:
    def __init__(self, command: list[str], *, log_file: Path | None = None):
        env = {"OMP_NUM_THREADS": "1", "TORCH_ELASTIC_SHUTDOWN_TIMEOUT": str(TORCHRUN_SHUTDOWN_S), **os.environ}
        self.log_file = log_file
        self._log = open(log_file, "w") if log_file else None
        self.process = subprocess.Popen(
            command, env=env, start_new_session=True,
            stdout=self._log or None, stderr=subprocess.STDOUT if self._log else None,
        )
        self.stop_requested_at: float | None = None
        """Monotonic time of the first stop signal sent to the group (None: none yet)."""

    def exit_code(self) -> int | None:
        return self.process.poll()

    def send_stop(self) -> None:
        """Asks the trainer to stop (SIGTERM to torchrun's group, which forwards it to its ranks);
        returns at once."""
        if self.stop_requested_at is None:
            self.stop_requested_at = time.monotonic()
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def stop_overdue(self) -> bool:
        """True once a stop was asked for STOP_GRACE_S and the trainer still runs."""
        return (self.stop_requested_at is not None and self.process.poll() is None
                and time.monotonic() - self.stop_requested_at > STOP_GRACE_S)

    def stop(self, grace_s: float = STOP_GRACE_S) -> int:
        """Stops the trainer (unless a stop was already sent), waits up to what is left of
        `grace_s` since the stop was asked, then kills torchrun's group and its ranks; returns
        torchrun's exit code."""
        if self.process.poll() is None and self.stop_requested_at is None:
            self.send_stop()
        if self.process.poll() is None:
            left = grace_s - (time.monotonic() - (self.stop_requested_at or time.monotonic()))
            try:
                self.process.wait(timeout=max(left, 0.1))
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log:
            self._log.close()
        return self.process.wait()

    def kill(self) -> None:
        """SIGKILL to the ranks (their own sessions, children of torchrun) and to torchrun's group."""
        for pid in [*children_of(self.process.pid), self.process.pid]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def children_of(pid: int) -> list[int]:
    """Live child processes of `pid` (torchrun's ranks), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


def run_torchrun(argv: list[str]) -> int:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.run import main

    try:
        main(argv)
    except SignalException as stopped:
        print(f"torchrun: stopped by {signal.Signals(stopped.sigval).name}; its ranks were stopped too", file=sys.stderr)
        return 128 + int(stopped.sigval)
    return 0


if __name__ == "__main__":
    sys.exit(run_torchrun(sys.argv[1:]))
