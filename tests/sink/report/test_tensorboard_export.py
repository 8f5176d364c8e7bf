"""`stratlog replay --report-to tensorboard`: the event files, read back with TensorBoard's own
reader, hold every metric of every step with the values metrics.jsonl has (issue 21)."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.processes import FIXTURES, read_jsonl, replay_demo, stratlog_command

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

NOT_METRICS = {"run_id", "rank", "step", "time"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, EventAccumulator]:
    log_dir = tmp_path_factory.mktemp("tb") / "logs"
    replay_demo(log_dir, "--report-to", "tensorboard")
    runs = list((log_dir / "tensorboard").iterdir())
    assert len(runs) == 1, runs  # one TensorBoard run per training run, its ranks as tags
    accumulator = EventAccumulator(str(runs[0]), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return log_dir, accumulator


def test_every_metric_of_every_step_is_in_the_event_files(exported):
    log_dir, accumulator = exported
    metrics = read_jsonl(log_dir / "metrics.jsonl")
    assert metrics
    expected: dict[str, list[tuple[int, float]]] = {}
    for record in metrics:  # the trainer's final summary is a second metrics record at the last step
        for name, value in record.items():
            if name not in NOT_METRICS:
                expected.setdefault(f"metrics/{name}/rank{record['rank']}", []).append((record["step"], value))
    scalar_tags = set(accumulator.Tags()["scalars"])
    assert set(expected) <= scalar_tags, set(expected) - scalar_tags
    for tag, points in expected.items():
        written = [(event.step, event.value) for event in accumulator.Scalars(tag)]
        assert [step for step, _ in written] == [step for step, _ in points], tag
        # TensorBoard stores a scalar as a 32-bit float
        np.testing.assert_allclose([value for _, value in written], np.float32([value for _, value in points]),
                                   rtol=1e-6, err_msg=tag)


def test_snapshots_and_findings_are_exported(exported):
    log_dir, accumulator = exported
    tags = accumulator.Tags()
    for rank in (0, 1):
        for name in ("codebook_loss_0", "codebook_accuracy_7", "text_loss", "audio_accuracy"):
            assert f"output/{name}/rank{rank}" in tags["scalars"]
        assert f"zero_shot/conditioning_effect/rank{rank}" in tags["scalars"]
    log = (log_dir / "strategic_log.txt").read_text()
    targets = accumulator.Tensors("output/target_text/rank0")
    assert [event.step for event in targets] == [1, 5, 10, 15, 20]
    first = tensor_util.make_ndarray(targets[0].tensor_proto).item().decode()
    # the human log shows the same decoded text, one line and cut at its width
    shown = first.replace("\\", "\\\\").replace("\n", "\\n")[:100]
    assert f'Decoded Target Text: "{shown}' in log
    counted = Counter((f["analysis"], f["check"], f["severity"]) for f in read_jsonl(log_dir / "findings.jsonl")
                      if f["severity"] in ("PENDING", "WARN", "FAIL") and f["run_id"])
    assert counted, "the demo recording has findings to count"
    for (analysis, check, severity), count in counted.items():
        assert accumulator.Scalars(f"findings/{analysis}.{check}/{severity}")[-1].value == count


def test_the_export_changes_nothing_the_sink_writes(exported, tmp_path):
    log_dir, _ = exported
    replay_demo(tmp_path / "plain")
    for name in ("strategic_log.txt", "findings.jsonl", "metrics.jsonl"):
        assert (tmp_path / "plain" / name).read_text().replace(str(tmp_path / "plain"), "") == \
            (log_dir / name).read_text().replace(str(log_dir), ""), name


def test_an_unknown_target_is_refused_by_name(tmp_path):
    done = subprocess.run(stratlog_command("replay", str(FIXTURES / "demo-20-steps.stratrec"), "--log-dir",
                                           str(tmp_path), "--report-to", "tensorboard,neptune"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "neptune" in done.stderr
