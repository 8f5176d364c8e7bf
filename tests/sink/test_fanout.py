"""Fan-out: a viewer attached to the sink's PUB socket receives the frames the sink received.
Run: ./run-tests tests/sink/test_fanout.py"""

from __future__ import annotations

from stratlog.protocol import decode, encode
from stratlog.sink.fanout import FramePublisher, FrameSubscriber
from stratlog.sink.pipeline import SinkPipeline
from tests.processes import wait_for
from tests.sink.builders import metrics

def test_a_viewer_sees_the_frames_after_it_subscribed(tmp_path):
    publisher = FramePublisher("tcp://127.0.0.1:0")
    viewer = FrameSubscriber(publisher.address)
    pipeline = SinkPipeline(tmp_path, publisher=publisher)
    try:
        # The slow joiner: frames published before the subscription settles are lost, so keep
        # publishing until the viewer gets one (this is why fan-out is for viewers only).
        step = 0

        def delivered():
            nonlocal step
            step += 1
            pipeline.handle(encode(metrics(step, loss=1.0)), 0.0)
            return viewer.receive(timeout_ms=20)

        first = wait_for(delivered, 5, interval_s=0, what="the first frame at the viewer")
        assert decode(first.frame).values == {"loss": 1.0}
        pipeline.handle(encode(metrics(999, loss=2.0)), 0.0)
        later = [decode(received.frame).step for received in iter(lambda: viewer.receive(timeout_ms=200), None)]
        assert later[-1] == 999
    finally:
        pipeline.close()
        viewer.close()
