"""`stratlog`: one console command. Each subcommand imports only what it needs, so the sink
and replay start without loading torch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    from stratlog import demo, sink_commands

    parser = argparse.ArgumentParser(prog="stratlog", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo.add_arguments(commands.add_parser("demo", help="Train the tiny embedded model on 2 ranks with the live dashboard."))
    prepare = commands.add_parser("prepare-demo", help="Build the embedded tiny checkpoint and synthetic voices (offline).")
    prepare.add_argument("--cache", type=Path, default=None, help="Cache folder (default: $STRATLOG_CACHE or ~/.cache/stratlog).")
    prepare.add_argument("--force", action="store_true", help="Rebuild even if a complete build exists.")
    from stratlog.trainer.arguments import add_tokenize_arguments  # torch-free; torch loads only when tokenize runs

    add_tokenize_arguments(commands.add_parser("tokenize", help="Encode a data file's audio into the code cache up front."))
    sink_commands.add_sink_arguments(commands.add_parser("sink", help="Receive, analyse, log and record strategic streams."))
    sink_commands.add_view_arguments(commands.add_parser("view", help="Attach a dashboard to a running sink's --publish endpoint."))
    sink_commands.add_replay_arguments(commands.add_parser("replay", help="Run a recording through the sink again."))
    from stratlog import compare_command

    compare_command.add_arguments(commands.add_parser("compare", help="The key figures of several runs side by side, from their log folders."))
    from stratlog.keys_command import add_keys_arguments

    add_keys_arguments(commands.add_parser("keys", help="Make CURVE key pairs for a sink reachable from other hosts."))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from stratlog import demo

        return demo.main(args)
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
    from stratlog import keys_command, sink_commands
    from stratlog.protocol import RecordingError
    from stratlog.protocol.curve import InsecureBindError, KeyFileError
    from stratlog.sink.log_files import LogDirError
    from stratlog.sink.receiver import BindError

    runs = {"sink": sink_commands.run_sink, "view": sink_commands.run_view, "replay": sink_commands.run_replay,
            "keys": keys_command.run_keys}
    try:
        return runs[args.command](args)
    except (BindError, LogDirError, RecordingError, InsecureBindError, KeyFileError) as error:  # the user's to fix: one line, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
