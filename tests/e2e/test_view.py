"""`stratlog view`: a viewer attached to a running sink's --publish endpoint, both real processes,
fed by a real PUSH sender. The viewer joins mid-stream (ZeroMQ's slow joiner drops what came
before its subscription settled), so it must not count those messages as gaps, and it stops with
the run. Run: ./run-tests tests/e2e/test_view.py"""

from __future__ import annotations

import signal
import subprocess

import zmq

from stratlog.protocol import RunEnd, encode
from tests.processes import free_address, read_jsonl, start_sink, stratlog_command, wait_for
from tests.sink.builders import envelope, metrics, run_start


def test_a_viewer_attaches_to_a_running_sink_and_stops_with_the_run(tmp_path, process_group):
    publish = free_address()
    sink, address = start_sink(process_group, tmp_path / "sink", tmp_path / "sink-address", "--publish", publish,
                               "--exit-after-run")
    viewer = process_group.start(stratlog_command("view", publish, "--headless", "--exit-after-run",
                                                  "--log-dir", str(tmp_path / "viewer")))
    context = zmq.Context()
    sender = context.socket(zmq.PUSH)
    sender.setsockopt(zmq.LINGER, 1000)
    sender.connect(address)
    try:
        single = {"world_size": 1}
        sender.send(encode(run_start(**single)))
        seq = 0

        def viewer_has_metrics():  # step-0 metrics until the viewer's subscription has settled
            nonlocal seq
            seq += 1
            probe = metrics(0, loss=9.0)
            probe.seq, probe.world_size = seq, 1
            sender.send(encode(probe))
            return read_jsonl(tmp_path / "viewer" / "metrics.jsonl")

        wait_for(viewer_has_metrics, 30, interval_s=0.05, what="the first frame at the viewer")
        first_metrics_seq = seq + 1
        for step in range(1, 4):
            sent = metrics(step, loss=5.0 - step)
            sent.seq, sent.world_size = seq + step, 1
            sender.send(encode(sent))
        sender.send(encode(RunEnd(**envelope(seq=seq + 4, step=3, **single), status="completed", messages_sent=seq + 4, messages_dropped=0)))
        assert viewer.wait(timeout=30) == 0
        assert sink.wait(timeout=30) == 0
    finally:
        sender.close()
        context.term()
    viewer_metrics = read_jsonl(tmp_path / "viewer" / "metrics.jsonl")
    assert [row["step"] for row in viewer_metrics if row["step"]] == [1, 2, 3] and first_metrics_seq > 1
    viewer_findings = read_jsonl(tmp_path / "viewer" / "findings.jsonl")
    assert not [f for f in viewer_findings if f["check"] == "sequence_gap"], "joining late is not a gap"
    assert [f["severity"] for f in viewer_findings if f["check"] == "run_end"] == ["OK"]
    sink_metrics = read_jsonl(tmp_path / "sink" / "metrics.jsonl")
    assert [row["step"] for row in sink_metrics if row["step"]] == [1, 2, 3]
    assert len(sink_metrics) == first_metrics_seq + 2 >= len(viewer_metrics)  # the sink has every probe too


def test_a_viewer_without_log_dir_removes_its_temporary_folder(tmp_path, process_group):
    viewer = process_group.start(stratlog_command("view", free_address(), "--headless"), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, env={"TMPDIR": str(tmp_path)})
    wait_for(lambda: list(tmp_path.glob("stratlog-view-*")), 30, what="the viewer's temporary folder")
    viewer.send_signal(signal.SIGTERM)
    output, _ = viewer.communicate(timeout=30)
    assert viewer.returncode == 0, output
    assert not list(tmp_path.glob("stratlog-view-*")) and "removed the viewer's temporary logs" in output
