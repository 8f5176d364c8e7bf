"""`stratlog sink`, `stratlog view` and `stratlog replay`: the sink's front doors over one pipeline.

All take the options that change what the pipeline writes (`--stall-after`, `--tokenizer`),
so a replay given the live sink's options reproduces its findings byte for byte. `view`
attaches a dashboard to a running sink's `--publish` endpoint (a headless sink on a server,
SPEC §7): it shows, and logs into its own folder, what reached it.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from stratlog.protocol import RecordingWriter
from stratlog.protocol.curve import ClientKeys, KeyFileError, ServerKeys, require_secure_bind
from stratlog.sink.audio_clips import AudioClips
from stratlog.sink.backlog import DEFAULT_BACKLOG_BYTES
from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.fanout import FramePublisher, FrameSubscriber
from stratlog.sink.log_files import make_log_dir
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.receiver import DEFAULT_BIND, FrameReceiver
from stratlog.sink.report.reporter import Reporter, parse_targets
from stratlog.sink.replay import ReplayPlayer, replay_recording
from stratlog.sink.run_summary import FAIL_ON_EXIT_CODE, alarm_line, fails_on
from stratlog.sink.resume import previous_recording, read_previous_stream
from stratlog.sink.service import SinkService, collect_garbage_less_often
from stratlog.web_view import DEFAULT_WEB, parse_web_address, serve_web


JOIN_TIMEOUT_S = 5.0
"""How long a closed dashboard waits for its background thread to end before the command exits."""


@contextmanager
def running_beside(target: Callable[[], object], stop: Callable[[], object], *, name: str) -> Iterator[None]:
    """Runs `target` in a daemon thread for the body of the `with`, which runs the dashboard:
    Textual must own the main thread, so the sink's receiving loop (or a replay) goes beside it.
    On the way out, an error included, `stop()` asks the thread to end and it is joined for at
    most JOIN_TIMEOUT_S: closing the dashboard never hangs on a stuck loop."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop()
        thread.join(timeout=JOIN_TIMEOUT_S)


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_analysis_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that change what the pipeline writes (sink, view, replay and train)."""
    parser.add_argument("--tokenizer", default=None, help="Tokenizer folder or tokenizer.json (default: the one named by the run).")
    parser.add_argument("--stall-after", type=positive_float, default=None, metavar="SECONDS",
                        help="Report a rank as stalled after this many seconds without a message "
                             "(default: 3 x the run's heartbeat interval). Replay with the same value as the live sink.")
    parser.add_argument("--rotate-mb", type=positive_float, default=None, metavar="MB",
                        help="Start a new log file (NAME.1, NAME.2, ...) and recording file past this size (default: never).")


def add_pipeline_arguments(parser: argparse.ArgumentParser, *, dashboard_by_default: bool = False) -> None:
    """Options shared by sink, view and replay: what the pipeline writes, the display, --fail-on."""
    add_analysis_arguments(parser)
    if dashboard_by_default:
        parser.add_argument("--headless", action="store_true",
                            help="No dashboard: WARN/FAIL lines and the summary in this terminal (default: the dashboard).")
    else:
        parser.add_argument("--tui", action="store_true", help="Show the dashboard (it ends on the run summary).")
        parser.add_argument("--headless", action="store_true", help="No dashboard (the default; for scripts and servers).")
    add_fail_on_argument(parser)


def add_report_argument(parser: argparse.ArgumentParser) -> None:
    """--report-to, for sink and replay (a replay exports a recording after the fact)."""
    parser.add_argument("--report-to", type=_targets, default=[], metavar="TARGETS",
                        help="Also write the run to tensorboard and/or wandb (comma-separated), from the sink's own "
                             "threads: <log-dir>/tensorboard/<run id>/, <log-dir>/wandb/ (offline unless WANDB_MODE "
                             "says otherwise). Needs the extra: pip install 'stratlog[tensorboard]' / 'stratlog[wandb]'.")


def add_audio_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio-tokenizer", type=Path, default=None, metavar="DIR",
                        help="The run's audio tokenizer folder: each capture's reference, target and predicted codes are "
                             "decoded to WAV files in <log-dir>/audio/ (in a child process of the sink), linked from "
                             "strategic_log.txt.")


def make_audio_clips(args: argparse.Namespace, log_dir: Path) -> AudioClips | None:
    from stratlog.clip_decoding import audio_clips

    return audio_clips(args.audio_tokenizer, log_dir) if args.audio_tokenizer else None


def _targets(text: str) -> list[str]:
    try:
        return parse_targets(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def make_reporter(args: argparse.Namespace, log_dir: Path) -> Reporter | None:
    return Reporter.for_targets(args.report_to, log_dir) if args.report_to else None


def add_fail_on_argument(parser: argparse.ArgumentParser) -> None:
    """--fail-on, shared with the demo: the exit code a script or CI reads."""
    parser.add_argument("--fail-on", choices=("warn", "fail"), default=None,
                        help=f"Exit with code {FAIL_ON_EXIT_CODE} when any check reached this severity or worse "
                             "(default: off; the exit code does not depend on findings).")


def print_alarm(finding) -> None:
    """A headless sink's live line for a check that turned WARN or FAIL."""
    print(alarm_line(finding), flush=True)


