"""The zero-shot tab charts SIM next to the conditioning effect where the sink decodes audio
(--audio-tokenizer with stratlog[voice], issue 20), and only there: without it the tab is what it was.
Run: python -m pytest tests/tui/test_sim_trend_chart.py -q"""

from __future__ import annotations

from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.replay import ReplayPlayer
from stratlog.tui.app import DashboardApp
from stratlog.tui.widgets.overview.trend_chart import TrendChart
from tests.tui.replayed import RECORDING, TOKENIZER, text_of


async def test_the_zero_shot_tab_charts_sim_beside_the_conditioning_effect_only_with_audio(tmp_path):
    for audio in (True, False):
        pipeline = SinkPipeline(tmp_path / str(audio), tokenizer_path=str(TOKENIZER))
        model = DashboardModel(pipeline.state, pipeline.contexts, pipeline.metrics_health.latest, audio_files=audio)
        player = ReplayPlayer(RECORDING, pipeline)
        player.run()
        for step, predicted in ((5, 0.55), (10, 0.63), (15, 0.7), (20, 0.74)):  # as the decoder's rows arrive
            pipeline.state.record_sim_scores({"run_id": pipeline.state.run_id, "step": step, "rank": 0,
                                              "sim_reference_predicted": predicted, "sim_reference_target": 0.88})
        app = DashboardApp(model, source="test", clock=player.clock)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.press("5")
            await pilot.pause()
            charts = {chart.trend.key: chart for chart in app.query("#zero-shot TrendChart").results(TrendChart)}
            if not audio:
                assert set(charts) == {"conditioning_effect"}
                continue
            assert set(charts) == {"conditioning_effect", "sim"}
            shown = text_of(charts["sim"])
            assert "SIM to the reference" in shown
            assert "predicted" in shown and "0.74" in shown and "target" in shown and "0.88" in shown
