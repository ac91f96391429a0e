"""A board that notices it is stale, in chromium: it goes to the login page
by itself when its session ends, and says so when it cannot reach the server,
retrying with exponential back-off until it can, then catches up."""

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.pages import PASSWORD, sign_in
from tests.factories import make_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



def open_board(page, live_server, board, query=""):
    page.goto(f"{live_server.url}/b/{board.pk}/{query}")
    expect(page.locator("#board")).to_be_visible()


# --- the session ends ------------------------------------------------------------------

def test_a_board_whose_session_ended_in_another_tab_goes_to_the_login_page_by_itself(browser, live_server, board):
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server, "alice")
    open_board(page, live_server, board)

    # Another tab of the same browser (the same cookies) signs out: the session ends on the server.
    other = browser.new_context(storage_state=context.storage_state()).new_page()
    other.goto(f"{live_server.url}/")
    other.get_by_role("button", name="Sign out").click()
    expect(other).to_have_url(re.compile(r"/accounts/login/"))

    # The open board's next poll gets 401 with the login URL, and the board goes there itself.
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/b/{board.pk}/", timeout=5000)
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/b/{board.pk}/")


def test_opening_a_card_after_the_cookies_are_gone_goes_to_the_login_page_not_into_the_modal(
    browser, live_server, board, alice, settings
):
    settings.BOARD_POLL_INTERVAL_MS = 10 * 60 * 1000  # the poll stays out of it: this is htmx's path
    card = make_ticket(board, alice, title="Read the later experiments")
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server, "alice")
    open_board(page, live_server, board, "?q=later")

    context.clear_cookies()
    page.locator(f"#card-{card.pk} .card-title").click()

    # HX-Redirect: the whole window goes to sign in, and back to the filtered board afterwards.
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/b/{board.pk}/%3Fq%3Dlater")
    expect(page.locator("#id_username")).to_be_visible()
    assert page.locator("dialog.modal").count() == 0


# --- the server cannot be reached ---------------------------------------------------------

def pause_clock_soon(page):
    """Stop the fake clock a moment from now. The page's clock runs with real time until
    then, so on a loaded machine the moment may pass before Playwright gets there: aim
    further ahead and try again (a shift of a fraction of a second changes nothing here)."""
    for margin_ms in (50, 500, 2000):
        try:
            page.clock.pause_at((page.evaluate("Date.now()") + margin_ms) / 1000)  # seconds, in Python
            return
        except PlaywrightError as error:
            if "past" not in str(error):
                raise
    raise AssertionError("could not pause the page's clock")


def test_failing_polls_show_a_banner_back_off_to_30s_and_the_board_catches_up(page, live_server, board, columns, alice):
    """Time is Playwright's fake clock, so every delay is checked exactly and
    the 30 s cap is reached without waiting for it."""
    answers = []
    failure = {"how": "500"}

    def fail(route):
        answers.append(failure["how"])
        if failure["how"] == "500":
            route.fulfill(status=500, content_type="text/html", body="<h1>Server Error (500)</h1>")
        else:
            route.abort("internetdisconnected")

    banner = page.locator("#connection-banner")
    state = "mk.boardState"
    page.clock.install()
    sign_in(page, live_server, "alice")
    open_board(page, live_server, board)
    expect(banner).to_be_hidden()
    pause_clock_soon(page)
    poll_url = re.compile(rf"/b/{board.pk}/poll/")
    page.route(poll_url, fail)
    # A poll sent before the clock stopped must land first, or its timer is not set yet.
    page.wait_for_function(f"() => !{state}.polling")

    # The regular poll (every 1.5 s) fails: the banner shows, the next try is 1.5 s away.
    page.clock.run_for(1500)
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("Connection lost — this board may be out of date. Retrying in 1.5 s…")

    # Each failure doubles the wait: 1.5 → 3 → 6 → 12 → 24 → 30 → 30 s. Half-way through,
    # the answers switch from 500 to a network error.
    expected = [(1500, "3"), (3000, "6"), (6000, "12"), (12000, "24"), (24000, "30"), (30000, "30")]
    for failures, (wait, shown) in enumerate(expected, start=2):
        if failures == 4:
            failure["how"] = "network"
        page.clock.run_for(wait - 1)
        # Not yet: no poll has started during the wait.
        assert page.evaluate(f"[{state}.failures, {state}.polling]") == [failures - 1, False]
        page.clock.run_for(1)
        # (a function, not an expression: the page's CSP forbids Playwright's eval of one)
        page.wait_for_function(f"() => {state}.failures === {failures} && !{state}.polling")
        expect(banner).to_contain_text(f"Retrying in {shown} s…")
    assert answers == ["500", "500", "500", "network", "network", "network", "network"]
    assert page.evaluate("[1, 2, 3, 4, 5, 6, 7, 8].map(mk.pollRetryMs)") == [
        1500, 3000, 6000, 12000, 24000, 30000, 30000, 30000,
    ]

    # Meanwhile someone adds a card. The server comes back: the banner goes and the board catches up.
    added = make_ticket(board, alice, title="Added while we were offline", column=columns[1])
    page.unroute(poll_url)
    page.clock.run_for(30000)
    expect(banner).to_be_hidden()
    expect(page.locator(f'.cards[data-column="{columns[1].pk}"] #card-{added.pk}')).to_be_visible()
    assert page.evaluate(f"{state}.failures") == 0


def test_retry_now_polls_at_once(page, live_server, board, alice):
    page.clock.install()
    sign_in(page, live_server, "alice")
    open_board(page, live_server, board)
    pause_clock_soon(page)
    poll_url = re.compile(rf"/b/{board.pk}/poll/")
    page.route(poll_url, lambda route: route.abort("connectionrefused"))
    page.wait_for_function("() => !mk.boardState.polling")  # a poll sent before the clock stopped lands first
    page.clock.run_for(1500)
    banner = page.locator("#connection-banner")
    expect(banner).to_contain_text("Retrying in 1.5 s…")

    page.unroute(poll_url)
    banner.get_by_role("button", name="Retry now").click()  # the fake clock stands still: only the click polls
    expect(banner).to_be_hidden()
    assert page.evaluate("mk.boardState.failures") == 0