def report_end(pipeline: SinkPipeline, fail_on: str | None) -> int:
    """Prints the end-of-run summary (after the pipeline closed, so the logs are complete) and
    returns the exit code --fail-on asks for: FAIL_ON_EXIT_CODE, or 0."""
    print(pipeline.summary_text(), flush=True)
    return FAIL_ON_EXIT_CODE if fails_on(pipeline.summary, fail_on) else 0


def add_sink_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default=DEFAULT_BIND, help=f"ZeroMQ endpoint to bind (default {DEFAULT_BIND}; port 0 picks one).")
    parser.add_argument("--log-dir", type=Path, required=True,
                        help="Folder for strategic_log.txt, findings.jsonl, metrics.jsonl, events.jsonl.")
    parser.add_argument("--record", type=Path, default=None, help="Recording file (default: <log-dir>/stream.stratrec).")
    parser.add_argument("--publish", default=None, metavar="ADDR",
                        help="Also re-publish every received frame on this PUB endpoint for extra viewers (lossy: "
                             "viewers miss frames sent before they subscribe; default: off).")
    parser.add_argument("--exit-after-run", action="store_true",
                        help="Stop once every rank of the run has sent its run end or stalled (killed without one).")
    parser.add_argument("--address-file", type=Path, default=None, help="Write the bound address here once listening.")
    parser.add_argument("--curve-secret", type=Path, default=None, metavar="FILE",
                        help="The sink's CURVE key pair (NAME.key_secret from `stratlog keys`): ranks and viewers must "
                             "then connect with CURVE; required to bind beyond loopback unless --insecure.")
    parser.add_argument("--curve-clients", type=Path, default=None, metavar="DIR",
                        help="Folder of the public keys (*.key) of the ranks and viewers let in (with --curve-secret); "
                             "other connections are refused and counted (events.jsonl, summary).")
    parser.add_argument("--insecure", action="store_true",
                        help="Allow --bind/--publish beyond loopback without CURVE: anyone who reaches the port can "
                             "send frames or read the run.")
    parser.add_argument("--backlog-mb", type=positive_float, default=DEFAULT_BACKLOG_BYTES / 2**20, metavar="MB",
                        help="Messages received but not yet handled are held up to this size; past it the sink drops "
                             "and counts them (events.jsonl, dashboard) instead of growing (default: %(default)g).")
    add_report_argument(parser)
    add_audio_argument(parser)
    add_pipeline_arguments(parser)


def default_recording_path(log_dir: Path) -> Path:
    """stream.stratrec, or a timestamped name when a previous run's recording is there."""
    path = log_dir / "stream.stratrec"
    return path if not path.exists() else log_dir / time.strftime("stream-%Y%m%d-%H%M%S.stratrec")


def rotate_bytes(args: argparse.Namespace) -> int | None:
    return int(args.rotate_mb * 1024 * 1024) if args.rotate_mb else None


def server_keys(args: argparse.Namespace) -> ServerKeys | None:
    """The sink's CURVE keys, checked, or None; every endpoint beyond loopback needs them or --insecure."""
    if (args.curve_secret is None) != (args.curve_clients is None):
        raise KeyFileError("--curve-secret and --curve-clients go together: the sink's key pair and the folder of "
                           "the client keys it lets in")
    keys = ServerKeys.load(args.curve_secret, args.curve_clients) if args.curve_secret is not None else None
    for option, endpoint in (("--bind", args.bind), ("--publish", args.publish)):
        if endpoint:
            require_secure_bind(endpoint, secured=keys is not None, insecure=args.insecure, option=option)
    return keys


