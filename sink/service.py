"""The live sink loop: receive frames until told to stop (or, optionally, until the run ends).

It runs in the main thread when headless, or in a background thread beside the dashboard;
`stop()` is safe to call from any thread or a signal handler. When no frame arrives for 100 ms
the loop ticks the pipeline, so stalls are found and files flushed while the ranks are quiet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.receiver import FrameReceiver


class SinkService:
    def __init__(self, receiver: FrameReceiver, pipeline: SinkPipeline):
        self.receiver = receiver
        self.pipeline = pipeline
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self, *, until_run_end: bool = False, should_stop: Callable[[], bool] | None = None) -> None:
        """Serve until stop(); with `until_run_end`, also stop once every rank sent its run end;
        `should_stop` is asked between frames (at least every 100 ms)."""
        while not self._stop.is_set():
            received = self.receiver.receive(timeout_ms=100)
            if received is not None:
                self.pipeline.handle(*received)
            else:
                self.pipeline.tick()
            if until_run_end and self.pipeline.state.finished:
                break
            if should_stop is not None and should_stop():
                break

    def close(self) -> None:
        self.receiver.close()
        self.pipeline.close()
