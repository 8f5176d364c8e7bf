"""Diagnostic power: each planted fault (trainer/faults.py) makes the analysis that exists for it
raise FAIL naming the cause within a stated number of captures, on two seeds; a healthy run on
the same seeds, and at capture intervals 5 and 20, raises no WARN and no FAIL (what needs
training time is PENDING during its grace, counted in steps).

Run: ./run-tests tests/diagnostics  (slow: 22 real 2-rank CPU trainings, 15-55 s each on 2 cores).
Each test writes its outcome to tests/diagnostics/results/<case>-seed<seed>.json; then
`python -m tests.diagnostics.report` rebuilds README.md's "Diagnostic power" table from them.
Thresholds are sink/thresholds.py's, the same for every case and seed: nothing is tuned here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from stratlog.sink.thresholds import REFERENCE_GRACE_STEPS
from tests.diagnostics.runs import CAPTURE_INTERVAL, captures_up_to, run_demo

pytestmark = pytest.mark.slow

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = (42, 7)


@dataclass(frozen=True)
class Case:
    fault: str
    analysis: str
    check: str
    cause: str
    """Words the FAIL reason must contain: it names the cause."""
    within_captures: int
    """The FAIL must come at or before this capture (1 = the capture at step 1)."""
    max_steps: int = 20


CASES = [
    Case("shifted_labels", "output", "label_source", "shifted one position", 1),
    # The conditioning effect needs a model that has learned audio and the voice: healthy runs pass
    # 0.01 nats around step 100 (the demo's voices) to 170 (espeak-ng speech), and the rule waits for
    # step 200, capture 21 here (sink/thresholds.py REFERENCE_GRACE_STEPS).
    Case("silent_reference", "input", "reference_audio", "silence", 1),
    Case("silent_reference", "zero_shot", "conditioning_effect", "ignores the reference", 21, max_steps=200),
    Case("frozen_audio_ffn", "attention", "dual_ffn_gradient", "audio FFN of layers [0, 1, 2, 3] got no gradient", 1),
    Case("missing_reference_turn", "input", "reference_audio", "no reference audio", 1),
    Case("masked_audio_eos", "output", "audio_eos", "EOS is masked", 1),
    Case("no_backward", "metrics", "grad_norm", "backward", 1),
    Case("same_samples_all_ranks", "input", "rank_data", "same samples", 1),
    # Warmup is 5 steps (the demo's flags), so the first step at 1e-9 is step 6: capture 1 (step 1)
    # has passed and the FAIL comes from the per-step metrics before capture 2 (step 10).
    Case("tiny_lr_after_warmup", "metrics", "learning_rate", "after warmup", 2),
]

HEALTHY_STEPS = 200
"""The healthy run covers every fault case's detection window (and then some): 21 captures."""

HEALTHY_INTERVALS = {10: SEEDS, 5: (42,), 20: (42,)}
"""Capture interval -> the seeds of its healthy runs: both seeds at the interval the fault cases
use, one at 5 and 20 (issue 18: graces counted in captures made interval 5 FAIL at step 70)."""


def latest_effects(run) -> dict[int, float]:
    """Per rank, its last conditioning_effect value: after the grace, the mean of its latest 5 captures
    (the window the FAIL rule uses)."""
    effects = [f for f in run.findings if (f["analysis"], f["check"]) == ("zero_shot", "conditioning_effect") and f["value"] is not None]
    return {rank: value for rank, value in sorted({f["rank"]: f["value"] for f in sorted(effects, key=lambda f: f["step"])}.items())}


def _record(name: str, seed: int, record: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}-seed{seed}.json").write_text(json.dumps(record, indent=1) + "\n")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", CASES, ids=[f"{case.fault}-{case.analysis}" for case in CASES])
def test_planted_fault_is_caught(case, seed, demo_assets, process_group, tmp_path):
    run = run_demo(demo_assets, tmp_path, process_group, seed=seed, max_steps=case.max_steps, fault=case.fault)
    assert run.trainer_exit_code == 0, run.trainer_output
    fail = run.first_fail(case.analysis, case.check)
    _record(f"{case.fault}-{case.analysis}", seed, {
        "fault": case.fault, "seed": seed, "analysis": case.analysis, "check": case.check,
        "within_captures": case.within_captures, "max_steps": case.max_steps, "capture_interval": CAPTURE_INTERVAL,
        "caught": fail is not None, "step": fail and fail["step"],
        "captures": fail and captures_up_to(fail["step"]), "reason": fail and fail["reason"],
        "value": fail and fail["value"], "wall_s": round(run.wall_s, 1),
    })
    assert fail is not None, f"no FAIL from {case.analysis}/{case.check}; FAILs seen: " + str(
        [(f["analysis"], f["check"], f["step"]) for f in run.by_severity("FAIL")])
    assert captures_up_to(fail["step"]) <= case.within_captures, fail
    assert case.cause in fail["reason"], fail["reason"]


@pytest.mark.parametrize(("interval", "seed"), [(i, seed) for i, seeds in HEALTHY_INTERVALS.items() for seed in seeds])
def test_healthy_run_raises_no_warn_and_no_fail(interval, seed, demo_assets, process_group, tmp_path):
    run = run_demo(demo_assets, tmp_path, process_group, seed=seed, max_steps=HEALTHY_STEPS, capture_interval=interval)
    assert run.trainer_exit_code == 0, run.trainer_output
    alarms = run.by_severity("FAIL") + run.by_severity("WARN")
    name = "healthy" if interval == CAPTURE_INTERVAL else f"healthy-interval{interval}"
    _record(name, seed, {"fault": "", "seed": seed, "max_steps": HEALTHY_STEPS, "capture_interval": interval,
                         "fails": [(f["analysis"], f["check"], f["step"]) for f in run.by_severity("FAIL")],
                         "warns": sorted({(f["analysis"], f["check"]) for f in run.by_severity("WARN")}),
                         "pending": sorted({(f["analysis"], f["check"]) for f in run.by_severity("PENDING")}),
                         "findings": len(run.findings), "latest_effects": latest_effects(run),
                         "wall_s": round(run.wall_s, 1)})
    assert alarms == [], [(f["severity"], f["analysis"], f["check"], f["step"], f["reason"]) for f in alarms]
    assert run.by_severity("PENDING"), "a 200-step run from random weights has checks in their grace at first"
    effect = [f for f in run.findings if (f["analysis"], f["check"]) == ("zero_shot", "conditioning_effect")]
    assert max(f["step"] for f in effect if f["severity"] == "PENDING") < REFERENCE_GRACE_STEPS, "judged after it"
    assert {f["severity"] for f in effect if f["step"] >= REFERENCE_GRACE_STEPS} == {"OK"}
