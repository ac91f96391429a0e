"""A long column renders its first page and loads the rest as it scrolls into
view, inside the board's own scrolling box; filters still search the whole
board, and the keyboard still reaches and moves a card of a later page."""

import pytest
from playwright.sync_api import expect

from board.models import Ticket
from tests.browser.pages import sign_in
from tests.factories import make_ticket

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]

DESKTOP = {"viewport": {"width": 1440, "height": 900}}


@pytest.fixture
def long_column(settings, board, columns, alice):
    settings.BOARD_PAGE_SIZE = 5
    return [make_ticket(board, alice, title=f"Experiment {i:02d}", column=columns[0]) for i in range(13)]


def _scroll_until(page, column_id, count):
    """Scroll the column's last item into view (as a person scrolling would) until `count` cards are there."""
    selector = f'.cards[data-column="{column_id}"]'
    cards = page.locator(f"{selector} > li.card")
    for _ in range(10):
        seen = cards.count()
        if seen >= count:
            break
        page.evaluate("(sel) => document.querySelector(sel).lastElementChild.scrollIntoView()", selector)
        page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length > n",
                               arg=[f"{selector} > li.card", seen], timeout=5000)
    expect(cards).to_have_count(count)


def test_a_long_column_loads_its_later_cards_as_it_scrolls_into_view(browser, live_server, board, columns, alice,
                                                                       long_column):
    page = browser.new_context(**DESKTOP).new_page()
    sign_in(page, live_server, "alice")
    response = page.goto(f"{live_server.url}/b/{board.pk}/")
    # The page itself holds the first 5 and a sentinel; on a tall screen the
    # sentinel is in view at once and the next page follows without a scroll.
    first_page = response.text()
    assert first_page.count(f'data-column="{columns[0].pk}" data-key=') == 5  # cards, not the list
    assert 'hx-trigger="intersect once"' in first_page
    cards = page.locator(f'.cards[data-column="{columns[0].pk}"] > li.card')

    _scroll_until(page, columns[0].pk, 13)

    expect(cards.last).to_contain_text("Experiment 12")


def test_search_finds_a_card_the_first_page_did_not_render(browser, live_server, board, columns, alice, long_column):
    page = browser.new_context(**DESKTOP).new_page()
    sign_in(page, live_server, "alice")

    page.goto(f"{live_server.url}/b/{board.pk}/?q=Experiment%2012")

    expect(page.locator("#board li.card")).to_have_count(1)
    expect(page.locator("#board li.card")).to_contain_text("Experiment 12")


def test_the_keyboard_moves_a_card_of_a_later_page(browser, live_server, board, columns, alice, long_column):
    page = browser.new_context(**DESKTOP).new_page()
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/b/{board.pk}/")
    _scroll_until(page, columns[0].pk, 13)
    last = long_column[-1]

    page.locator(f"#card-{last.pk} .card-title").focus()
    page.keyboard.press("m")
    page.locator("#move-menu").get_by_role("menuitem", name=f"To {columns[1].name}").click()

    expect(page.locator(f'.cards[data-column="{columns[1].pk}"] #card-{last.pk}')).to_be_visible()
    assert Ticket.objects.get(pk=last.pk).column_id == columns[1].pk
