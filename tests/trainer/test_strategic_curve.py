"""A rank's CURVE keys (issue 18, item 6): the trainer's flags or environment give the sink's
public key and the rank's key pair, and the publisher built from them delivers to a sink that
lists the rank's key. Run: ./run-tests tests/trainer/test_strategic_curve.py"""

from __future__ import annotations

import pytest

from stratlog.protocol import MessageDecoder, Metrics
from stratlog.protocol.curve import ServerKeys, create_key_pair
from stratlog.sink.receiver import FrameReceiver
from stratlog.trainer.strategic.arguments import StrategicLoggingArguments
from stratlog.trainer.strategic.setup import build_strategic_logging
from tests.processes import wait_for


@pytest.fixture
def keys(tmp_path):
    sink_public, sink_secret = create_key_pair(tmp_path, "sink")
    create_key_pair(tmp_path / "clients", "ranks")
    return {"sink_public": sink_public, "sink_secret": sink_secret,
            "rank_secret": tmp_path / "clients" / "ranks.key_secret", "clients": tmp_path / "clients"}


def test_one_key_without_the_other_is_refused(keys, monkeypatch):
    monkeypatch.delenv("STRATLOG_SINK_KEY", raising=False)
    monkeypatch.delenv("STRATLOG_CLIENT_KEY", raising=False)
    with pytest.raises(ValueError, match="go together"):
        StrategicLoggingArguments(strategic_sink_key=str(keys["sink_public"]))


def test_the_environment_gives_the_keys_when_the_flags_do_not(keys, monkeypatch):
    monkeypatch.setenv("STRATLOG_SINK_KEY", str(keys["sink_public"]))
    monkeypatch.setenv("STRATLOG_CLIENT_KEY", str(keys["rank_secret"]))
    args = StrategicLoggingArguments()
    assert (args.strategic_sink_key, args.strategic_client_key) == (str(keys["sink_public"]), str(keys["rank_secret"]))


def test_a_rank_built_with_keys_delivers_to_a_sink_that_lists_it(keys, monkeypatch):
    monkeypatch.delenv("STRATLOG_SINK_KEY", raising=False)
    monkeypatch.delenv("STRATLOG_CLIENT_KEY", raising=False)
    receiver = FrameReceiver("tcp://127.0.0.1:0", keys=ServerKeys.load(keys["sink_secret"], keys["clients"]))
    args = StrategicLoggingArguments(enable_strategic_logging=True, strategic_sink_address=receiver.address,
                                     strategic_sink_key=str(keys["sink_public"]),
                                     strategic_client_key=str(keys["rank_secret"]))
    publisher, _ = build_strategic_logging(args, model_path="m", audio_tokenizer_path="a")
    try:
        publisher.send(Metrics, step=1, values={"loss": 1.5})
        received = wait_for(lambda: receiver.receive(100), 10, what="the rank's metrics at the CURVE sink")
        assert MessageDecoder().decode(received.frame).values == {"loss": 1.5}
        assert receiver.take_refusals() == []
    finally:
        publisher.close()
        receiver.close()
