"""`CaptureGuard`: capture code runs through it, so a failure is counted and reported, never raised.

Logging must never change or stop training: an exception inside a capture is caught, counted
per (where, error type), printed once to stderr and sent to the sink as an error event.
"""

from __future__ import annotations

import sys
import traceback
from collections import Counter

from stratlog.protocol import ErrorEvent


class CaptureGuard:
    def __init__(self, publisher):
        self.publisher = publisher
        self.failures: Counter = Counter()

    def run(self, where: str, step: int, action) -> None:
        try:
            action()
        except Exception as error:  # noqa: BLE001 - by design: logging must never stop training
            if self.report(where, step, error) == 1:
                print(f"[stratlog] capture failed in {where} at step {step}: {error!r}", file=sys.stderr)

    def report(self, where: str, step: int, error: BaseException) -> int:
        """Count the error and send it as an error event (never raises); returns its count so far."""
        key = (where, type(error).__name__)
        self.failures[key] += 1
        try:
            self.publisher.send(
                ErrorEvent, step=step, where=where, error_type=type(error).__name__,
                message="".join(traceback.format_exception_only(error)).strip()[:2000], count=self.failures[key],
            )
        except Exception:  # noqa: BLE001 - the report itself must not raise either
            pass
        return self.failures[key]
