"""The board on a phone (390×844, touch) and on a projector (1440×900): the
page never scrolls sideways, the board scrolls and snaps inside its own box,
a card is dragged by a press and a move; type big enough to read from the
back of the room, a colour per person, points per column, a focus mode, one
tab stop per card and moves read out to screen readers."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from board import services
from board.models import Ticket
from tests.browser.pages import sign_in
from tests.factories import make_ticket

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1440, "height": 900}}
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture
def standup_board(board, columns, alice, bob):
    """A board as it looks on a Tuesday morning: people, points, labels, an
    epic, and one card that is blocked, over its timebox and assigned."""
    nlp = services.label_create(board=board, name="nlp", color="#1f7a8c")
    infra = services.label_create(board=board, name="infra", color="#b65c02")
    retrieval = services.epic_create(board=board, name="Retrieval", color="#7c3aed")
    backlog, whiteboarding, implementation, review = columns[0], columns[1], columns[2], columns[3]
    cards = {
        "tokenizer": make_ticket(board, alice, title="Compare BPE and unigram tokenizers on the support corpus",
                                 kind="research", points=5, assignee=bob, labels=(nlp,), epic=retrieval,
                                 column=backlog),
        "leak": make_ticket(board, alice, title="Fix leakage in target encoding", kind="bug", points=3,
                            assignee=alice, column=backlog),
        "docs": make_ticket(board, alice, title="Write the on-call runbook", kind="chore", points=1, column=backlog),
        "eval": make_ticket(board, alice, title="Build the held-out evaluation set", points=8, assignee=bob,
                            labels=(nlp, infra), column=whiteboarding),
        "stuck": make_ticket(board, alice, title="Shard the embedding index across two GPUs", kind="experiment",
                             points=5, assignee=alice, labels=(infra,), epic=retrieval, column=implementation,
                             blocked=True, blocked_reason="waiting for the second GPU"),
        "review": make_ticket(board, alice, title="Cache the feature store reads", points=2, assignee=bob,
                              column=review),
    }
    # Over its timebox: started five days ago, with a three-day timebox.
    Ticket.objects.filter(pk=cards["stuck"].pk).update(started_at=timezone.now() - timedelta(days=5))
    return cards


def open_board(page, live_server, board, query=""):
    page.goto(f"{live_server.url}/b/{board.pk}/{query}")
    expect(page.locator("#board")).to_be_visible()


def page_scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


@pytest.fixture
def phone(browser, live_server, standup_board):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    sign_in(page, live_server, "alice")
    yield page
    context.close()


@pytest.fixture
def desktop(browser, live_server, standup_board):
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    sign_in(page, live_server, "alice")
    yield page
    context.close()


# --- phones --------------------------------------------------------------------

def test_on_a_phone_the_board_list_and_the_board_never_scroll_sideways(phone, live_server, board, standup_board):
    phone.goto(f"{live_server.url}/")
    assert not page_scrolls_sideways(phone)

    open_board(phone, live_server, board)
    assert not page_scrolls_sideways(phone)
    screenshot(phone, "board-390x844")

    open_board(phone, live_server, board, "?lanes=assignee")
    assert not page_scrolls_sideways(phone)
    screenshot(phone, "board-lanes-390x844")


def test_on_a_phone_the_board_scrolls_inside_its_box_one_snapping_column_per_screen(
    phone, live_server, board, columns, standup_board
):
    open_board(phone, live_server, board)
    box = phone.locator("#board")

    info = box.evaluate("""b => ({
        scrolls: b.scrollWidth > b.clientWidth,
        snap: getComputedStyle(b).scrollSnapType,
        width: b.querySelector('.column').getBoundingClientRect().width,
    })""")
    assert info["scrolls"]
    assert info["snap"] == "x mandatory"
    assert 0.8 * 390 <= info["width"] <= 0.9 * 390  # the next column peeks in

    # A nudge past the middle of a column settles on the start of the next one.
    box.evaluate("b => b.scrollBy({left: 0.6 * b.querySelector('.column').offsetWidth})")
    second = phone.locator(f'.column:has(.cards[data-column="{columns[1].pk}"])')
    phone.wait_for_function(
        "([b, c]) => Math.abs(c.getBoundingClientRect().left - b.getBoundingClientRect().left - 12) < 2",
        arg=[box.element_handle(), second.element_handle()],
    )
    assert not page_scrolls_sideways(phone)


def test_on_a_phone_a_card_is_dragged_to_the_next_column_by_touch(phone, live_server, board, columns, standup_board):
    card = standup_board["docs"]
    open_board(phone, live_server, board)
    item = phone.locator(f"#card-{card.pk}")
    title = item.locator(".card-title")
    target = phone.locator(f'.cards[data-column="{columns[1].pk}"]')
    start = title.bounding_box()
    drop = target.bounding_box()  # the column that peeks in at the right edge
    x0, y0 = start["x"] + 20, start["y"] + start["height"] / 2
    x1, y1 = min(drop["x"] + 16, 384), drop["y"] + 30
    cdp = phone.context.new_cdp_session(phone)

    def touch(kind, x=None, y=None):
        points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", x0, y0)
    # The card is picked up once the press has lasted (Sortable's delay, 180 ms).
    expect(item).to_have_class(re.compile(r"\bsortable-chosen\b"))
    steps = 12
    for i in range(1, steps + 1):
        touch("touchMove", x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
    # Sortable follows a touch on a 50 ms timer: let go only once the card has
    # followed the finger into the next column, or a loaded machine drops it short.
    expect(target.locator(f"#card-{card.pk}")).to_have_count(1)
    touch("touchEnd")

    moved = phone.locator(f'.cards[data-column="{columns[1].pk}"] #card-{card.pk}')
    expect(moved).to_have_attribute("data-version", str(card.version + 1))
    card.refresh_from_db()
    assert card.column_id == columns[1].pk


def test_on_a_phone_a_swipe_scrolls_the_board_and_moves_nothing(phone, live_server, board, columns, standup_board):
    card = standup_board["docs"]
    open_board(phone, live_server, board)
    box = phone.locator("#board")
    start = phone.locator(f"#card-{card.pk} .card-title").bounding_box()
    x0, y0 = start["x"] + start["width"] - 10, start["y"] + start["height"] / 2

    # A swipe across the card that moves at once, with no press first.
    cdp = phone.context.new_cdp_session(phone)
    for kind, x in (("touchStart", x0), ("touchMove", x0 - 40), ("touchMove", x0 - 120), ("touchMove", x0 - 250)):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y0}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    phone.wait_for_function("b => b.scrollLeft > 100", arg=box.element_handle())
    expect(phone.locator(f'.cards[data-column="{columns[0].pk}"] #card-{card.pk}')).to_be_attached()
    card.refresh_from_db()
    assert card.column_id == columns[0].pk


def test_on_a_phone_the_move_menu_opens_inside_the_screen_and_moves_the_card(
    phone, live_server, board, columns, standup_board
):
    card = standup_board["review"]  # in the fourth column: scrolled to
    open_board(phone, live_server, board)
    phone.locator(f"#card-{card.pk}").scroll_into_view_if_needed()
    phone.locator(f"#card-{card.pk} .card-move").tap()

    menu = phone.locator("#move-menu")
    expect(menu).to_be_visible()
    box = menu.bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
    screenshot(phone, "board-move-menu-390x844")

    menu.get_by_role("menuitem", name="To Done").tap()
    expect(phone.locator(f'.cards[data-column="{columns[4].pk}"] #card-{card.pk}')).to_be_attached()
    card.refresh_from_db()
    assert card.column_id == columns[4].pk
    assert not page_scrolls_sideways(phone)


def test_a_blocked_overdue_assigned_card_keeps_its_footer_inside_a_narrow_column(
    phone, live_server, board, standup_board
):
    card = standup_board["stuck"]
    open_board(phone, live_server, board)

    for page_width in (390, 1100):  # a phone's column, and a laptop's narrowest (250 px)
        phone.set_viewport_size({"width": page_width, "height": 844})
        item = phone.locator(f"#card-{card.pk}")
        item.scroll_into_view_if_needed()
        expect(item.locator(".flag-blocked")).to_be_visible()
        expect(item.locator(".flag-overdue")).to_be_visible()
        inside = item.evaluate("""card => {
            const c = card.getBoundingClientRect();
            return Array.from(card.querySelectorAll('.card-bottom *')).every((el) => {
                const r = el.getBoundingClientRect();
                return r.left >= c.left - 0.5 && r.right <= c.right + 0.5 && r.bottom <= c.bottom + 0.5;
            });
        }""")
        assert inside, page_width
        avatar = item.locator(".avatar").bounding_box()
        assert abs(avatar["width"] - avatar["height"]) < 0.5  # a circle, not an oval
    screenshot(phone, "board-narrow-1100")


# --- a projector ---------------------------------------------------------------

def test_on_a_projector_card_titles_are_15px_and_every_other_card_text_12px_or_more(
    desktop, live_server, board, standup_board
):
    open_board(desktop, live_server, board)

    sizes = desktop.evaluate("""() => Array.from(document.querySelectorAll('#board .card, #board .card *'))
        .map((el) => ({what: el.className || el.tagName, title: el.classList.contains('card-title'),
                       px: parseFloat(getComputedStyle(el).fontSize)}))""")

    assert len(sizes) > 6 * 8
    assert all(s["px"] >= 15 for s in sizes if s["title"])
    too_small = [s for s in sizes if s["px"] < 12]
    assert too_small == []
    screenshot(desktop, "board-1440x900")
    open_board(desktop, live_server, board, "?lanes=assignee")
    screenshot(desktop, "board-lanes-1440x900")


def _contrast(fg, bg):
    def luminance(rgb):
        channels = [c / 255 for c in rgb]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rgb(css):
    return [int(v) for v in re.findall(r"\d+", css)[:3]]


def test_each_person_has_one_avatar_colour_and_the_initials_are_readable(desktop, live_server, board, standup_board):
    open_board(desktop, live_server, board)

    def avatar(key):
        return desktop.locator(f"#card-{standup_board[key].pk} .avatar").evaluate(
            "a => ({bg: getComputedStyle(a).backgroundColor, fg: getComputedStyle(a).color})")

    bob_1, bob_2, alice_1, alice_2 = avatar("tokenizer"), avatar("eval"), avatar("leak"), avatar("stuck")
    assert bob_1 == bob_2
    assert alice_1 == alice_2
    assert bob_1["bg"] != alice_1["bg"]
    for colours in (bob_1, alice_1):
        assert _contrast(_rgb(colours["fg"]), _rgb(colours["bg"])) >= 4.5


def test_the_avatar_palette_is_readable_for_every_colour(desktop, live_server, board, standup_board):
    open_board(desktop, live_server, board)

    colours = desktop.evaluate("""() => Array.from({length: 12}, (_, i) => {
        const a = document.createElement('span');
        a.className = 'avatar av-' + i;
        document.querySelector('#board .card').appendChild(a);
        const s = getComputedStyle(a);
        const out = {bg: s.backgroundColor, fg: s.color};
        a.remove();
        return out;
    })""")

    assert len({c["bg"] for c in colours}) == 12
    assert all(_contrast(_rgb(c["fg"]), _rgb(c["bg"])) >= 4.5 for c in colours)


def test_column_heads_show_points_and_follow_a_move(desktop, live_server, board, columns, standup_board):
    open_board(desktop, live_server, board)
    backlog, whiteboarding = columns[0], columns[1]
    expect(desktop.locator(f'[data-points-for="{backlog.pk}"]')).to_have_text("9 pts")
    expect(desktop.locator(f'[data-points-for="{whiteboarding.pk}"]')).to_have_text("8 pts")

    card = standup_board["tokenizer"]
    desktop.locator(f"#card-{card.pk} .card-title").drag_to(desktop.locator(f'.cards[data-column="{whiteboarding.pk}"]'))

    expect(desktop.locator(f'[data-points-for="{backlog.pk}"]')).to_have_text("4 pts")
    expect(desktop.locator(f'[data-points-for="{whiteboarding.pk}"]')).to_have_text("13 pts")


def test_focus_mode_hides_the_toolbar_enlarges_the_board_and_is_remembered(desktop, live_server, board, standup_board):
    open_board(desktop, live_server, board)
    toggle = desktop.get_by_role("button", name="Focus")
    title = desktop.locator(f"#card-{standup_board['leak'].pk} .card-title")
    normal = title.evaluate("t => parseFloat(getComputedStyle(t).fontSize)")
    expect(toggle).to_have_attribute("aria-pressed", "false")

    toggle.focus()
    desktop.keyboard.press("Enter")

    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(desktop.locator(".toolbar")).to_be_hidden()
    assert title.evaluate("t => parseFloat(getComputedStyle(t).fontSize)") > normal
    screenshot(desktop, "board-focus-1440x900")

    desktop.reload()
    expect(desktop.locator(".toolbar")).to_be_hidden()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(desktop.locator(".toolbar")).to_be_visible()
    expect(toggle).to_have_attribute("aria-pressed", "false")


# --- the keyboard and screen readers ---------------------------------------------

def test_the_first_tab_stop_is_a_skip_link_to_the_board(desktop, live_server, board, standup_board):
    open_board(desktop, live_server, board)

    desktop.keyboard.press("Tab")
    skip = desktop.locator(".skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_have_text("Skip to board")
    expect(skip).to_be_in_viewport()
    desktop.keyboard.press("Enter")
    desktop.keyboard.press("Tab")

    # The next stop is the first card's title: a card is one tab stop.
    first = desktop.locator("#board .card").first
    expect(first.locator(".card-title")).to_be_focused()
    desktop.keyboard.press("Tab")
    expect(desktop.locator("#board .card").nth(1).locator(".card-title")).to_be_focused()


def test_focused_elements_show_a_ring(desktop, live_server, board, standup_board):
    open_board(desktop, live_server, board)
    desktop.keyboard.press("Tab")
    desktop.keyboard.press("Enter")
    desktop.keyboard.press("Tab")

    ring = desktop.evaluate("() => { const s = getComputedStyle(document.activeElement); "
                            "return {style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor}; }")

    assert ring["style"] == "solid" and ring["width"] >= 2
    assert _contrast(_rgb(ring["color"]), [255, 255, 255]) >= 3


def test_a_move_by_keyboard_is_announced_and_a_refused_one_too(desktop, live_server, board, columns, standup_board):
    card = standup_board["leak"]
    open_board(desktop, live_server, board)
    announcer = desktop.locator("#board-announcer")

    desktop.locator(f"#card-{card.pk} .card-title").focus()
    desktop.keyboard.press("m")
    expect(desktop.locator("#move-menu")).to_be_visible()
    expect(desktop.locator("#move-menu button:focus")).to_have_text("Up one")
    while desktop.evaluate("document.activeElement.textContent") != "To Code review":
        desktop.keyboard.press("ArrowDown")
    desktop.keyboard.press("Enter")

    key = f"{board.key}-{card.number}"
    expect(announcer).to_have_text(f"Moved {key} to Code review, position 2")
    expect(desktop.locator(f"#card-{card.pk} .card-title")).to_be_focused()

    # Someone else changed it meanwhile: this page's next move is stale and refused.
    Ticket.objects.filter(pk=card.pk).update(version=card.version + 5)
    desktop.keyboard.press("m")
    desktop.locator("#move-menu").get_by_role("menuitem", name="To the top").press("Enter")
    expect(announcer).to_contain_text(f"{key} was not moved")
