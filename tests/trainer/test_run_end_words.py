"""What a rank says about its own strategic logging at the end, and how often it sends metrics:
a run whose socket never reached a sink says so (its run end went nowhere); one that reached a
real PULL socket does not; with --logging_steps left unset, Trainer is asked to log every step.
Run: ./run-tests tests/trainer/test_run_end_words.py"""

from __future__ import annotations

import time

import pytest
import zmq
from transformers import TrainerControl, TrainerState, TrainingArguments

from stratlog.protocol import Metrics, RunEnd, decode
from stratlog.trainer.strategic.callbacks import MetricsCallback
from stratlog.trainer.strategic.setup import logging_interval_unset
from stratlog.trainer.strategic.publisher import PublisherConfig, SnapshotPublisher
from tests.processes import free_address


def _publisher(address: str) -> SnapshotPublisher:
    return SnapshotPublisher(PublisherConfig(address=address, run_id="r", rank=1, world_size=2,
                                             heartbeat_interval_s=0.05, close_timeout_s=1.0))


def test_a_rank_that_never_reached_a_sink_says_so_at_its_end(capsys):
    address = free_address()
    publisher = _publisher(address)
    for step in range(1, 6):
        publisher.send(Metrics, step=step, values={"loss": 1.0})
    time.sleep(0.2)
    publisher.close()
    said = capsys.readouterr().err
    assert f"rank 1: no sink was reached at {address}" in said
    assert "messages went nowhere" in said


def test_a_rank_whose_messages_reached_a_sink_says_nothing(capsys):
    context = zmq.Context()
    sink = context.socket(zmq.PULL)
    port = sink.bind_to_random_port("tcp://127.0.0.1")
    try:
        publisher = _publisher(f"tcp://127.0.0.1:{port}")
        publisher.send(Metrics, step=1, values={"loss": 1.0})
        assert sink.poll(5000), "the sink received nothing"
        publisher.close()
        received = [decode(sink.recv())]
        while sink.poll(1000):
            received.append(decode(sink.recv()))
        assert isinstance(received[-1], RunEnd)
    finally:
        sink.close(linger=0)
        context.term()
    assert "no sink was reached" not in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "unset"), [
    ([], True),
    (["--max_steps", "5", "--learning_rate", "1e-3"], True),
    (["--logging_steps", "5"], False),
    (["--logging_steps=5"], False),
    (["--logging_strategy", "epoch"], False),
])
def test_metrics_follow_logging_steps_only_when_the_command_line_sets_it(argv, unset):
    assert logging_interval_unset(argv) is unset


@pytest.mark.parametrize("every_step", [True, False])
def test_metrics_callback_asks_trainer_to_log_at_every_step_only_when_told(tmp_path, every_step):
    callback = MetricsCallback(publisher=None, guard=None, scheduler=None, every_step=every_step)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none")  # logging_steps 500: step 7 is not one
    control = TrainerControl()
    callback.on_step_end(args, TrainerState(global_step=7), control)
    assert control.should_log is every_step
