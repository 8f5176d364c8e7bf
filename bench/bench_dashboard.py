"""Dashboard responsiveness under load: key-press latency while 1 000 messages a second arrive.

Run: python bench/bench_dashboard.py [--write]   (about 25 s; prints the "## Dashboard" section of
BENCHMARKS.md)

The app runs headless (Textual's run_test) in this process, fed exactly as under
`stratlog sink --tui`: a thread hands frames to `SinkPipeline.handle` (decode, analyses, log
files, the dashboard model), 1 000 a second for 10 s, from 2 ranks, with the four full-size
snapshots of both ranks every 100 steps (stratlog/dashboard_load.py, shared with the load
test). Every ~100 ms a key (`r`, next rank) is sent through the driver as a terminal would;
its latency is the time until the action has run and every widget has been handed the new
view. Painting to a real terminal comes after that and is not included. The same presses
with no feed are the baseline. Memory is the process's resident set.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks_md import argument_parser, measured_on, publish
from stratlog.dashboard_load import RANKS, LoadFeed, load_frames, press_and_wait, resident_mib
from stratlog.tui.app import DashboardApp

PER_SECOND = 1000
SECONDS = 10
PRESS_EVERY_S = 0.1
GOAL_MS = 100
LOAD_NOTE = 'Load: 2 ranks, metrics every step and the four full-size snapshots of both ranks every 100 steps, fed to `SinkPipeline.handle` by a thread (stratlog/dashboard_load.py). Latency: from the key sent through the driver until the action has run and every widget has its new view (painting to a terminal excluded); a press every ~100 ms.\n'


async def presses(app: DashboardApp, keep_going) -> list[float]:
    """Latencies of `r` presses, one every PRESS_EVERY_S while `keep_going()`."""
    screen, latencies = app.screen, []
    while keep_going():
        expected, redraws = (screen.rank + 1) % RANKS, screen.redraws
        latency = await press_and_wait(app, "r", lambda: screen.rank == expected and screen.redraws > redraws)
        if latency is None:
            raise RuntimeError("a key press went unanswered for 5 s")
        latencies.append(latency)
        await asyncio.sleep(PRESS_EVERY_S)
    return latencies


async def measure() -> dict:
    with tempfile.TemporaryDirectory() as folder:
        feed = LoadFeed(Path(folder), load_frames(RANKS + PER_SECOND * SECONDS), PER_SECOND)
        app = DashboardApp(feed.model, source="bench")
        async with app.run_test(size=(120, 40)) as pilot:
            for frame in feed.frames[:RANKS]:  # the run starts: both ranks exist for the baseline presses
                feed.pipeline.handle(frame, time.time())
            feed.frames = feed.frames[RANKS:]
            await pilot.pause(0.2)
            idle_until = time.monotonic() + 3
            idle = await presses(app, lambda: time.monotonic() < idle_until)
            rss_start = resident_mib()
            redraws_before = app.screen.redraws
            feed.start()
            loaded = await presses(app, lambda: feed.alive)
            feed.stop()
            redraws = app.screen.redraws - redraws_before
            rss_end = resident_mib()
        return {"idle": idle, "loaded": loaded, "fed": feed.fed, "elapsed": feed.elapsed_s, "redraws": redraws,
                "rss_start": rss_start, "rss_end": rss_end}


def summary(latencies: list[float]) -> str:
    ms = sorted(value * 1000 for value in latencies)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{len(ms)} | {statistics.median(ms):.1f} | {p95:.1f} | {ms[-1]:.1f}"


def main() -> None:
    args = argument_parser(__doc__).parse_args()
    result = asyncio.run(measure())
    worst = max(result["loaded"]) * 1000
    rate = result["fed"] / result["elapsed"]
    lines = [
        f"{measured_on('python bench/bench_dashboard.py')}; not pinned (the app and the feeding thread share the "
        f"process, as under `stratlog sink --tui`).",
        LOAD_NOTE,
        "| Key press (`r`) answered | presses | median ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        f"| idle (no messages) | {summary(result['idle'])} |",
        f"| during {PER_SECOND:,} messages/s | {summary(result['loaded'])} |",
        "",
        f"- Goal: every key press answered within {GOAL_MS} ms under load; slowest {worst:.1f} ms "
        f"({worst / GOAL_MS:.2f} of the goal).",
        f"- Fed {result['fed']:,} messages in {result['elapsed']:.1f} s ({rate:,.0f} /s) while the presses ran.",
        f"- Redraws during the feed: {result['redraws']} in {result['elapsed']:.1f} s "
        f"({result['redraws'] / result['elapsed']:.1f} /s, key presses included; the cap is 20 /s plus one per key).",
        f"- Resident memory: {result['rss_start']:.0f} MiB when the feed started, {result['rss_end']:.0f} MiB after "
        f"{result['fed']:,} messages (histories are ring buffers: 600 points per chart and rank, 32 capture steps "
        f"per rank, 200 history lines).",
    ]
    publish("Dashboard", "\n".join(lines), write=args.write)


if __name__ == "__main__":
    main()
