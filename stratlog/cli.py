"""`stratlog`: one console command. Each subcommand imports only what it needs, so the sink
and replay start without loading torch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = "Strategic logging for Higgs Audio v2 voice-cloning training: train, watch, record and replay."
EXAMPLES = {
    "demo": "stratlog demo                      # the tiny embedded model on 2 ranks, live dashboard",
    "prepare-demo": "stratlog prepare-demo              # build the demo's checkpoint and voices ahead (offline)",
    "tokenize": "stratlog tokenize data.json --audio_tokenizer_path /path/to/higgs-audio-tokenizer --model_path /path/to/higgs-checkpoint",
    "train": "stratlog train -- --nproc_per_node=2 trainer/train_v2_ddp.py --model_path M ...",
    "sink": "stratlog sink --log-dir logs/ --headless --publish tcp://127.0.0.1:5561",
    "view": "stratlog view tcp://127.0.0.1:5561  # a dashboard on a running sink's --publish",
    "replay": "stratlog replay logs/stream.stratrec --tui",
    "keys": "stratlog keys sink rank --authorize clients/  # CURVE keys for a sink beyond loopback",
    "compare": "stratlog compare logs/run-a logs/run-b  # final losses, effect, WARN/FAIL per check",
}


def _command(commands, name: str, summary: str, description: str = ""):
    """A subcommand whose --help has its description and its example."""
    return commands.add_parser(name, help=summary, description=description or summary,
                               epilog=f"example:\n  {EXAMPLES[name]}", formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    from stratlog import demo, sink_commands, train_command

    examples = "\n".join(f"  {example}" for example in EXAMPLES.values())
    parser = argparse.ArgumentParser(prog="stratlog", description=DESCRIPTION, epilog=f"examples:\n{examples}",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    demo.add_arguments(_command(
        commands, "demo", "Train the tiny embedded model on 2 ranks with the live dashboard.",
        "Trains the tiny embedded Higgs-shaped model (built offline on first use) on 2 CPU torchrun ranks for "
        "--max-steps steps, with a live sink beside it: the dashboard (or --headless lines), the log files, the "
        "recording, trainer.log and checkpoints in --out. Ends on the run summary."))
    prepare = _command(commands, "prepare-demo", "Build the embedded tiny checkpoint and synthetic voices (offline).")
    prepare.add_argument("--cache", type=Path, default=None, help="Cache folder (default: $STRATLOG_CACHE or ~/.cache/stratlog).")
    prepare.add_argument("--force", action="store_true", help="Rebuild even if a complete build exists.")
    from stratlog.trainer.arguments import add_tokenize_arguments  # torch-free; torch loads only when tokenize runs

    add_tokenize_arguments(_command(commands, "tokenize",
                                    "Encode a data file's audio into the code cache up front (--model_path: the prepared data set too)."))
    train_command.add_arguments(_command(
        commands, "train", "Your torchrun training and a live sink side by side, in one command.",
        "Starts the sink (the dashboard, or --headless) on a free local address and torchrun with the arguments "
        "after '--', every rank pointed at the sink; q, Ctrl-C, SIGTERM or SIGHUP stop both."))
    sink_commands.add_sink_arguments(_command(commands, "sink", "Receive, analyse, log and record strategic streams."))
    sink_commands.add_view_arguments(_command(commands, "view", "Attach a dashboard to a running sink's --publish endpoint."))
    sink_commands.add_replay_arguments(_command(commands, "replay", "Run a recording through the sink again."))
    from stratlog.keys_command import add_keys_arguments

    add_keys_arguments(_command(commands, "keys", "Make CURVE key pairs for a sink reachable from other hosts."))
    from stratlog.compare_command import add_arguments as add_compare_arguments

    add_compare_arguments(_command(commands, "compare", "The key figures of several runs side by side, from their log folders."))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "prepare-demo":
        from stratlog.trainer.embedded import prepare_demo

        assets = prepare_demo(args.cache, force=args.force)
        print(f"embedded default ready in {assets.root}")
        return 0
    if args.command == "compare":
        from stratlog import compare_command

        return compare_command.run_compare(args)
    if args.command == "tokenize":
        from stratlog.trainer.data import tokenize_data

        return tokenize_data.main(args)
    from stratlog import demo, keys_command, sink_commands, train_command
    from stratlog.protocol import RecordingError
    from stratlog.protocol.curve import InsecureBindError, KeyFileError
    from stratlog.sink.log_files import LogDirError
    from stratlog.sink.receiver import BindError

    runs = {"demo": demo.main, "train": train_command.main, "sink": sink_commands.run_sink,
            "view": sink_commands.run_view, "replay": sink_commands.run_replay, "keys": keys_command.run_keys}
    try:
        return runs[args.command](args)
    except (BindError, LogDirError, RecordingError, InsecureBindError, KeyFileError) as error:  # the user's to fix: one line, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
