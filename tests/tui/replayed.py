"""The dashboard's test data: the fixed recording of a real 20-step demo run (2 ranks, capture
every 5 steps), with the demo checkpoint's tokenizer beside it so token views decode the same on
every machine. Regenerate both with
`stratlog demo --headless --max-steps 20 --capture-interval 5 --out /tmp/x` (copy
logs/stream.stratrec and the cache's demo-v<N>/model/tokenizer.json); the snapshots then change.
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.replay import ReplayPlayer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RECORDING = FIXTURES / "demo-20-steps.stratrec"
TOKENIZER = FIXTURES / "demo-tokenizer.json"


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


def text_of(widget, width: int = 200) -> str:
    """What a Static shows, as plain text (styles dropped)."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.file.getvalue()
