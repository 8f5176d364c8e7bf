"""A trainer and a live sink side by side: what `stratlog demo` and `stratlog train` both run.

The sink runs in this process on a free local address (the dashboard in the foreground with
the receiving loop in a thread, or the receiving loop alone when headless); torchrun runs as a
child process group (stratlog.training_process) and is given that address. Both stop when
training ends, when the user quits the dashboard, or on SIGINT, SIGTERM or SIGHUP: the stop is
forwarded to torchrun's group (as SIGTERM, see stratlog.training_process), the sink keeps
receiving while the ranks stop (their run ends are the last thing they send), bounded by
STOP_GRACE_S, then drains and closes. The exit code
is the trainer's when it failed, else what --fail-on asks for.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stratlog.protocol import RecordingWriter
from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.log_files import make_log_dir
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.receiver import FrameReceiver
from stratlog.sink.service import SinkService
from stratlog.sink_commands import default_recording_path, print_alarm, report_end, running_beside
from stratlog.trainer_progress import last_progress_line
from stratlog.training_process import STOP_GRACE_S, TrainingProcess

DRAIN_AFTER_EXIT_S = 3.0
"""How long the sink keeps listening after torchrun exits, for run ends still in flight."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SIGNAL_CHECK_S = 0.25
"""How often the dashboard looks whether a stop signal came (then it closes)."""


@dataclass(frozen=True)
class WatchOptions:
    log_dir: Path
    trainer_log: Path | None
    """Where the trainer's output goes (with the dashboard); None: this terminal."""
    headless: bool = False
    keep_open: bool = False
    """Dashboard: stay open after training ends, until q (default: end on the run summary)."""
    fail_on: str | None = None
    tokenizer: str | None = None
    stall_after_s: float | None = None
    rotate_bytes: int | None = None


class _Watch:
    """When the watched run is over: training exited and the sink heard every rank end (or
    DRAIN_AFTER_EXIT_S passed); a stop that is overdue is enforced on the way."""

    def __init__(self, service: SinkService, training: TrainingProcess):
        self.service, self.training = service, training
        self.signal: int | None = None
        """The stop signal received, if any."""
        self._exited_at: float | None = None

    def on_signal(self, sig: int, _frame=None) -> None:
        self.signal = sig
        self.training.send_stop()

    def done(self) -> bool:
        if self.training.stop_overdue():
            self.training.kill()
        if self.training.exit_code() is None:
            return False
        if self._exited_at is None:
            self._exited_at = time.monotonic()
        return self.service.pipeline.state.finished or time.monotonic() - self._exited_at > DRAIN_AFTER_EXIT_S

    def wait_done(self) -> None:
        while not self.done():
            time.sleep(0.1)


@contextmanager
def forwarding_stop_signals(handler: Callable[[int, object], None]) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP go to `handler` for the body of the `with` (main thread only)."""
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def watch_training(command: Callable[[str], list[str]], options: WatchOptions) -> int:
    """Runs `command(sink address)` (torchrun, stratlog.training_process) beside a live sink;
    returns the exit code."""
    make_log_dir(options.log_dir)
    receiver = FrameReceiver("tcp://127.0.0.1:0")
    recorder = RecordingWriter(default_recording_path(options.log_dir), rotate_bytes=options.rotate_bytes)
    pipeline = SinkPipeline(options.log_dir, recorder=recorder, tokenizer_path=options.tokenizer,
                            stall_after_s=options.stall_after_s, rotate_bytes=options.rotate_bytes,
                            on_alarm=print_alarm if options.headless else None)
    service = SinkService(receiver, pipeline)
    model = None if options.headless else DashboardModel.attach(pipeline)  # before the first frame: history from the start
    training = TrainingProcess(command(receiver.address), log_file=options.trainer_log)
    watch = _Watch(service, training)
    if options.trainer_log:
        print(f"trainer output in {options.trainer_log}", flush=True)
    quit_early = False
    try:
        with forwarding_stop_signals(watch.on_signal):
            if options.headless:
                service.run(should_stop=watch.done)
            else:
                quit_early = _run_with_dashboard(model, watch, options)
    finally:
        code = training.stop()
        service.close()
    stopped = watch.signal is not None or quit_early
    print(f"{'stopped before the end; ' if stopped else ''}training exit code {code}; logs in {options.log_dir}"
          + (f"; trainer output in {options.trainer_log}" if options.trainer_log else ""), flush=True)
    findings_code = report_end(pipeline, options.fail_on)
    if stopped:  # by a signal, or by quitting the dashboard (130, as a Ctrl-C)
        return 128 + (watch.signal or signal.SIGINT)
    return code or findings_code


def _run_with_dashboard(model: DashboardModel, watch: _Watch, options: WatchOptions) -> bool:
    """Runs the dashboard until it closes, then the rest of the run beside the receiving thread;
    True when the user closed it while training still ran (the trainer is then stopped)."""
    from stratlog.tui.app import DashboardApp

    service, training = watch.service, watch.training
    app = DashboardApp(model, source=f"live {service.receiver.address}", status=training_status(model, watch, options))

    def exit_on_signal() -> None:
        if watch.signal is not None:
            app.exit()

    app.call_later(lambda: app.set_interval(SIGNAL_CHECK_S, exit_on_signal))
    if not options.keep_open:
        app.show_summary_when(watch.done, service.pipeline.summary_text)
    with running_beside(service.run, service.stop, name="sink-receiver"):
        app.run()
        quit_early = training.exit_code() is None and watch.signal is None
        if training.exit_code() is None:
            print(f"stopping the trainer (at most {STOP_GRACE_S:.0f} s)...", flush=True)
            training.send_stop()
        watch.wait_done()  # the receiving thread still runs: the ranks' run ends are logged
    return quit_early


def training_status(model: DashboardModel, watch: _Watch, options: WatchOptions) -> Callable[[], str]:
    """The header's word about training: the trainer's own progress line (and where its log
    is) until the first capture arrives, then whether it runs."""

    def status() -> str:
        code = watch.training.exit_code()
        if code is not None:
            return f"training finished (exit code {code})" + (" — press q to quit" if options.keep_open else "")
        if watch.signal is not None or watch.training.stop_requested_at is not None:
            return "stopping the trainer"
        if options.trainer_log and not any(history.captures for history in list(model.ranks.values())):
            progress = last_progress_line(options.trainer_log) or "loading"
            return f"trainer: {progress} (log: {options.trainer_log})"
        return "training running"

    return status