def run_sink(args: argparse.Namespace) -> int:
    keys = server_keys(args)
    make_log_dir(args.log_dir)
    receiver = FrameReceiver(args.bind, keys=keys)
    recorder = RecordingWriter(args.record or default_recording_path(args.log_dir), rotate_bytes=rotate_bytes(args))
    publisher = FramePublisher(args.publish, keys=keys) if args.publish else None
    pipeline = SinkPipeline(args.log_dir, recorder=recorder, tokenizer_path=args.tokenizer, stall_after_s=args.stall_after,
                            rotate_bytes=rotate_bytes(args), publisher=publisher,
                            on_alarm=None if args.tui else print_alarm, reporter=make_reporter(args, args.log_dir),
                            audio_clips=make_audio_clips(args, args.log_dir))
    previous = previous_recording(args.log_dir, Path(recorder.paths[0]))
    resumed = read_previous_stream(previous) if previous is not None else None
    if resumed is not None:  # this folder's previous sink was killed or restarted mid-run: go on from it
        pipeline.resume(resumed, time.time())
    service = SinkService(receiver, pipeline, backlog_bytes=int(args.backlog_mb * 2**20))
    published = f"; publishing on {publisher.address}" if publisher else ""
    secured = f" (CURVE: clients listed in {args.curve_clients})" if keys else ""
    print(f"sink listening on {receiver.address}{secured}; logs in {args.log_dir}{published}", flush=True)
    if args.address_file:
        args.address_file.write_text(receiver.address)
    collect_garbage_less_often()
    return _serve(service, tui=args.tui, source=f"live {receiver.address}", until_run_end=args.exit_after_run,
                  fail_on=args.fail_on)


def _serve(service: SinkService, *, tui: bool, source: str, until_run_end: bool, fail_on: str | None) -> int:
    """Run `service` headless in this thread, or in a thread beside the dashboard until it closes."""
    try:
        if tui:
            from stratlog.tui.app import DashboardApp

            model = DashboardModel.attach(service.pipeline)  # before the first frame: the history starts there
            ended = threading.Event()

            def serve() -> None:
                service.run(until_run_end=until_run_end)
                ended.set()

            app = DashboardApp(model, source=source)
            app.show_summary_when(ended.is_set, service.pipeline.summary_text)  # --exit-after-run: the run ended
            with running_beside(serve, service.stop, name="sink-receiver"):
                app.run()
        else:
            signal.signal(signal.SIGTERM, lambda *_: service.stop())
            service.run(until_run_end=until_run_end)
    except KeyboardInterrupt:
        pass
    finally:
        if service.close_grace_s and not service.pipeline.state.all_settled:
            print(f"waiting up to {service.close_grace_s:g} s for the ranks' run ends (Ctrl-C: stop now)", flush=True)
        service.close()
    return report_end(service.pipeline, fail_on)


def add_view_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", help="A running sink's --publish endpoint, e.g. tcp://train-host:5556.")
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="Where the viewer logs what reached it (default: a temporary folder, removed when the "
                             "viewer exits); the sink's own logs stay the complete record.")
    parser.add_argument("--exit-after-run", action="store_true",
                        help="Stop once every rank of the run has sent its run end or stalled (killed without one).")
    parser.add_argument("--sink-key", type=Path, default=None, metavar="FILE",
                        help="The sink's public CURVE key (its NAME.key), for a sink started with --curve-secret.")
    parser.add_argument("--client-key", type=Path, default=None, metavar="FILE",
                        help="This viewer's CURVE key pair (NAME.key_secret) whose public key the sink lists.")
    parser.add_argument("--web", nargs="?", const=parse_web_address(DEFAULT_WEB), type=parse_web_address,
                        default=None, metavar="HOST:PORT",
                        help=f"Serve the dashboard to a browser instead of this terminal (default address {DEFAULT_WEB}: "
                             "loopback; each tab is a viewer of its own). Needs pip install 'stratlog[web]'.")
    parser.add_argument("--web-insecure", action="store_true",
                        help="Allow --web beyond loopback: anyone who reaches the port sees the run (no login).")
    add_pipeline_arguments(parser, dashboard_by_default=True)


