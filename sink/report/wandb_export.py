"""`--report-to wandb`: one W&B run per training run, under <log-dir>/wandb/.

Through the W&B SDK (extra `stratlog[wandb]`), offline unless WANDB_MODE says otherwise
(`wandb sync <log-dir>/wandb/offline-run-*` uploads later; WANDB_MODE=online streams as the sink
receives), in the project WANDB_PROJECT (default "stratlog"). The W&B run's id is the training
run's id and its config the run start's training arguments; the decoded WAV files
(`--audio-tokenizer`) are logged as wandb.Audio. Every record carries "step", the
x-axis of every chart, so ranks' records may arrive in any order. The SDK talks to its own
service process and may block when that process stops answering: that is why it runs on a
hand-off thread (`sink.report.handoff`), never on the sink's. W&B's exit hook waits for that
service too, so a sink whose closing gave up on a stopped service would never exit: `abandon`
then kills the service process this sink started (found among its children in /proc, Linux);
what W&B had not written is lost, and counted as dropped or unwritten in events.jsonl.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from stratlog.sink.report.records import Clips, Record, RunClosed, RunOpened, Scalars, Texts

DEFAULT_PROJECT = "stratlog"
SERVICE_PROGRAM = b"wandb-core"


def service_pids() -> list[int]:
    """This process's W&B service processes (its children running wandb-core); none without /proc."""
    pids = []
    tasks = Path(f"/proc/{os.getpid()}/task")
    for task in tasks.iterdir() if tasks.is_dir() else ():
        for child in (task / "children").read_text().split():
            try:
                if SERVICE_PROGRAM in Path(f"/proc/{child}/cmdline").read_bytes():
                    pids.append(int(child))
            except OSError:  # it ended meanwhile
                continue
    return pids


class WandbWriter:
    name = "wandb"

    def __init__(self, root: Path):
        """`root`: the sink's log folder; W&B writes its runs to root/wandb/."""
        import wandb  # the extra, only when --report-to asks for it

        self.root = root
        self._wandb = wandb
        self._runs: dict[str, object] = {}

    def write(self, record: Record) -> None:
        if isinstance(record, RunClosed):
            if (run := self._runs.pop(record.run_id, None)) is not None:
                run.finish()
            return
        if isinstance(record, RunOpened):
            run = self._run(record.run_id)
            run.config.update(record.config, allow_val_change=True)
        elif isinstance(record, (Scalars, Texts)):
            self._run(record.run_id).log({**record.values, "step": record.step})
        elif isinstance(record, Clips):
            self._run(record.run_id).log({**{tag: self._wandb.Audio(str(path)) for tag, path in record.values.items()},
                                          "step": record.step})

    def _run(self, run_id: str):
        run = self._runs.get(run_id)
        if run is None:
            self.root.mkdir(parents=True, exist_ok=True)
            settings = self._wandb.Settings(silent=True, console="off", disable_git=True, save_code=False,
                                            x_disable_stats=True, x_disable_machine_info=True)
            run = self._runs[run_id] = self._wandb.init(
                project=os.environ.get("WANDB_PROJECT", DEFAULT_PROJECT), id=run_id, name=run_id, dir=self.root,
                mode=os.environ.get("WANDB_MODE", "offline"), reinit="create_new", settings=settings)
            run.define_metric("step")
            run.define_metric("*", step_metric="step")
        return run

    def abandon(self) -> None:
        for pid in service_pids():
            try:
                os.kill(pid, signal.SIGKILL)  # a stopped process too: SIGKILL needs no SIGCONT
            except ProcessLookupError:
                pass

    def close(self) -> None:
        for run in self._runs.values():
            run.finish()
        self._runs.clear()
