"""The filter bar and the top bar in chromium (issue 6, bug 2, points 7 and
10): the Blocked filter survives a reload and combines with the others,
search applies as you type, a chip removes its filter; on a phone the top
bar's menu holds Sign out inside the screen, the filters open as a sheet,
and nothing makes the page scroll sideways."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from board import services
from tests.browser.pages import sign_in
from tests.browser.sample_board import DESKTOP, PHONE, make_sample
from tests.factories import make_ticket

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def page_width_fits(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def shown_titles(page):
    return page.locator("#board .card-title")


@pytest.fixture
def cards(board, alice, bob):
    nlp = services.label_create(board=board, name="nlp")
    vision = services.label_create(board=board, name="vision")
    make_ticket(board, alice, title="Train on the new cluster", blocked=True, blocked_reason="quota", labels=(nlp,))
    make_ticket(board, alice, title="Label the frames", blocked=True, blocked_reason="annotators", labels=(vision,))
    make_ticket(board, alice, title="Tokenizer drops emojis", labels=(nlp,), assignee=bob)
    make_ticket(board, alice, title="Write the README")


@pytest.fixture
def desktop(browser, live_server, board):
    page = browser.new_context(**DESKTOP).new_page()
    sign_in(page, live_server, "alice")
    yield page
    page.context.close()


@pytest.fixture
def phone(browser, live_server, board):
    page = browser.new_context(**PHONE).new_page()
    sign_in(page, live_server, "alice")
    yield page
    page.context.close()


def open_board(page, live_server, board, query=""):
    page.goto(f"{live_server.url}/b/{board.pk}/{query}")
    expect(page.locator("#board")).to_be_visible()


# --- 1440×900 ----------------------------------------------------------------------------

def test_the_blocked_filter_survives_a_reload_and_combines_with_a_label(desktop, live_server, board, cards):
    page = desktop
    open_board(page, live_server, board)
    blocked = page.get_by_label("Blocked", exact=True)

    blocked.check()

    expect(page).to_have_url(f"{live_server.url}/b/{board.pk}/?blocked=true")
    expect(shown_titles(page)).to_have_text(["Train on the new cluster", "Label the frames"])
    page.reload()
    expect(page.get_by_label("Blocked", exact=True)).to_be_checked()
    expect(shown_titles(page)).to_have_count(2)

    page.get_by_label("Label", exact=True).select_option("nlp")

    expect(page).to_have_url(f"{live_server.url}/b/{board.pk}/?blocked=true&label=nlp")
    expect(page.get_by_label("Blocked", exact=True)).to_be_checked()
    expect(shown_titles(page)).to_have_text(["Train on the new cluster"])

    # Unchecking it turns the filter off and keeps the label.
    page.get_by_label("Blocked", exact=True).uncheck()

    expect(page).to_have_url(f"{live_server.url}/b/{board.pk}/?label=nlp")
    expect(shown_titles(page)).to_have_text(["Train on the new cluster", "Tokenizer drops emojis"])
    expect(page.get_by_label("Blocked", exact=True)).not_to_be_checked()


def test_typing_in_search_filters_the_board_without_pressing_enter(desktop, live_server, board, cards):
    page = desktop
    open_board(page, live_server, board, "?label=nlp")
    search = page.get_by_role("searchbox", name="Search")

    search.press_sequentially("emoji", delay=40)

    expect(page).to_have_url(f"{live_server.url}/b/{board.pk}/?label=nlp&q=emoji")
    expect(shown_titles(page)).to_have_text(["Tokenizer drops emojis"])
    # The new page keeps the search box focused, ready for more typing.
    expect(page.get_by_role("searchbox", name="Search")).to_be_focused()
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("emoji")


def test_a_chip_removes_its_filter_by_click_and_by_keyboard(desktop, live_server, board, cards):
    page = desktop
    open_board(page, live_server, board, "?q=the&label=nlp&blocked=true")
    expect(shown_titles(page)).to_have_text(["Train on the new cluster"])
    screenshot(page, "filters-chips-1440x900")

    page.get_by_role("link", name="Remove the filter Blocked").click()

    expect(page).to_have_url(f"{live_server.url}/b/{board.pk}/?q=the&label=nlp")
    expect(page.locator(".filter-chip")).to_have_count(2)
    expect(page.get_by_label("Blocked", exact=True)).not_to_be_checked()

    page.get_by_role("link", name="Remove the filter Label: nlp").focus()
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server.url}/b/{board.pk}/?q=the")
    expect(shown_titles(page)).to_have_count(3)  # "the" in three titles


def test_the_filter_bar_at_1440_is_one_row_with_the_quick_add_behind_a_button(
    desktop, live_server, board, alice, bob, tmp_path
):
    sample = make_sample(board, alice, bob, tmp_path)
    page = desktop
    page.goto(f"{live_server.url}{sample.url('board')}?blocked=true&label=data")
    expect(page.locator("#board")).to_be_visible()
    controls = page.locator("#filter-bar select, #filter-bar input")
    middles = [box["y"] + box["height"] / 2 for box in (controls.nth(i).bounding_box() for i in range(controls.count()))]
    assert max(middles) - min(middles) < 4, "the controls sit in one row"
    expect(page.locator(".quick-add input[name=title]")).to_be_hidden()
    screenshot(page, "filters-board-1440x900")

    page.get_by_text("+ Add card").click()

    expect(page.locator(".quick-add input[name=title]")).to_be_focused()
    screenshot(page, "filters-quick-add-1440x900")
    page.keyboard.press("Escape")
    expect(page.locator(".quick-add input[name=title]")).to_be_hidden()
    assert page_width_fits(page)


# --- 390×844, touch ------------------------------------------------------------------------

def test_on_a_phone_the_header_menu_holds_sign_out_inside_the_screen(phone, live_server, board, alice, bob, tmp_path):
    sample = make_sample(board, alice, bob, tmp_path)
    page = phone
    for name in ("boards", "board"):
        page.goto(f"{live_server.url}{sample.url(name)}")
        sign_out = page.get_by_role("button", name="Sign out")
        expect(sign_out).to_be_hidden()
        assert page_width_fits(page), name
        screenshot(page, f"header-{name}-390x844")

        page.get_by_role("button", name="Menu").click()

        expect(sign_out).to_be_visible()
        box = sign_out.bounding_box()
        assert 0 <= box["x"] and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
        assert page_width_fits(page), name
        screenshot(page, f"header-{name}-menu-390x844")
        page.keyboard.press("Escape")
        expect(sign_out).to_be_hidden()

    page.get_by_role("button", name="Menu").click()
    for link in ("Sprints", "Standup", "Reports", "Settings"):
        expect(page.locator("#topmenu").get_by_role("link", name=link, exact=True)).to_be_visible()
    expect(page.locator("#topmenu").get_by_role("link", name="Alice Owner")).to_be_visible()


def test_on_a_phone_the_filters_open_as_a_sheet_and_apply_when_it_closes(phone, live_server, board, alice, bob,
                                                                         tmp_path):
    sample = make_sample(board, alice, bob, tmp_path)
    page = phone
    page.goto(f"{live_server.url}{sample.url('board')}?label=data")
    expect(page.locator("#board")).to_be_visible()
    toggle = page.get_by_role("button", name=re.compile(r"^Filters"))
    # The label and the board's active sprint.
    expect(toggle).to_have_text("Filters (2)")
    expect(page.get_by_label("Assignee", exact=True)).to_be_hidden()
    expect(page.locator(".filter-chip")).to_have_count(2)  # the chips stay in view
    assert page_width_fits(page)
    screenshot(page, "filters-board-390x844")

    toggle.click()

    expect(toggle).to_have_attribute("aria-expanded", "true")
    sheet = page.locator("#filter-controls")
    expect(sheet).to_be_visible()
    box = sheet.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844 + 1
    assert page_width_fits(page)
    page.get_by_label("Blocked", exact=True).check()
    expect(page).to_have_url(re.compile(r"\?label=data$"))  # nothing applies while the sheet is open
    screenshot(page, "filters-sheet-390x844")

    page.get_by_role("button", name="Done").click()

    expect(page).to_have_url(f"{live_server.url}/b/{board.pk}/?label=data&blocked=true")
    expect(page.get_by_role("button", name=re.compile(r"^Filters"))).to_have_text("Filters (3)")
    assert page_width_fits(page)


def test_on_a_phone_the_quick_add_opens_inside_the_screen(phone, live_server, board, alice, bob, tmp_path):
    sample = make_sample(board, alice, bob, tmp_path)
    page = phone
    page.goto(f"{live_server.url}{sample.url('board')}")

    page.get_by_text("+ Add card").click()

    form = page.locator(".quick-add")
    expect(form).to_be_visible()
    box = form.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page_width_fits(page)
    screenshot(page, "filters-quick-add-390x844")