def run_view(args: argparse.Namespace) -> int:
    if args.web is not None:
        return serve_web(args)
    if (args.sink_key is None) != (args.client_key is None):
        raise KeyFileError("--sink-key and --client-key go together: the sink's public key and this viewer's key pair")
    keys = ClientKeys.load(args.sink_key, args.client_key) if args.sink_key is not None else None
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="stratlog-view-"))
    subscriber = FrameSubscriber(args.address, keys=keys)
    pipeline = SinkPipeline(log_dir, tokenizer_path=args.tokenizer, stall_after_s=args.stall_after,
                            rotate_bytes=rotate_bytes(args), joined_mid_stream=True,
                            on_alarm=print_alarm if args.headless else None)
    print(f"viewing {args.address} (frames sent before this viewer subscribed are not shown; pass --tokenizer "
          f"to decode tokens when the run started earlier); the viewer's logs in {log_dir}", flush=True)
    try:
        service = SinkService(subscriber, pipeline, close_grace_s=0)  # a viewer closes at once: the sink keeps the record
        return _serve(service, tui=not args.headless, source=f"view {args.address}",
                      until_run_end=args.exit_after_run, fail_on=args.fail_on)
    finally:
        if args.log_dir is None:  # the sink's own logs are the record; a viewer's temporary copy goes
            shutil.rmtree(log_dir, ignore_errors=True)
            print(f"removed the viewer's temporary logs in {log_dir} (pass --log-dir to keep them)", flush=True)


DAMAGE_EXIT_CODE = 4
"""`stratlog replay`'s exit code when damage lost records (or any damage, with --strict)."""


def report_damage(damage: list, *, strict: bool) -> bool:
    """One line per skipped byte range; True when the replay must fail: damage lost records
    written whole (a torn last record is what a killed sink leaves, an error only with `strict`)."""
    for skipped in damage:
        print(f"warning: {skipped.path}: skipped {skipped.length} bytes at offset {skipped.offset}: {skipped.reason}",
              file=sys.stderr)
    failing = [skipped for skipped in damage if strict or not skipped.torn_tail]
    if failing:
        print(f"error: the recording is damaged: {len(failing)} damaged byte ranges skipped, their records lost",
              file=sys.stderr)
    return bool(failing)


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", type=Path, help="A recording written by the sink (rotated parts are read too).")
    parser.add_argument("--log-dir", type=Path, default=None, help="Where to write the logs (default: <recording>.replay/).")
    parser.add_argument("--speed", default=None,
                        help="Playback speed factor, or 'max' for as fast as possible (default: max; with --tui 1x "
                             "after a pause on the first capture: space plays, + and - change the speed, s restarts).")
    parser.add_argument("--strict", action="store_true",
                        help=f"Exit with code {DAMAGE_EXIT_CODE} on any damage, a torn last record included "
                             "(default: only when damage lost records written whole).")
    add_report_argument(parser)
    add_audio_argument(parser)
    add_pipeline_arguments(parser)


def parse_speed(text: str | None, *, tui: bool) -> float | None:
    if text is None:
        return 1.0 if tui else None
    if text == "max":
        return None
    try:
        return positive_float(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise ValueError(f"--speed must be a number > 0 or 'max', got {text!r}") from None


def _replay_with_dashboard(player: ReplayPlayer, recording: Path) -> bool:
    """Plays `player` under the dashboard, which ends on the run summary once the replay is over;
    True when the user asked to restart it."""
    from stratlog.tui.app import RESTART_REPLAY, DashboardApp

    model = DashboardModel.attach(player.pipeline)
    app = DashboardApp(model, source=f"replay {recording.name}", player=player)
    app.show_summary_when(lambda: player.status().finished, player.pipeline.summary_text)
    stop = threading.Event()
    with running_beside(functools.partial(player.run, stop), stop.set, name="replay"):
        return app.run() == RESTART_REPLAY


def run_replay(args: argparse.Namespace) -> int:
    if not args.recording.is_file():
        print(f"error: recording not found: {args.recording}", file=sys.stderr)
        return 2
    try:
        speed = parse_speed(args.speed, tui=args.tui)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    log_dir = args.log_dir or args.recording.with_name(args.recording.name + ".replay")
    while True:
        pipeline = SinkPipeline(log_dir, tokenizer_path=args.tokenizer, stall_after_s=args.stall_after,
                                rotate_bytes=rotate_bytes(args), on_alarm=None if args.tui else print_alarm,
                                reporter=make_reporter(args, log_dir), audio_clips=make_audio_clips(args, log_dir))
        try:
            if args.tui:
                player = ReplayPlayer(args.recording, pipeline, speed=speed, pause_after_first_capture=args.speed is None)
                if _replay_with_dashboard(player, args.recording):
                    continue  # `s`: again from the start, a new replay appended to the same logs
                damage = player.damage  # what it skipped up to where the dashboard was closed
            else:
                damage = replay_recording(args.recording, pipeline, speed=speed).damage
            lost_records = report_damage(damage, strict=args.strict)
        finally:
            pipeline.close()
        break
    print(f"replayed {pipeline.state.messages} messages; logs in {log_dir}")
    exit_code = report_end(pipeline, args.fail_on)
    return DAMAGE_EXIT_CODE if lost_records else exit_code
