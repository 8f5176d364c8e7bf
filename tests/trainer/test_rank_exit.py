"""How a torchrun rank ends (`train_v2_ddp.exit_without_finalizing`): like a normal exit (its
code, non-daemon threads joined, atexit handlers run, buffered output written) but without
interpreter finalization, where a gloo worker freeing a collective's tensors aborts the process.

Run: `python -m pytest -q tests/trainer/test_rank_exit.py` (a few seconds: one child process).

The abort itself is a race (a 2-rank gloo script ending like Trainer.train aborted in 5 of 160
rank exits under load when it exited normally, in 0 of 112 ending this way), so it is not
reproduced here; this pins what the ending must keep of a normal exit.
"""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import atexit, threading, time
from stratlog.trainer.train_v2_ddp import exit_without_finalizing

def late_worker():
    time.sleep(0.2)
    print("worker joined,", end=" ")

atexit.register(lambda: print("atexit ran"))
threading.Thread(target=late_worker).start()
print("buffered,", end=" ")  # no newline into a pipe: still in the buffer at exit
exit_without_finalizing(3)
print("never")
"""


def test_the_rank_exits_with_its_code_after_threads_atexit_and_buffered_output():
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (3, "buffered, worker joined, atexit ran\n"), result.stderr[-2000:]
