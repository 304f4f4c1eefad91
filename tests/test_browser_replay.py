"""Real browser: "Over training" on /representations; press Play and see the frame change."""
import pytest

from tests.helpers import shot

pytestmark = pytest.mark.browser

STATE = """() => { const gd = document.querySelector('.js-plotly-plot');
  return gd && gd._fullLayout && gd._fullLayout.sliders && gd._fullLayout.sliders.length
    ? {active: gd._fullLayout.sliders[0].active, x: gd.data[0].x.slice(0, 5)} : null; }"""


def test_press_play_and_the_frame_changes(page):
    page.goto(f"{page.base_url}/representations")
    page.get_by_role("radio", name="Over training").click()
    # the replay's own quick projection (after the default model), by its key: while the page changes over, the
    # maps' "Projection" control is still on screen beside it
    page.locator(".st-key-rep_replay_method").get_by_text("PCA", exact=True).click(timeout=180_000)
    play = page.locator(".updatemenu-button").filter(has_text="Play")
    play.wait_for(timeout=180_000)
    before = page.evaluate(STATE)
    assert before is not None and before["active"] == 0
    play.click()
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')._fullLayout.sliders[0].active >= 2",
                           timeout=20_000)
    after = page.evaluate(STATE)
    assert after["active"] >= 2 and after["x"] != before["x"]  # another epoch, the points moved
    shot(page, "representations-over-training")
