"""Per-rank series of measurements over capture steps, the memory that trends are judged on.

Analyses are otherwise stateless functions of one message; a trend ("accuracy rose since the
first capture", "the conditioning effect fell") needs the earlier values of the same quantity
of the same run and rank. One `SeriesBook` per analysis keeps them, fed in message order, so
replay rebuilds exactly the same history.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

from stratlog.sink.thresholds import CONDITIONING_WINDOW


@dataclass
class Series:
    """The first value, how many there were, and the latest few of one quantity."""

    first_step: int = 0
    first: float = 0.0
    count: int = 0
    recent: deque = field(default_factory=lambda: deque(maxlen=CONDITIONING_WINDOW))

    def add(self, step: int, value: float) -> None:
        if self.count == 0:
            self.first_step, self.first = step, value
        self.count += 1
        self.recent.append(value)

    @property
    def latest(self) -> float:
        return self.recent[-1]

    @property
    def recent_mean(self) -> float:
        return sum(self.recent) / len(self.recent)


class SeriesBook:
    """Series by key, e.g. (run_id, rank, "text_accuracy")."""

    def __init__(self) -> None:
        self._series: dict[Hashable, Series] = {}

    def add(self, key: Hashable, step: int, value: float) -> Series:
        series = self._series.get(key)
        if series is None:  # not setdefault: that would build a Series (and its deque) on every add
            series = self._series[key] = Series()
        series.add(step, value)
        return series

    def get(self, key: Hashable) -> Series | None:
        return self._series.get(key)

    def forget(self, run_id: str) -> None:
        forget_run(self._series, run_id)


def forget_run(keyed: dict, run_id: str) -> None:
    """Drops `run_id`'s entries from a dict keyed by tuples that start with the run id: a run the
    sink no longer keeps (`sink.state.RUNS_KEPT`)."""
    for key in [key for key in keyed if key[0] == run_id]:
        del keyed[key]
