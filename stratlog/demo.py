"""`stratlog demo`: the tiny embedded model trained by 2 torchrun ranks, watched by a live sink.

The sink and torchrun run side by side as `stratlog train` runs them (stratlog.watched_training):
both stop when training ends, on q, or on Ctrl-C / SIGTERM / SIGHUP, and the log files,
recording, trainer.log and checkpoints stay in --out.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from stratlog.sink_commands import add_fail_on_argument
from stratlog.training_process import torchrun_command
from stratlog.watched_training import WatchOptions, watch_training


@dataclass(frozen=True)
class DemoConfig:
    out: Path
    """Folder for logs/, the recording, checkpoints/ and trainer.log."""
    max_steps: int = 200
    capture_interval: int = 10
    nproc: int = 2
    headless: bool = False
    keep_open: bool = False
    cache_dir: Path | None = None
    seed: int = 42
    """Training seed (data order, initial weights of trained adapters, dropout)."""
    fail_on: str | None = None
    """``warn`` or ``fail``: exit with FAIL_ON_EXIT_CODE when a check reached it (None: off)."""

    def __post_init__(self):
        for name in ("max_steps", "capture_interval", "nproc"):
            if getattr(self, name) < 1:
                raise ValueError(f"DemoConfig.{name} must be >= 1, got {getattr(self, name)}")


def demo_train_args(assets, config: DemoConfig, sink_address: str) -> list[str]:
    """lr 5e-3 lets the random-weight tiny model learn to use the reference voice within ~100 steps
    (at 2e-3 the conditioning effect was still 0 at step 100). --label_all_text: the trainer's
    default labels (the original Higgs recipe: three text labels per sample) leave the tiny random
    model ignoring the reference far longer (conditioning effect at step 140, seed 42: 0.003 nats
    against 0.043 with every text token labelled; seed 7 at lr 1e-2: none by step 200), past the
    sink's grace for a healthy run; with the transcripts trained too it uses the voice by step ~100."""
    return [
        "--model_path", str(assets.model_dir), "--audio_tokenizer_path", str(assets.audio_tokenizer_dir),
        "--train_data_file", str(assets.train_data_file), "--output_dir", str(config.out / "checkpoints"),
        "--audio_codes_cache", str(assets.root / "audio-codes-cache"),
        "--enable_strategic_logging", "--strategic_logging_steps", str(config.capture_interval),
        "--strategic_sink_address", sink_address,
        "--max_steps", str(config.max_steps), "--per_device_train_batch_size", "4",
        "--learning_rate", "5e-3", "--warmup_steps", "5", "--lr_scheduler_type", "cosine",
        "--logging_steps", "1", "--save_strategy", "no", "--report_to", "none", "--seed", str(config.seed),
        "--dataloader_num_workers", "0", "--disable_tqdm", "true", "--label_all_text",
    ]


def run_demo(config: DemoConfig) -> int:
    from stratlog.trainer.embedded import prepare_demo  # torch-heavy: imported only when the demo runs

    assets = prepare_demo(config.cache_dir)
    options = WatchOptions(log_dir=config.out / "logs", trainer_log=None if config.headless else config.out / "trainer.log",
                           headless=config.headless, keep_open=config.keep_open, fail_on=config.fail_on)
    return watch_training(lambda address: torchrun_command(config.nproc, demo_train_args(assets, config, address)), options)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true", help="No dashboard: for scripts and CI.")
    parser.add_argument("--out", type=Path, default=None, help="Output folder (default: runs/demo-<time>).")
    parser.add_argument("--max-steps", type=int, default=200, help="Optimizer steps to train (default 200).")
    parser.add_argument("--capture-interval", type=int, default=10, help="Strategic capture every N steps (default 10).")
    parser.add_argument("--keep-open", action="store_true",
                        help="Keep the dashboard open after training ends, until q (default: it ends on the run "
                             "summary, which stays until a key).")
    parser.add_argument("--cache", type=Path, default=None, help="Embedded-default cache (default: $STRATLOG_CACHE or ~/.cache/stratlog).")
    add_fail_on_argument(parser)


def main(args: argparse.Namespace) -> int:
    out = args.out or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    config = DemoConfig(out=out, max_steps=args.max_steps, capture_interval=args.capture_interval,
                        headless=args.headless, keep_open=args.keep_open, cache_dir=args.cache, fail_on=args.fail_on)
    return run_demo(config)
