"""The dashboard's test data: the fixed recording of a real 20-step demo run (2 ranks, capture
every 5 steps), with the demo checkpoint's tokenizer beside it so token views decode the same on
every machine. Regenerate both with
`stratlog demo --headless --max-steps 20 --capture-interval 5 --out /tmp/x` (copy
logs/stream.stratrec and the cache's demo-v1/model/tokenizer.json); the snapshots then change.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

from rich.console import Console

from protocol import Metrics, RunStart, encode
from sink.dashboard_model import DashboardModel
from sink.pipeline import SinkPipeline
from sink.replay import ReplayPlayer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RECORDING = FIXTURES / "demo-20-steps.stratrec"
TOKENIZER = FIXTURES / "demo-tokenizer.json"
RUN_ID = "load"


def replayed(log_dir: Path) -> tuple[DashboardModel, ReplayPlayer]:
    """The whole fixture replayed (as fast as possible) into a fresh model."""
    pipeline = SinkPipeline(log_dir, tokenizer_path=str(TOKENIZER))
    model = DashboardModel.attach(pipeline)
    player = ReplayPlayer(RECORDING, pipeline)
    player.run()
    return model, player


def empty_model(log_dir: Path) -> tuple[DashboardModel, SinkPipeline]:
    pipeline = SinkPipeline(log_dir, tokenizer_path=str(TOKENIZER))
    return DashboardModel.attach(pipeline), pipeline


def metrics_frames(count: int, ranks: int = 2) -> list[bytes]:
    """A run start per rank, then `count` metrics messages round-robin over the ranks: the
    bulk of any real stream."""
    head = {"run_id": RUN_ID, "world_size": ranks, "time": 1_700_000_000.0}
    frames = [encode(RunStart(**head, rank=rank, seq=0, step=0, model_path="m", tokenizer_path="",
                              audio_tokenizer_path="a", model_config={}, training_args={}, hostname="h", pid=1,
                              capture_interval=10, capture_ranks=[])) for rank in range(ranks)]
    for index in range(count):
        rank, step = index % ranks, index // ranks + 1
        values = {"loss": 5.0 / step ** 0.1, "text_loss": 2.0, "audio_loss": 3.0, "learning_rate": 1e-4,
                  "grad_norm": 1.0, "tokens_per_second": 4000.0}
        frames.append(encode(Metrics(**head, rank=rank, seq=step, step=step, values=values)))
    return frames


def feed_paced(pipeline: SinkPipeline, frames: list[bytes], per_second: float, stop=None) -> None:
    """Plays the sink's receiving thread: frames in batches of 10 at `per_second` overall."""
    start = time.monotonic()
    for index in range(0, len(frames), 10):
        if stop is not None and stop.is_set():
            return
        delay = start + index / per_second - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for frame in frames[index:index + 10]:
            pipeline.handle(frame, time.time())


def text_of(widget, width: int = 200) -> str:
    """What a Static shows, as plain text (styles dropped)."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.file.getvalue()
