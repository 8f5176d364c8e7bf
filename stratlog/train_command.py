"""`stratlog train [sink options] -- <torchrun arguments>`: your training run and its sink in one command.

The sink (the dashboard, or --headless) and torchrun start side by side as in the demo
(stratlog.watched_training): the sink listens on a free local address, and every rank gets it
through the training script's own flags, `--enable_strategic_logging --strategic_sink_address
ADDR` appended to the torchrun arguments (so the script is ours, trainer/train_v2_ddp.py, or
one that takes StrategicLoggingArguments). The trainer's output goes to trainer.log in the log
folder (to this terminal with --headless). Exit code: the trainer's when it failed, else
--fail-on's, else 0; 128 + the signal when stopped by one (130 when the dashboard was quit).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from stratlog.sink_commands import add_analysis_arguments, add_fail_on_argument, rotate_bytes
from stratlog.training_process import launch_command
from stratlog.watched_training import WatchOptions, watch_training

ADDRESS_FLAG = "--strategic_sink_address"
ENABLE_FLAG = "--enable_strategic_logging"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="Folder for the sink's logs, the recording and trainer.log (default: runs/train-<time>).")
    parser.add_argument("--headless", action="store_true",
                        help="No dashboard: WARN/FAIL lines and the trainer's output in this terminal (scripts, CI).")
    parser.add_argument("--keep-open", action="store_true",
                        help="Keep the dashboard open after training ends, until q (default: it ends on the run "
                             "summary, which stays until a key).")
    add_analysis_arguments(parser)
    add_fail_on_argument(parser)
    parser.add_argument("torchrun_args", nargs=argparse.REMAINDER, metavar="-- TORCHRUN_ARGS",
                        help="torchrun's arguments after '--': its options, the training script and the script's "
                             f"flags ({ENABLE_FLAG} and {ADDRESS_FLAG} are added).")


def torchrun_args(args: argparse.Namespace) -> list[str]:
    """The torchrun arguments after '--'; ValueError naming what is wrong."""
    given = args.torchrun_args[1:] if args.torchrun_args[:1] == ["--"] else list(args.torchrun_args)
    if not given:
        raise ValueError("no torchrun arguments: stratlog train [options] -- --nproc_per_node=N SCRIPT [SCRIPT FLAGS]")
    if any(arg == ADDRESS_FLAG or arg.startswith(ADDRESS_FLAG + "=") for arg in given):
        raise ValueError(f"drop {ADDRESS_FLAG}: stratlog train starts the sink on a free local address and passes it "
                         "to every rank itself")
    return given


def with_sink(given: list[str], address: str) -> list[str]:
    """The torchrun arguments with the strategic flags that point every rank at the sink."""
    enable = [] if ENABLE_FLAG in given else [ENABLE_FLAG]
    return [*given, *enable, ADDRESS_FLAG, address]


def main(args: argparse.Namespace) -> int:
    try:
        given = torchrun_args(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    log_dir = args.log_dir or Path("runs") / time.strftime("train-%Y%m%d-%H%M%S")
    options = WatchOptions(log_dir=log_dir, trainer_log=None if args.headless else log_dir / "trainer.log",
                           headless=args.headless, keep_open=args.keep_open, fail_on=args.fail_on,
                           tokenizer=args.tokenizer, stall_after_s=args.stall_after, rotate_bytes=rotate_bytes(args))
    return watch_training(lambda address: launch_command(with_sink(given, address)), options)
