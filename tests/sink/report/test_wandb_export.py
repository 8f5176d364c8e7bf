"""`--report-to wandb` in offline mode (issue 21): the W&B run directory holds the metrics, and a
W&B service process stopped with SIGSTOP costs the sink a reported backlog, never a stall."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import struct
import threading
import time
from pathlib import Path

import pytest

from stratlog.protocol import Metrics, encode
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.report.reporter import Reporter
from stratlog.sink.report.wandb_export import service_pids
from tests.processes import read_jsonl, replay_demo, wait_for
from tests.sink.report.audio_captures import CAPTURES, export_captures
from tests.sink import builders

pytest.importorskip("wandb", reason="the wandb extra is not installed")
from wandb.proto import wandb_internal_pb2  # noqa: E402

pytestmark = pytest.mark.slow  # W&B starts its own service process: seconds per test
BLOCK = 32 * 1024
HEADER = 7


def history_rows(run_file: Path) -> list[dict]:
    """The logged rows of a W&B transaction log (run-ID.wandb): a 7-byte header (":W&B", key,
    version), then LevelDB's log format (32 KiB blocks of records with a 7-byte header:
    crc32, length, type full/first/middle/last) holding `Record` protos. wandb 0.31 ships no
    Python reader of its own (its Go service reads them), so the test reads the format itself."""
    data = run_file.read_bytes()
    assert data[:4] == b":W&B"
    rows, position, pending = [], HEADER, b""
    while position + HEADER <= len(data):
        if BLOCK - position % BLOCK < HEADER:  # a block's tail too short for a header is padding
            position += BLOCK - position % BLOCK
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, position)
        if kind == 0 and length == 0:  # zero padding at the end
            break
        pending += data[position + HEADER:position + HEADER + length]
        position += HEADER + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            if record.WhichOneof("record_type") == "history":
                rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                             for item in record.history.item})
    return rows


def run_files(log_dir: Path) -> list[Path]:
    return sorted(log_dir.glob("wandb/offline-run-*/run-*.wandb"))


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")


def test_the_offline_run_directory_holds_every_metric(tmp_path):
    log_dir = tmp_path / "logs"
    replay_demo(log_dir, "--report-to", "wandb")
    files = run_files(log_dir)
    assert len(files) == 1, files  # one W&B run per training run
    rows = history_rows(files[0])
    for record in read_jsonl(log_dir / "metrics.jsonl"):
        expected = {f"metrics/{name}/rank{record['rank']}": value for name, value in record.items()
                    if name not in ("run_id", "rank", "step", "time")}
        assert {**expected, "step": record["step"]} in [{key: row[key] for key in row if key in expected or key == "step"}
                                                       for row in rows], record
    assert any("output/target_text/rank0" in row for row in rows)
    closed = [event for event in read_jsonl(log_dir / "events.jsonl") if event["event"] == "report_closed"]
    assert closed and closed[0]["finished"] and not closed[0]["dropped"]


def test_a_stopped_wandb_service_costs_a_reported_backlog_not_a_stall(tmp_path):
    log_dir = tmp_path / "logs"
    reporter = Reporter.for_targets(["wandb"], log_dir, max_records=50)
    pipeline = SinkPipeline(log_dir, reporter=reporter)
    handoff = reporter.handoffs[0]
    run_id = "stopped-service"
    pipeline.handle(encode(builders.run_start(run_id=run_id)), time.time())
    wait_for(lambda: handoff.load().written >= 1, 60, what="the W&B run to start")
    services = service_pids()
    assert services, "wandb.init started no wandb-core service process"
    for pid in services:
        os.kill(pid, signal.SIGSTOP)
    steps = 3000
    try:
        def feed():
            for step in range(1, steps + 1):
                values = {f"value_{index}": step + index / 10 for index in range(8)}
                message = Metrics(**builders.envelope(run_id=run_id, step=step, seq=step), values=values)
                pipeline.handle(encode(message), time.time())
        feeder = threading.Thread(target=feed)
        feeder.start()
        feeder.join(timeout=120)  # liveness, not speed: a sink waiting on W&B would never get here
        assert not feeder.is_alive(), "the sink stalled behind the stopped W&B service"

        def backlog_reported() -> list[dict]:
            pipeline.tick()  # the live sink's idle tick looks at the exporters' queues
            pipeline.files.flush()
            return [event for event in read_jsonl(log_dir / "events.jsonl") if event["event"] == "report_backlog"]

        wait_for(backlog_reported, 60, what="the backlog report")
        backlog = backlog_reported()
        # the writer was held (a few hundred wandb.log calls went through before the SDK blocked)
        assert backlog[0]["target"] == "wandb" and backlog[0]["dropped"] > 0 and backlog[0]["written"] < steps
        metrics = read_jsonl(log_dir / "metrics.jsonl")
        assert [record["step"] for record in metrics] == list(range(1, steps + 1))  # logs went on, whole
        findings = [f for f in read_jsonl(log_dir / "findings.jsonl") if f["check"] == "wandb_backlog"]
        assert findings and findings[0]["severity"] == "WARN"
        assert "wandb_backlog" in (log_dir / "strategic_log.txt").read_text()

        pipeline.close()  # gives up on the stopped service after CLOSE_WAIT_S, and ends it
        closed = [event for event in read_jsonl(log_dir / "events.jsonl") if event["event"] == "report_closed"]
        assert not closed[0]["finished"] and closed[0]["dropped"] == handoff.load().dropped > 0
        # W&B's exit hook waits for its service: a stopped one left alive would keep the sink from exiting
        wait_for(lambda: not [pid for pid in services if running(pid)], 10, what="the W&B service to end")
    finally:
        for pid in services:
            if running(pid):
                os.kill(pid, signal.SIGCONT)


def running(pid: int) -> bool:
    """`pid` exists and is not a zombie (a killed child its parent has not reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_with_audio_tokenizer_each_captures_clips_and_sim_are_in_the_run(demo_assets, tmp_path, monkeypatch):
    """Each decoded WAV file is a wandb.Audio at its capture's step, kept in the run's media folder;
    with stratlog[voice] the capture's SIM scores are logged beside it. In a process of its own with
    a service of its own: the SIGSTOP test kills this process's, which WANDB_SERVICE names to children."""
    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    exporter = multiprocessing.get_context("spawn").Process(target=export_captures,
                                                             args=(demo_assets.audio_tokenizer_dir, tmp_path, ["wandb"]))
    exporter.start()
    exporter.join(120)
    assert exporter.exitcode == 0
    [run_file] = run_files(tmp_path)
    rows = history_rows(run_file)
    clips = sorted((tmp_path / "audio").glob("*.wav"))
    assert len(clips) == 3 * len(CAPTURES)
    for clip in clips:
        step, rank, sample, role = re.fullmatch(r"step(\d+)-rank(\d+)-sample(\d+)-(\w+)\.wav", clip.name).groups()
        tag = f"audio/sample{sample}_{role}/rank{rank}"  # the history row holds its fields as tag/field
        [logged] = [row for row in rows if f"{tag}/path" in row and row["step"] == int(step)]
        assert logged[f"{tag}/_type"] == "audio-file"
        assert (run_file.parent / "files" / logged[f"{tag}/path"]).read_bytes() == clip.read_bytes()
    sim_file = tmp_path / "audio" / "sim.jsonl"
    if not sim_file.is_file():
        pytest.skip("the optional extra is missing (no SIM scores): pip install 'stratlog[voice]'")
    for score in read_jsonl(sim_file):
        assert any(row.get(f"sim/reference_predicted/rank{score['rank']}") == score["sim_reference_predicted"]
                   and row["step"] == score["step"] for row in rows), score
