"""The controllable replay player behind the dashboard: pause holds the stream, seek plays on
to a step at full speed, the speed ladder, no seeking back, and every record still goes
through the pipeline once. Run: ./run-tests tests/sink/test_replay_player.py"""

from __future__ import annotations

import threading
import time

import pytest

from stratlog.protocol import RecordingWriter, encode
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.replay import SPEEDS, ReplayPlayer, _next_speed
from tests.processes import wait_for
from tests.sink.builders import metrics, run_start

T0 = 1_700_000_000.0
STEPS = 30


@pytest.fixture
def recording(tmp_path):
    """A run start and one metrics message per step, one recorded second apart: at 1x the
    whole replay would take 30 s, so anything that finishes quickly was sped up on purpose."""
    path = tmp_path / "stream.stratrec"
    with RecordingWriter(path) as writer:
        writer.write(encode(run_start()), received_at=T0, step=0)
        for step in range(1, STEPS + 1):
            writer.write(encode(metrics(step, loss=1.0)), received_at=T0 + step, step=step)
    return path


def playing(player: ReplayPlayer) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=player.run, args=(stop,), daemon=True)
    thread.start()
    return thread, stop


def test_paused_player_feeds_nothing_until_resumed_and_seek_plays_on_to_the_step(recording, tmp_path):
    pipeline = SinkPipeline(tmp_path / "logs")
    player = ReplayPlayer(recording, pipeline, speed=1.0, paused=True)
    thread, stop = playing(player)
    try:
        time.sleep(0.3)
        assert pipeline.state.messages == 0 and player.status().describe() == "paused at 1x"
        assert player.seek(10)
        wait_for(lambda: player.status().step == 10, 5, what="the seek to reach step 10")
        assert player.status().paused, "a seek keeps the player paused"
        assert not player.seek(5), "analyses cannot run backwards"
        player.toggle_pause()
        assert player.status().step < STEPS, "at 1x the rest takes 20 s"
        while player.status().speed is not None:
            player.faster()
        wait_for(lambda: player.status().finished, 5, what="the replay to finish at max speed")
    finally:
        stop.set()
        thread.join(timeout=5)
    assert pipeline.state.messages == STEPS + 1, "every record fed exactly once"


def test_stop_ends_a_paused_replay(recording, tmp_path):
    player = ReplayPlayer(recording, SinkPipeline(tmp_path / "logs"), paused=True)
    thread, stop = playing(player)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and player.status().finished


def test_speed_ladder_climbs_to_max_and_down_to_a_quarter():
    assert _next_speed(1.0, up=True) == 2.0 and _next_speed(3.0, up=True) == 4.0
    assert _next_speed(64.0, up=True) is None and _next_speed(None, up=True) is None
    assert _next_speed(None, up=False) == 64.0 and _next_speed(3.0, up=False) == 2.0
    assert _next_speed(SPEEDS[0], up=False) == SPEEDS[0]


def test_damage_is_reported_to_the_pipeline_as_the_player_meets_it(recording, tmp_path):
    """What the dashboard shows while it plays: a WARN finding for lost records, before the end."""
    data = bytearray(recording.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside a record in the middle: its checksum fails, it is lost
    recording.write_bytes(bytes(data[:-5]))  # and a torn last record, as a killed sink leaves
    pipeline = SinkPipeline(tmp_path / "logs")
    player = ReplayPlayer(recording, pipeline, speed=None, paused=True)
    thread, stop = playing(player)
    player.seek(STEPS // 2 + 3)  # plays on past the damaged middle, then holds
    wait_for(lambda: any(f.check == "recording_damage" for f in pipeline.state.recent_findings), 5,
             what="the damage finding while the replay is paused")
    assert not player.status().finished
    player.toggle_pause()
    thread.join(timeout=10)
    stop.set()
    pipeline.close()
    damage = [(f.severity, f.value) for f in pipeline.state.recent_findings if f.check == "recording_damage"]
    assert [severity for severity, _ in damage] == ["WARN", "OK"]  # lost records, then the torn tail
    assert [value for _, value in damage] == [skipped.length for skipped in player.damage]
