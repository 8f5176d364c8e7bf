"""Every key binding of the dashboard under Pilot, on the fixed demo recording replayed.
Run: ./run-tests tests/tui/test_keys.py"""

from __future__ import annotations

import pytest
from textual.widgets import Footer, TabbedContent

from stratlog.sink.dashboard_view import DashboardView
from tests.tui.replayed import replayed, text_of
from stratlog.tui.app import DashboardApp
from stratlog.tui.screens.dashboard import DashboardScreen, tab_ids
from stratlog.tui.screens.help import HelpScreen
from stratlog.tui.screens.seek import SeekScreen
from stratlog.tui.widgets.attention.attention_heatmap import AttentionHeatmap

SIZE = (120, 40)
CAPTURES = (1, 5, 10, 15, 20)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return replayed(tmp_path_factory.mktemp("logs"))


@pytest.fixture
def app(recording):
    model, player = recording
    return DashboardApp(model, source="replay demo", player=player)


def screen_of(app: DashboardApp) -> DashboardScreen:
    assert isinstance(app.screen, DashboardScreen)
    return app.screen


def shown(app: DashboardApp) -> DashboardView:
    return screen_of(app).view


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_quit_keys_end_the_app(app, key):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
    assert app.return_code == 0


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_help_opens_with_every_binding_and_escape_closes_it(app, key):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        assert isinstance(app.screen, HelpScreen)
        listed = {binding.action for binding in app.screen.bindings}
        assert {binding.action for binding in DashboardScreen.BINDINGS} <= listed
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_number_keys_switch_tabs(app):
    async with app.run_test(size=SIZE) as pilot:
        for number, tab in reversed(list(enumerate(tab_ids(), start=1))):
            await pilot.press(str(number))
            assert app.query_one(TabbedContent).active == tab


async def test_left_right_home_end_walk_the_step_history(app):
    async with app.run_test(size=SIZE) as pilot:
        assert shown(app).following and shown(app).shown_step == 20
        await pilot.press("left", "left")
        assert shown(app).shown_step == 10 and not shown(app).following
        await pilot.press("right")
        assert shown(app).shown_step == 15
        await pilot.press("home")
        assert shown(app).shown_step == 1
        await pilot.press("left")
        assert shown(app).shown_step == 1, "the oldest kept step is the limit"
        await pilot.press("end")
        assert shown(app).following and shown(app).shown_step == 20
        await pilot.press("left", "right")
        assert shown(app).following, "stepping forward onto the latest follows it again"


async def test_r_and_shift_r_select_the_rank(app):
    async with app.run_test(size=SIZE) as pilot:
        assert shown(app).rank == 0
        await pilot.press("r")
        assert shown(app).rank == 1 and shown(app).capture.snapshots["input"].rank == 1
        await pilot.press("r")
        assert shown(app).rank == 0, "wraps around"
        await pilot.press("R")
        assert shown(app).rank == 1


async def test_g_goes_to_a_step_and_escape_cancels(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        assert isinstance(app.screen, SeekScreen)
        await pilot.press("1", "2", "enter")
        assert shown(app).shown_step == 10, "the latest kept capture at or before step 12"
        await pilot.press("g", "5", "escape")
        assert isinstance(app.screen, DashboardScreen) and shown(app).shown_step == 10


async def test_space_plus_minus_control_the_replay(app, recording):
    _, player = recording
    async with app.run_test(size=SIZE) as pilot:
        before = player.status()
        await pilot.press("space")
        assert player.status().paused != before.paused
        await pilot.press("space")
        assert player.status().paused == before.paused
        await pilot.press("minus")
        assert player.status().speed == 64.0
        await pilot.press("plus")
        assert player.status().speed is None
        await pilot.press("minus", "minus", "equals_sign")
        assert player.status().speed == 64.0


async def test_a_cycles_the_heatmap_statistic(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        heatmap = app.query_one(AttentionHeatmap)
        assert "target audio → reference audio" in text_of(heatmap)
        await pilot.press("a")
        assert heatmap.table == 1 and "text → audio" in text_of(heatmap)


async def test_replay_keys_are_hidden_and_inert_when_live(recording):
    model, _ = recording
    app = DashboardApp(model, source="live tcp://127.0.0.1:1")
    async with app.run_test(size=SIZE) as pilot:
        footer_keys = {binding.action for (_, binding, enabled, _) in app.active_bindings.values() if enabled}
        assert "toggle_pause" not in footer_keys and "faster" not in footer_keys
        await pilot.press("space", "plus", "minus")
        assert isinstance(app.screen, DashboardScreen)
        assert app.query_one(Footer)
