"""The error pages in chromium, at a desk and on a phone: in the app's layout,
the reason in words and the way back, with nothing off-screen."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SIZES = {
    "1440": {"viewport": {"width": 1440, "height": 900}},
    "390": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2},
}


@pytest.mark.parametrize("size", list(SIZES))
def test_a_missing_board_shows_the_reason_and_the_way_back(browser, live_server, board, charlie, size):
    page = browser.new_context(**SIZES[size]).new_page()
    sign_in(page, live_server, "charlie")

    response = page.goto(f"{live_server.url}/b/{board.pk}/")

    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator(".error-reason")).to_have_text("No such board.")
    page.get_by_role("link", name="Back to your boards").click()
    expect(page).to_have_url(f"{live_server.url}/")
    page.go_back()
    scroll_width, inner_width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width == SIZES[size]["viewport"]["width"]
    page.screenshot(path=str(SCREENSHOTS / f"error-404-{size}.png"), full_page=True)


def test_a_viewer_refused_the_settings_reads_why(browser, live_server, board, vera):
    page = browser.new_context(**SIZES["1440"]).new_page()
    sign_in(page, live_server, "vera")

    response = page.goto(f"{live_server.url}/b/{board.pk}/settings/")

    assert response.status == 403
    expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    expect(page.locator(".error-reason")).to_have_text("Only the board's owners can do that.")
    expect(page.get_by_role("link", name="Back to your boards")).to_have_attribute("href", "/")
    page.screenshot(path=str(SCREENSHOTS / "error-403-1440.png"), full_page=True)
