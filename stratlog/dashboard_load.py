"""The load the dashboard must take: 1 000 messages a second from 2 ranks, shaped like a real
run (metrics every step; the four full-size snapshots of both ranks every 100 steps), fed
through the sink pipeline by a thread as the receiving thread does, with a key press timed
through the driver and the memory it all holds. Shared by the load test (tests/tui/test_load.py,
functional checks) and bench/bench_dashboard.py (timings), so both measure the same thing. It
lives in the package rather than under tests/ because that is the one place both may import:
benchmarks import no test code, and tests import no benchmark code.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

from stratlog.protocol import Metrics, RunStart, encode
from stratlog.protocol.examples import FULL_SIZE, example_snapshots
from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.pipeline import SinkPipeline

RANKS = 2
CAPTURE_EVERY = 100
RUN_ID = "load"


def load_frames(messages: int) -> list[bytes]:
    """Run starts, then metrics round-robin over the ranks with snapshots on capture steps."""
    head = {"run_id": RUN_ID, "world_size": RANKS, "time": 1_700_000_000.0}
    frames = [encode(RunStart(**head, rank=rank, seq=0, step=0, model_path="m", tokenizer_path="",
                              audio_tokenizer_path="a", model_config={}, training_args={}, hostname="h", pid=1,
                              capture_interval=CAPTURE_EVERY, capture_ranks=[])) for rank in range(RANKS)]
    seq = [1] * RANKS
    step = 0
    while len(frames) < messages:
        step += 1
        for rank in range(RANKS):
            values = {"loss": 3.0 + 1.0 / step, "text_loss": 1.0, "audio_loss": 2.0, "learning_rate": 1e-4,
                      "grad_norm": 1.0 + (step % 7) / 10, "tokens_per_second": 4000.0 + step % 50}
            frames.append(encode(Metrics(**head, rank=rank, seq=seq[rank], step=step, values=values)))
            seq[rank] += 1
            if step % CAPTURE_EVERY == 0:
                for snapshot in example_snapshots(FULL_SIZE, seed=step, **head, rank=rank, seq=seq[rank], step=step):
                    snapshot.seq = seq[rank]
                    frames.append(encode(snapshot))
                    seq[rank] += 1
    return frames[:messages]


class LoadFeed:
    """Feeds `frames` to a fresh pipeline at `per_second`, in batches of 10, in a thread."""

    def __init__(self, log_dir: Path, frames: list[bytes], per_second: float):
        self.pipeline = SinkPipeline(log_dir)
        self.model = DashboardModel.attach(self.pipeline)
        self.frames = frames
        self.per_second = per_second
        self.fed = 0
        self.elapsed_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.pipeline.close()

    def _run(self) -> None:
        start = time.monotonic()
        for index in range(0, len(self.frames), 10):
            if self._stop.is_set():
                break
            delay = start + index / self.per_second - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            for frame in self.frames[index:index + 10]:
                self.pipeline.handle(frame, time.time())
                self.fed += 1
        self.elapsed_s = time.monotonic() - start


def resident_mib() -> float:
    """This process's resident set in MiB (Linux: the second field of /proc/self/statm, in pages)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def press_and_wait(app, key: str, handled, timeout_s: float = 5.0) -> float | None:
    """Sends `key` as the terminal would and returns the seconds until `handled()` is true, or
    None after `timeout_s`. Pilot's own `press` waits for the whole process to go idle, which
    never happens while a feed is running, so it cannot measure this."""
    from textual import events

    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    sent = time.monotonic()
    app._driver.send_message(event)
    while not handled():
        if time.monotonic() - sent > timeout_s:
            return None
        await asyncio.sleep(0.001)
    return time.monotonic() - sent
