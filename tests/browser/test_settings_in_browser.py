"""The settings page in chromium: a column moved left is listed in its new
place with the right arrows; on a phone the page does not scroll sideways;
a destructive button asks first."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from board import services
from board.models import Membership
from tests.browser.pages import sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
DESKTOP = {"viewport": {"width": 1440, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture
def full_board(board, alice):
    """The default board, with what makes the settings page long and wide."""
    services.label_create(board=board, name="computer-vision", color="#1f7a8c")
    services.label_create(board=board, name="data", color="#b45309")
    services.epic_create(board=board, name="Churn model v2", color="#7c3aed")
    long_name = UserFactory(username="margaret.hamilton-longname", first_name="Margaret",
                            last_name="Hamilton-Longname", email="margaret.hamilton-longname@research.example.org")
    Membership.objects.create(board=board, user=long_name, role=Membership.Role.MEMBER)
    UserFactory(username="invitee", email="someone.with.a.long.address@research.example.org")
    services.invitation_create(board=board, identifier="someone.with.a.long.address@research.example.org",
                               role=Membership.Role.VIEWER, invited_by=alice)
    return board


def column_names(page):
    """The columns as the settings table lists them, top to bottom."""
    return page.locator(".columns-table tbody tr input[name=name]").evaluate_all("els => els.map(e => e.value)")


def test_a_column_moved_left_is_listed_in_its_new_place_with_its_arrows(browser, live_server, full_board, columns):
    page = browser.new_context(**DESKTOP).new_page()
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/b/{full_board.pk}/settings/")
    assert column_names(page) == ["Backlog", "Whiteboarding", "Implementation", "Code review", "Done"]

    # Done moves one place left:  Backlog | Whiteboarding | Implementation | Done | Code review
    page.get_by_role("button", name="Move Done left").click()

    expect(page.locator("#toasts")).to_contain_text("Column moved.")
    assert column_names(page) == ["Backlog", "Whiteboarding", "Implementation", "Done", "Code review"]
    expect(page.get_by_role("button", name="Move Done right")).to_be_enabled()
    expect(page.get_by_role("button", name="Move Code review right")).to_be_disabled()
    page.screenshot(path=str(SCREENSHOTS / "settings-1440.png"), full_page=True)


def test_deleting_a_label_asks_first_and_keeps_it_when_the_owner_says_no(browser, live_server, full_board):
    page = browser.new_context(**DESKTOP).new_page()
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/b/{full_board.pk}/settings/")
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, accept=False))
    page.get_by_role("button", name="Delete label data").click()
    assert questions == ["Delete the label “data”? It comes off every card that has it."]
    expect(page.get_by_role("button", name="Delete label data")).to_be_visible()

    page.once("dialog", lambda d: answer(d, accept=True))
    page.get_by_role("button", name="Delete label data").click()
    expect(page.locator("#toasts")).to_contain_text("Label deleted.")
    expect(page.get_by_role("button", name="Delete label data")).to_have_count(0)


def test_on_a_phone_the_settings_page_does_not_scroll_sideways(browser, live_server, full_board):
    page = browser.new_context(**PHONE).new_page()
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/b/{full_board.pk}/settings/")
    expect(page.get_by_role("heading", name="Board settings")).to_be_visible()

    # A phone widens its layout viewport to fit a page that overflows (innerWidth
    # grows with it), so the window's width is also checked against the screen's.
    scroll_width, inner_width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert inner_width == 390
    assert scroll_width <= inner_width, f"the page is {scroll_width} px wide in a {inner_width} px window"
    # Every input shows its whole value and fits in the window.
    too_narrow = page.evaluate("""() => [...document.querySelectorAll('main input:not([type=hidden]), main select')]
        .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5
                      || (el.tagName === 'INPUT' && el.type !== 'color' && el.scrollWidth > el.clientWidth + 1))
        .map(el => el.name + '=' + el.value)""")
    assert too_narrow == []
    page.screenshot(path=str(SCREENSHOTS / "settings-390.png"), full_page=True)
