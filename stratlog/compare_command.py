"""`stratlog compare LOGDIR...`: the key figures of several runs side by side, from their logs.

It reads only what the sink wrote (metrics.jsonl, findings.jsonl), so it compares live runs,
replays and runs from other machines alike. A log folder may hold several runs (a sink that saw
more than one): each is a column. Figures per run: the last step, the final losses (the last
value each rank logged, averaged over ranks), the conditioning effect (the zero-shot check's
latest value per rank, averaged, and its severity), SIM where the sink scored it (audio/sim.jsonl,
`--audio-tokenizer` with stratlog[voice]: the mean SIM(reference, prediction) of the run's last
SIM_WINDOW captures beside its ceiling SIM(reference, target), the window the sim_trend check
judges), and per check how many WARN and FAIL findings the run had.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from stratlog.sink.audio_clips import FOLDER as AUDIO_FOLDER
from stratlog.sink.audio_clips import SIM_FILE
from stratlog.sink.thresholds import SIM_WINDOW

LOSSES = ("loss", "text_loss", "audio_loss")
"""The final losses shown, in this order."""
SEVERITY_ORDER = ("OK", "PENDING", "WARN", "FAIL")
NOT_MEASURED = "—"


class CompareError(Exception):
    """A folder that holds no sink logs: the user's to fix."""


@dataclass
class RunFigures:
    label: str
    last_step: int = 0
    final: dict[str, dict[int, float]] = field(default_factory=dict)
    """Loss name -> rank -> its last value."""
    effect: dict[int, float] = field(default_factory=dict)
    """Rank -> its latest conditioning effect."""
    effect_severity: str = ""
    sim: list[dict] = field(default_factory=list)
    """The run's SIM rows (audio/sim.jsonl), in the order they were scored."""
    problems: Counter = field(default_factory=Counter)
    """(check, severity) -> findings, for WARN and FAIL."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log_dirs", nargs="+", type=Path, metavar="LOGDIR",
                        help="Log folders written by `stratlog sink`, `train`, `demo` or `replay`.")


def read_runs(log_dir: Path) -> list[RunFigures]:
    metrics, findings = log_dir / "metrics.jsonl", log_dir / "findings.jsonl"
    if not metrics.is_file() and not findings.is_file():
        raise CompareError(f"{log_dir}: no metrics.jsonl or findings.jsonl (not a stratlog log folder)")
    runs: dict[str, RunFigures] = {}

    def run(run_id: str | None) -> RunFigures:
        key = run_id or ""
        if key not in runs:
            runs[key] = RunFigures(f"{log_dir.name}:{key[:8]}" if key else log_dir.name)
        return runs[key]

    for record in _records(metrics):
        figures = run(record.get("run_id"))
        figures.last_step = max(figures.last_step, int(record.get("step", 0)))
        for name in LOSSES:
            if isinstance(record.get(name), (int, float)):
                figures.final.setdefault(name, {})[record.get("rank", 0)] = float(record[name])
    for finding in _records(findings):
        if finding.get("run_id") is None:
            continue  # about the sink itself, not a run
        figures = run(finding["run_id"])
        if finding.get("step") is not None:
            figures.last_step = max(figures.last_step, int(finding["step"]))
        check = f"{finding.get('analysis')}.{finding.get('check')}"
        if check == "zero_shot.conditioning_effect":
            if isinstance(finding.get("value"), (int, float)):
                figures.effect[finding.get("rank", 0)] = float(finding["value"])
            figures.effect_severity = finding.get("severity", "")
        if finding.get("severity") in ("WARN", "FAIL"):
            figures.problems[(check, finding["severity"])] += 1
    for row in _records(log_dir / AUDIO_FOLDER / SIM_FILE):
        if row.get("run_id") is not None:
            run(row["run_id"]).sim.append(row)
    return list(runs.values())


def _records(path: Path) -> list[dict]:
    """A JSON-lines log; a line cut short by a killed sink is skipped, not fatal."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _mean(by_rank: dict[int, float], spec: str = ".4f") -> str:
    return f"{sum(by_rank.values()) / len(by_rank):{spec}}" if by_rank else "-"


def _sim(rows: list[dict]) -> str:
    """The last SIM_WINDOW captures' mean SIM(reference, prediction) and its ceiling."""
    def last_mean(key: str) -> float | None:
        values = [float(row[key]) for row in rows if isinstance(row.get(key), (int, float))][-SIM_WINDOW:]
        return sum(values) / len(values) if values else None

    predicted, ceiling = last_mean("sim_reference_predicted"), last_mean("sim_reference_target")
    if predicted is None:
        return NOT_MEASURED
    return f"{predicted:.3f}" + (f" (ceiling {ceiling:.3f})" if ceiling is not None else "")


def table(runs: list[RunFigures]) -> str:
    rows = [("run", [figures.label for figures in runs]),
            ("last step", [str(figures.last_step) for figures in runs])]
    rows += [(f"final {name}", [_mean(figures.final.get(name, {})) for figures in runs]) for name in LOSSES]
    rows.append(("conditioning effect", [f"{_mean(figures.effect, '.3g')} {figures.effect_severity}".strip()
                                         if figures.effect else "not measured" for figures in runs]))
    rows.append((f"SIM (last {SIM_WINDOW} captures)", [_sim(figures.sim) for figures in runs]))
    checks = sorted({check for figures in runs for check, _ in figures.problems})
    for check in checks:
        rows.append((check, [" ".join(f"{severity} {figures.problems[(check, severity)]}"
                                      for severity in ("FAIL", "WARN") if figures.problems[(check, severity)]) or "-"
                             for figures in runs]))
    if not checks:
        rows.append(("WARN/FAIL findings", ["none" for _ in runs]))
    widths = [max(len(name) for name, _ in rows)] + [max(len(cells[column]) for _, cells in rows)
                                                     for column in range(len(runs))]
    return "\n".join("  ".join([name.ljust(widths[0])] + [cell.ljust(width) for cell, width in zip(cells, widths[1:])]).rstrip()
                     for name, cells in rows)


def run_compare(args: argparse.Namespace) -> int:
    try:
        runs = [figures for log_dir in args.log_dirs for figures in read_runs(log_dir)]
    except CompareError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(table(runs))
    return 0
