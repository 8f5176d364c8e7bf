"""CURVE against a real `stratlog sink` (issue 18, item 6): a rank whose key the sink lists
delivers its run through the trainer's own publisher; a client with an unknown key and a
plain-text client are refused and counted (events.jsonl, findings, the summary), and nothing
they sent reaches any log or the recording. A sink bound beyond loopback without keys or
--insecure refuses to start. Run: ./run-tests tests/e2e/test_curve.py"""

from __future__ import annotations

import signal
import subprocess

import pytest
import zmq

from stratlog.protocol import Metrics, RunStart, encode
from stratlog.protocol.curve import HANDSHAKE_FAILURES, ClientKeys, create_key_pair
from stratlog.trainer.strategic.publisher import PublisherConfig, SnapshotPublisher
from tests.processes import read_jsonl, start_sink, stratlog_command, wait_for
from tests.sink.builders import MODEL_CONFIG, envelope

pytestmark = pytest.mark.slow


def stranger_sockets(context: zmq.Context, address: str, keys: ClientKeys) -> list[zmq.Socket]:
    """One PUSH with an unlisted key, one in plain text; both try to send a run of their own."""
    sockets = []
    for run_id, client_keys in (("stranger", keys), ("plaintext", None)):
        socket = context.socket(zmq.PUSH)
        socket.linger = 0
        if client_keys is not None:
            client_keys.secure(socket)
        socket.connect(address)
        socket.send(encode(Metrics(**envelope(run_id=run_id, seq=0, step=1), values={"loss": 9.9})), zmq.NOBLOCK)
        sockets.append(socket)
    return sockets


def test_only_listed_ranks_get_in_and_the_rest_are_refused_and_counted(tmp_path, process_group):
    keys = tmp_path / "keys"
    sink_public, sink_secret = create_key_pair(keys, "sink")
    _, rank_secret = create_key_pair(keys, "ranks")
    _, stranger_secret = create_key_pair(keys, "stranger")
    (keys / "clients").mkdir()
    (keys / "clients" / "ranks.key").write_bytes((keys / "ranks.key").read_bytes())
    log_dir = tmp_path / "logs"
    sink, address = start_sink(process_group, log_dir, tmp_path / "address", "--curve-secret", str(sink_secret),
                               "--curve-clients", str(keys / "clients"), stdout=subprocess.PIPE, text=True)

    context = zmq.Context()
    strangers = stranger_sockets(context, address, ClientKeys.load(sink_public, stranger_secret))
    publisher = SnapshotPublisher(PublisherConfig(address=address, run_id="authorised", rank=0, world_size=1,
                                                  curve=ClientKeys.load(sink_public, rank_secret)))
    try:
        publisher.send(RunStart, step=0, model_path="m", tokenizer_path="", audio_tokenizer_path="a",
                       model_config=dict(MODEL_CONFIG), training_args={}, hostname="h", pid=1, capture_interval=10,
                       capture_ranks=[], heartbeat_interval_s=2.0)
        for step in (1, 2, 3):
            publisher.send(Metrics, step=step, values={"loss": 1.0 / step})
        publisher.close()
        wait_for(lambda: len(read_jsonl(log_dir / "metrics.jsonl")) == 3, 30, what="the authorised rank's metrics")
        refused = lambda: {e["reason"] for e in read_jsonl(log_dir / "events.jsonl")  # noqa: E731
                           if e["event"] == "connection_refused"}
        wait_for(lambda: len(refused()) >= 2, 30, what="both strangers refused")
    finally:
        for socket in strangers:
            socket.close()
        context.term()
    sink.send_signal(signal.SIGTERM)
    summary, _ = sink.communicate(timeout=30)
    assert sink.returncode == 0

    assert [row["run_id"] for row in read_jsonl(log_dir / "metrics.jsonl")] == ["authorised"] * 3
    assert HANDSHAKE_FAILURES[zmq.EVENT_HANDSHAKE_FAILED_AUTH] in refused()  # the unknown key
    assert len(refused()) >= 2  # and the plain-text client, refused for another reason
    assert "connection_refused" in summary
    outputs = [*log_dir.iterdir()]
    assert any(path.suffix == ".stratrec" for path in outputs)
    for path in outputs:
        content = path.read_bytes()
        assert b"stranger" not in content and b"plaintext" not in content, path.name
    findings = [f for f in read_jsonl(log_dir / "findings.jsonl") if f["check"] == "connection_refused"]
    assert findings and all(f["severity"] == "WARN" for f in findings)


@pytest.mark.parametrize("option", ["--bind", "--publish"])
def test_a_bind_beyond_loopback_without_keys_or_insecure_refuses_to_start(tmp_path, option):
    endpoints = {"--bind": "tcp://127.0.0.1:0", "--publish": "tcp://127.0.0.1:0", option: "tcp://0.0.0.0:0"}
    log_dir = tmp_path / "logs"
    result = subprocess.run(stratlog_command("sink", "--log-dir", str(log_dir), "--headless",
                                             *[part for pair in endpoints.items() for part in pair]),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {option} tcp://0.0.0.0:0 ") and "--insecure" in lines[0]
    assert "Traceback" not in result.stderr and not log_dir.exists()


def test_insecure_allows_a_bind_beyond_loopback(tmp_path, process_group):
    sink = process_group.start(stratlog_command("sink", "--bind", "tcp://0.0.0.0:0", "--insecure", "--log-dir",
                                                str(tmp_path / "logs"), "--address-file", str(tmp_path / "address")))
    wait_for(lambda: (tmp_path / "address").is_file(), 60, what="the insecure sink to listen")
    assert sink.poll() is None
