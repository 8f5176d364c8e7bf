"""`stratlog sink` and `stratlog replay`: the sink's two front doors over one pipeline."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from protocol import RecordingWriter
from sink.pipeline import SinkPipeline
from sink.receiver import DEFAULT_BIND, FrameReceiver
from sink.replay import replay_recording
from sink.service import SinkService


def add_sink_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default=DEFAULT_BIND, help=f"ZeroMQ endpoint to bind (default {DEFAULT_BIND}; port 0 picks one).")
    parser.add_argument("--log-dir", type=Path, required=True, help="Folder for strategic_log.txt, metrics.jsonl, events.jsonl.")
    parser.add_argument("--record", type=Path, default=None, help="Recording file (default: <log-dir>/stream.stratrec).")
    parser.add_argument("--tokenizer", default=None, help="Tokenizer folder or tokenizer.json (default: the one named by the run).")
    parser.add_argument("--tui", action="store_true", help="Show the live dashboard.")
    parser.add_argument("--headless", action="store_true", help="No dashboard (the default; for scripts and servers).")
    parser.add_argument("--exit-after-run", action="store_true", help="Stop once every rank of the run has ended.")
    parser.add_argument("--address-file", type=Path, default=None, help="Write the bound address here once listening.")


def default_recording_path(log_dir: Path) -> Path:
    """stream.stratrec, or a timestamped name when a previous run's recording is there."""
    path = log_dir / "stream.stratrec"
    return path if not path.exists() else log_dir / time.strftime("stream-%Y%m%d-%H%M%S.stratrec")


def run_sink(args: argparse.Namespace) -> int:
    args.log_dir.mkdir(parents=True, exist_ok=True)
    receiver = FrameReceiver(args.bind)
    recorder = RecordingWriter(args.record or default_recording_path(args.log_dir))
    service = SinkService(receiver, SinkPipeline(args.log_dir, recorder=recorder, tokenizer_path=args.tokenizer))
    print(f"sink listening on {receiver.address}; logs in {args.log_dir}", flush=True)
    if args.address_file:
        args.address_file.write_text(receiver.address)
    try:
        if args.tui:
            from tui.app import DashboardApp

            thread = threading.Thread(target=service.run, kwargs={"until_run_end": args.exit_after_run}, daemon=True)
            thread.start()
            DashboardApp(service.pipeline.state, source=f"live {receiver.address}").run()
            service.stop()
            thread.join(timeout=5)
        else:
            signal.signal(signal.SIGTERM, lambda *_: service.stop())
            service.run(until_run_end=args.exit_after_run)
    except KeyboardInterrupt:
        pass
    finally:
        service.close()
    return 0


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", type=Path, help="A recording written by the sink.")
    parser.add_argument("--log-dir", type=Path, default=None, help="Where to write the logs (default: <recording>.replay/).")
    parser.add_argument("--speed", default="max", help="Playback speed factor, or 'max' (default) for as fast as possible.")
    parser.add_argument("--tokenizer", default=None, help="Tokenizer folder or tokenizer.json (default: the one named by the run).")
    parser.add_argument("--tui", action="store_true", help="Show the dashboard while replaying.")
    parser.add_argument("--headless", action="store_true", help="No dashboard (the default).")


def run_replay(args: argparse.Namespace) -> int:
    if not args.recording.is_file():
        print(f"error: recording not found: {args.recording}", file=sys.stderr)
        return 2
    speed = None if args.speed == "max" else float(args.speed)
    if speed is not None and speed <= 0:
        print(f"error: --speed must be > 0 or 'max', got {args.speed}", file=sys.stderr)
        return 2
    log_dir = args.log_dir or args.recording.with_name(args.recording.name + ".replay")
    pipeline = SinkPipeline(log_dir, tokenizer_path=args.tokenizer)
    try:
        if args.tui:
            from tui.app import DashboardApp

            stop = threading.Event()
            thread = threading.Thread(target=replay_recording, args=(args.recording, pipeline),
                                      kwargs={"speed": speed, "stop": stop}, daemon=True)
            thread.start()
            DashboardApp(pipeline.state, source=f"replay {args.recording}").run()
            stop.set()
            thread.join(timeout=5)
        else:
            reader = replay_recording(args.recording, pipeline, speed=speed)
            for damage in reader.damage:
                print(f"warning: recording damage skipped: {damage}", file=sys.stderr)
    finally:
        pipeline.close()
    print(f"replayed {pipeline.state.messages} messages; logs in {log_dir}")
    return 0
