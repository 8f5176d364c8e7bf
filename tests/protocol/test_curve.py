"""CURVE keys and the bind rule (protocol.curve): key files in ZeroMQ's certificate format with the
secret one private, clear errors for wrong files, and which endpoints count as loopback.
Run: ./run-tests tests/protocol/test_curve.py"""

from __future__ import annotations

import stat
import time

import pytest
import zmq

from stratlog.protocol.curve import (
    ClientKeys,
    InsecureBindError,
    KeyFileError,
    SecuredServer,
    ServerKeys,
    create_key_pair,
    is_loopback,
    require_secure_bind,
)
from stratlog.sink.fanout import FramePublisher, FrameSubscriber


def test_a_key_pair_is_two_certificate_files_and_the_secret_one_is_private(tmp_path):
    public, secret = create_key_pair(tmp_path / "keys", "sink")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert ClientKeys.load(public, secret).server_public == ClientKeys.load(public, secret).public
    with pytest.raises(KeyFileError, match="never overwritten"):
        create_key_pair(tmp_path / "keys", "sink")


def test_wrong_key_files_are_named_in_the_error(tmp_path):
    public, secret = create_key_pair(tmp_path, "sink")
    with pytest.raises(KeyFileError, match="no secret key"):
        ClientKeys.load(public, public)
    with pytest.raises(KeyFileError, match="not found"):
        ClientKeys.load(tmp_path / "absent.key", secret)
    (tmp_path / "junk.key").write_text("not a certificate")
    with pytest.raises(KeyFileError, match="junk.key"):
        ClientKeys.load(tmp_path / "junk.key", secret)
    with pytest.raises(KeyFileError, match="no client public keys"):
        ServerKeys.load(secret, tmp_path / "empty")


@pytest.mark.parametrize("endpoint, loopback", [
    ("tcp://127.0.0.1:5560", True), ("tcp://127.1.2.3:0", True), ("tcp://localhost:5560", True),
    ("tcp://[::1]:5560", True), ("ipc:///tmp/sink", True), ("inproc://sink", True),
    ("tcp://0.0.0.0:5560", False), ("tcp://*:5560", False), ("tcp://10.0.0.5:5560", False),
    ("tcp://eth0:5560", False), ("tcp://train-host:5560", False), ("tcp://[::]:5560", False),
])
def test_only_loopback_endpoints_need_no_keys(endpoint, loopback):
    assert is_loopback(endpoint) is loopback
    if loopback:
        require_secure_bind(endpoint, secured=False, insecure=False, option="--bind")
    else:
        with pytest.raises(InsecureBindError, match="--insecure"):
            require_secure_bind(endpoint, secured=False, insecure=False, option="--bind")
        require_secure_bind(endpoint, secured=True, insecure=False, option="--bind")
        require_secure_bind(endpoint, secured=False, insecure=True, option="--bind")


def test_the_publisher_serves_only_listed_viewers(tmp_path):
    """--publish is authenticated like the sink's port: a listed viewer reads the frames, a plain
    subscriber and one with an unlisted key read nothing."""
    sink_public, sink_secret = create_key_pair(tmp_path, "sink")
    _, viewer_secret = create_key_pair(tmp_path, "viewer")
    _, stranger_secret = create_key_pair(tmp_path, "stranger")
    clients = tmp_path / "clients"
    clients.mkdir()
    (clients / "viewer.key").write_bytes((tmp_path / "viewer.key").read_bytes())
    publisher = FramePublisher("tcp://127.0.0.1:0", keys=ServerKeys.load(sink_secret, clients))
    viewers = {
        "listed": FrameSubscriber(publisher.address, keys=ClientKeys.load(sink_public, viewer_secret)),
        "unlisted": FrameSubscriber(publisher.address, keys=ClientKeys.load(sink_public, stranger_secret)),
        "plain": FrameSubscriber(publisher.address),
    }
    try:
        received = {name: [] for name in viewers}
        deadline = time.monotonic() + 10
        while not received["listed"] and time.monotonic() < deadline:
            publisher.publish(b"frame")
            for name, viewer in viewers.items():
                if (message := viewer.receive(20)) is not None:
                    received[name].append(message.frame)
        for _ in range(20):  # time for a slow joiner: the others get just as long after the listed one
            publisher.publish(b"frame")
            for name, viewer in viewers.items():
                if (message := viewer.receive(10)) is not None:
                    received[name].append(message.frame)
        assert received["listed"] and not received["unlisted"] and not received["plain"]
    finally:
        for viewer in viewers.values():
            viewer.close()
        publisher.close()


def test_the_server_reports_refused_handshakes(tmp_path):
    sink_public, sink_secret = create_key_pair(tmp_path, "sink")
    create_key_pair(tmp_path / "clients", "rank")
    _, stranger_secret = create_key_pair(tmp_path, "stranger")
    context = zmq.Context()
    server = context.socket(zmq.PULL)
    secured = SecuredServer(context, server, ServerKeys.load(sink_secret, tmp_path / "clients"))
    server.bind("tcp://127.0.0.1:0")
    stranger = context.socket(zmq.PUSH)
    stranger.linger = 0
    ClientKeys.load(sink_public, stranger_secret).secure(stranger)
    stranger.connect(server.LAST_ENDPOINT.decode())
    stranger.send(b"let me in")
    try:
        refusals = []
        deadline = time.monotonic() + 10
        while not refusals and time.monotonic() < deadline:
            time.sleep(0.05)
            refusals = secured.take_refusals()
        assert refusals and set(refusals) == {"key not authorised"}
        assert not server.poll(200)  # its frame never reached the socket
    finally:
        stranger.close()
        secured.close()
        server.close()
        context.term()
