"""A healthy run on a second, differently made data set raises no WARN and no FAIL: the demo's tiny
model trained for 200 steps on espeak-ng speech (tests/diagnostics/espeak_data.py) instead of the
demo's own synthetic voices, watched by a real sink, thresholds unchanged. What needs training time
is PENDING during its grace (sink/thresholds.py), never a WARN.

Run: ./run-tests tests/diagnostics/test_second_data_set.py  (slow: builds 480 clips, ~40 s, and
trains 2 CPU ranks for 200 steps, ~1 min on 2 cores). Skipped, saying so, without espeak-ng.
"""

from __future__ import annotations

import dataclasses

import pytest

from stratlog.sink.thresholds import REFERENCE_GRACE_STEPS
from tests.diagnostics.espeak_data import build_espeak_dataset, espeak_program
from tests.diagnostics.runs import CAPTURE_INTERVAL, run_demo
from tests.diagnostics.test_fault_detection import HEALTHY_STEPS, _record, latest_effects

pytestmark = pytest.mark.slow


def test_healthy_run_on_espeak_speech_raises_no_warn_and_no_fail(demo_assets, process_group, tmp_path):
    if espeak_program() is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng; .ci/run installs it where apt-get exists)")
    data_dir = tmp_path / "espeak-data"
    assets = dataclasses.replace(demo_assets, root=data_dir, train_data_file=build_espeak_dataset(data_dir))
    run = run_demo(assets, tmp_path / "run", process_group, seed=42, max_steps=HEALTHY_STEPS)
    assert run.trainer_exit_code == 0, run.trainer_output
    alarms = run.by_severity("FAIL") + run.by_severity("WARN")
    _record("healthy-espeak", 42, {"fault": "", "seed": 42, "max_steps": HEALTHY_STEPS, "data": "espeak-ng",
                                   "capture_interval": CAPTURE_INTERVAL,
                                   "fails": [(f["analysis"], f["check"], f["step"]) for f in run.by_severity("FAIL")],
                                   "warns": sorted({(f["analysis"], f["check"]) for f in run.by_severity("WARN")}),
                                   "findings": len(run.findings), "latest_effects": latest_effects(run),
                                   "wall_s": round(run.wall_s, 1)})
    assert alarms == [], [(f["severity"], f["analysis"], f["check"], f["step"], f["reason"]) for f in alarms]
    effect = [f for f in run.findings if (f["analysis"], f["check"]) == ("zero_shot", "conditioning_effect")]
    assert {f["severity"] for f in effect if f["step"] >= REFERENCE_GRACE_STEPS} == {"OK"}, "the voice is used"
