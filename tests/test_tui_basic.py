from engine.config import RunConfig
from propersim_tui.app import ProPerSimApp
from tests.conftest import REFERENCE_PERSONA


async def test_app_starts_pauses_and_quits():
    app = ProPerSimApp(RunConfig(persona=REFERENCE_PERSONA, assistant="oracle", days=3), steps_per_second=500)
    async with app.run_test() as pilot:
        await pilot.pause(0.3)
        table = app.query_one("#timeline")
        assert table.row_count > 0
        await pilot.press("space")
        assert app.paused
        await pilot.pause(0.2)
        frozen = app.records_seen
        await pilot.pause(0.3)
        assert app.records_seen == frozen
        await pilot.press("space")
        await pilot.pause(0.3)
        assert app.records_seen > frozen
        await pilot.press("q")
    assert app.return_code == 0
