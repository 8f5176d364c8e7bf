"""What the sink hands to TensorBoard and W&B: plain records built from one message or finding.

Records are made on the sink's thread from what it has already decoded (the run's tokenizer
renders the target and predicted text, as in the human log) and are plain data, so a writer on
its own thread never touches the pipeline's state. Tags name the rank last
("metrics/loss/rank0"): one exported run per training run, its ranks side by side under one
name. A finding counts in `FindingCounts`: per check, how many WARN and FAIL findings the run
has had up to the finding's step. With `--audio-tokenizer` the decoding child's results add two
kinds: a capture's SIM scores (`sim_records`) and its WAV files once written (`clip_records`).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from stratlog.protocol import Metrics, OutputSnapshot, RunEnd, RunStart, ZeroShotSnapshot
from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.analysis.zero_shot import effects
from stratlog.sink.findings import FAIL, PENDING, WARN, Finding

V = TypeVar("V")

COUNTED_SEVERITIES = (PENDING, WARN, FAIL)
"""Finding counts are exported for these; OK is the normal state."""


@dataclass(frozen=True)
class Tagged(Generic[V]):
    """Values of one step of a run, by tag; the kind of value says which writer call takes them."""

    run_id: str
    step: int
    wall_time: float
    """The sender's time (a replay exports the run's own timing)."""
    values: dict[str, V]
    """Tag -> value."""


class Scalars(Tagged[float]):
    """Numbers: metrics, losses, accuracies, effects, finding counts."""


class Texts(Tagged[str]):
    """Decoded texts and the run's configuration."""


class Clips(Tagged[Path]):
    """A capture's decoded WAV files: the writer reads them on its own thread."""


@dataclass(frozen=True)
class RunOpened:
    """A run start: its configuration, for the exporter's run (W&B's config, TensorBoard's text)."""

    run_id: str
    config: dict


@dataclass(frozen=True)
class RunClosed:
    """Every rank of the run sent its run end: the exporter may finish the run."""

    run_id: str


Record = Scalars | Texts | Clips | RunOpened | RunClosed


def rank_tag(group: str, name: str, rank: int | None) -> str:
    return f"{group}/{name}/{'all' if rank is None else f'rank{rank}'}"


def message_records(message, context: RunContext, *, run_ended: bool = False) -> list[Record]:
    """What `message` exports: metrics, the output snapshot's losses, accuracies and text, the
    zero-shot snapshot's conditioning effect; a run start opens the run, the last rank's run end
    (`run_ended`) closes it."""
    if isinstance(message, RunStart):
        return [RunOpened(message.run_id, {"world_size": message.world_size, **dict(message.training_args)})]
    if isinstance(message, RunEnd):
        return [RunClosed(message.run_id)] if run_ended else []
    if isinstance(message, Metrics):
        return [_scalars(message, "metrics", message.values)]
    if isinstance(message, OutputSnapshot):
        return [_scalars(message, "output", _output_values(message)),
                Texts(message.run_id, message.step, message.time, {
                    rank_tag("output", "target_text", message.rank): context.render(message.target_text_ids.to_numpy()),
                    rank_tag("output", "predicted_text", message.rank): context.render(message.predicted_text_ids.to_numpy()),
                })]
    if isinstance(message, ZeroShotSnapshot):
        rows = effects(message)
        measured = rows[np.isfinite(rows)]
        if not measured.size:
            return []
        return [_scalars(message, "zero_shot", {"conditioning_effect": float(measured.mean()),
                                                "true_reference_loss": float(np.nanmean(message.true_reference_loss.to_numpy())),
                                                "swapped_reference_loss": float(np.nanmean(message.swapped_reference_loss.to_numpy()))})]
    return []


def sim_records(row: dict) -> list[Record]:
    """A SIM row of audio/sim.jsonl: SIM(reference, prediction) and its ceiling SIM(reference,
    target) at the capture's step. Rows come back from the decoder later than their capture:
    the time is when the sink got them."""
    values = {rank_tag("sim", name, row["rank"]): float(row[f"sim_{name}"])
              for name in ("reference_predicted", "reference_target") if isinstance(row.get(f"sim_{name}"), (int, float))}
    return [Scalars(row["run_id"], int(row["step"]), time.time(), values)] if values else []


def clip_records(folder: Path, decoded: dict) -> list[Record]:
    """A capture the decoder wrote (`AudioClips.take_decoded`): each file as "audio/sample<N>_<role>/rank<R>"."""
    return [Clips(decoded["run_id"], int(decoded["step"]), time.time(),
                  {rank_tag("audio", f"sample{decoded['sample']}_{role}", decoded["rank"]): Path(folder) / name
                   for role, name in decoded["files"].items()})]


def _output_values(message: OutputSnapshot) -> dict[str, float]:
    values = {"text_loss": message.text_loss, "audio_loss": message.audio_loss,
              "text_accuracy": message.text_accuracy, "audio_accuracy": message.audio_accuracy}
    for name, table in (("codebook_loss", message.codebook_losses), ("codebook_accuracy", message.codebook_accuracies)):
        for codebook, value in enumerate(table.to_numpy().reshape(-1).tolist()):
            values[f"{name}_{codebook}"] = value
    return values


def _scalars(message, group: str, values: dict[str, float]) -> Scalars:
    """Finite values only: NaN or inf is a finding in the logs, not a point on a chart."""
    return Scalars(message.run_id, message.step, message.time,
                   {rank_tag(group, name, message.rank): float(value) for name, value in values.items()
                    if isinstance(value, (int, float)) and math.isfinite(value)})


class FindingCounts:
    """Per run, check and severity, the PENDING, WARN and FAIL findings so far: a chart of when
    a check started to complain."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._last_step: dict[str, int] = {}

    def records(self, findings: list[Finding], wall_time: float) -> list[Record]:
        records = []
        for finding in findings:
            if finding.run_id is None or finding.severity not in COUNTED_SEVERITIES:
                continue
            key = (finding.run_id, f"{finding.analysis}.{finding.check}", finding.severity)
            self._counts[key] += 1
            step = finding.step if finding.step is not None else self._last_step.get(finding.run_id, 0)
            self._last_step[finding.run_id] = step
            records.append(Scalars(finding.run_id, step, wall_time,
                                   {f"findings/{key[1]}/{finding.severity}": float(self._counts[key])}))
        return records
