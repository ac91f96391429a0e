"""The card modal in a real browser: opened from the keyboard, edited in
place, followed by the URL, closed by Esc and by the back button; on a
phone, a full-screen sheet inside the screen."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from board.models import Ticket
from tests.browser.pages import sign_in
from tests.factories import make_ticket

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_a_card_opens_with_enter_is_edited_in_place_and_closes_with_back_and_esc(
    page, live_server, board, columns, alice
):
    page.set_viewport_size({"width": 1440, "height": 900})
    card = make_ticket(board, alice, title="Tune the tokenizer", description="Try **byte-level** BPE.")
    for i in range(3):
        make_ticket(board, alice, title=f"Neighbour {i}")
    sign_in(page, live_server, "bob")
    board_url = f"{live_server.url}/b/{board.pk}/?lanes=epic"
    page.goto(board_url)
    dialog = page.locator("dialog#ticket-dialog")

    # Enter on the focused card opens it; the URL follows; the dialog has the focus and the card's name.
    page.locator(f"#card-{card.pk} a.card-title").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/b/{board.pk}/t/{card.number}/$"))
    expect(page.get_by_role("dialog", name="Tune the tokenizer")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "ticket-dialog"
    expect(dialog.locator(".markdown strong")).to_have_text("byte-level")
    shot(page, "modal-1440")

    # Click the title: it becomes an input; Esc cancels the edit, not the modal.
    dialog.locator("h2.ticket-title").click()
    title_input = dialog.locator("input[name=title]")
    expect(title_input).to_be_focused()
    page.keyboard.press("Escape")
    expect(title_input).to_have_count(0)
    expect(dialog).to_be_visible()

    # `e` edits the title; Enter saves it.
    page.keyboard.press("e")
    expect(title_input).to_be_focused()
    title_input.fill("Tune the BPE tokenizer")
    shot(page, "modal-editing-1440")
    page.keyboard.press("Enter")
    expect(dialog.locator("h2.ticket-title")).to_have_text("Tune the BPE tokenizer")

    # The side panel saves on change, no Save button.
    points = dialog.locator("#tf-points")
    points.fill("5")
    points.press("Tab")
    expect(dialog.locator(".part-points .saved-note")).to_be_visible()
    expect(dialog.locator(".activity-stream")).to_contain_text("changed points")
    # The board behind follows.
    expect(page.locator(f"#card-{card.pk} .card-title")).to_have_text("Tune the BPE tokenizer")

    # Back closes the modal and returns to the board's URL, query string included.
    page.go_back()
    expect(dialog).to_have_count(0)
    expect(page).to_have_url(board_url)

    # Open again; Esc closes it and the focus comes back to the card.
    page.locator(f"#card-{card.pk} a.card-title").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page).to_have_url(board_url)
    expect(page.locator(f"#card-{card.pk} a.card-title")).to_be_focused()

    # Saved for good: after a reload the card shows what was typed.
    page.reload()
    page.locator(f"#card-{card.pk} a.card-title").click()
    expect(dialog.locator("#tf-points")).to_have_value("5")
    expect(dialog.locator("h2.ticket-title")).to_have_text("Tune the BPE tokenizer")
    ticket = Ticket.objects.get(pk=card.pk)
    assert (ticket.title, ticket.points) == ("Tune the BPE tokenizer", 5)

    # A link to the card opens its page.
    page.goto(f"{live_server.url}/b/{board.pk}/t/{card.number}/")
    expect(page.locator(".ticket-page h2.ticket-title")).to_have_text("Tune the BPE tokenizer")


def test_on_a_phone_the_card_is_a_full_screen_sheet_inside_the_screen(browser, live_server, board, columns, alice):
    nlp = board.labels.create(name="nlp", color="#1f7a8c")
    card = make_ticket(board, alice, title="A rather long card title that has to wrap on a narrow phone screen",
                       description="A description with a long URL https://example.org/" + "x" * 120,
                       labels=(nlp,), points=3)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server, "bob")
    page.goto(f"{live_server.url}/b/{board.pk}/")

    page.locator(f"#card-{card.pk} a.card-title").tap()
    dialog = page.locator("dialog#ticket-dialog")
    expect(dialog).to_be_visible()

    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate("document.querySelector('dialog#ticket-dialog').scrollWidth") <= box["width"] + 1
    # The side panel stacks under the title and description.
    side = dialog.locator(".ticket-side").bounding_box()
    text = dialog.locator(".ticket-text").bounding_box()
    assert side["y"] >= text["y"] + text["height"] - 1
    assert side["x"] >= box["x"] and side["x"] + side["width"] <= box["x"] + box["width"]
    shot(page, "modal-390")
    dialog.locator(".ticket-side").scroll_into_view_if_needed()
    shot(page, "modal-390-side")

    # The shared link: the card's own page, inside the screen too.
    page.goto(f"{live_server.url}/b/{board.pk}/t/{card.number}/")
    expect(page.locator(".ticket-page h2.ticket-title")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "ticket-page-390")
    context.close()


def test_labels_are_picked_from_the_keyboard_with_a_filter(page, live_server, board, columns, alice):
    page.set_viewport_size({"width": 1440, "height": 900})
    for name in ("nlp", "vision", "infra"):
        board.labels.create(name=name, color="#1f7a8c")
    card = make_ticket(board, alice, title="Label me")
    sign_in(page, live_server, "bob")
    page.goto(f"{live_server.url}/b/{board.pk}/")
    page.locator(f"#card-{card.pk} a.card-title").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#ticket-dialog")

    dialog.get_by_text("Choose labels…").focus()
    page.keyboard.press("Enter")  # opens the picker
    dialog.get_by_label("Filter labels").fill("vis")
    expect(dialog.locator(".label-option:visible")).to_have_count(1)
    dialog.get_by_label("Filter labels").press("Enter")  # ticks the one label shown

    expect(dialog.locator(".labels-view .chips .label")).to_have_text(["vision"])
    expect(page.locator(f"#card-{card.pk} .label")).to_have_text(["vision"])
    assert list(Ticket.objects.get(pk=card.pk).labels.values_list("name", flat=True)) == ["vision"]


def test_a_modal_redrawn_by_the_server_stays_open_at_the_cards_url(page, live_server, board, columns, alice):
    """Archive answers the whole modal again (hx-target #modal): the old dialog
    goes, the new one opens, and the URL still names the card."""
    page.set_viewport_size({"width": 1440, "height": 900})
    card = make_ticket(board, alice, title="Archive me")
    sign_in(page, live_server, "bob")
    board_url = f"{live_server.url}/b/{board.pk}/"
    page.goto(board_url)
    page.locator(f"#card-{card.pk} a.card-title").click()
    dialog = page.locator("dialog#ticket-dialog")
    expect(page).to_have_url(re.compile(rf"/t/{card.number}/$"))

    dialog.get_by_role("button", name="Archive card").click()

    expect(dialog.get_by_text("Archived: the card is off the board.")).to_be_visible()
    expect(dialog).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/t/{card.number}/$"))
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page).to_have_url(board_url)
