"""The board in a real browser: Debian's chromium driven by Playwright against
a live server. These cover what only a browser can show: drag and drop,
live updates between two people, escaping, and the keyboard."""


import pytest
from playwright.sync_api import expect

from board.models import Board, Column, Ticket
from tests.browser.pages import sign_in
from tests.factories import make_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



def open_board(page, live_server, board):
    page.goto(f"{live_server.url}/b/{board.pk}/")
    expect(page.locator("#board")).to_be_visible()


def column_list(page, column):
    return page.locator(f'.cards[data-column="{column.pk}"]')


def test_signing_in_shows_the_boards_i_belong_to(page, live_server, board, charlie):
    sign_in(page, live_server, "bob")
    expect(page.get_by_role("link", name=board.name)).to_be_visible()
    page.click(f"text={board.name}")
    expect(page.locator(".column-head h2")).to_have_text(
        ["Backlog", "Whiteboarding", "Implementation", "Code review", "Done"]
    )


def test_a_dragged_card_stays_after_reload_and_a_second_viewer_sees_it_within_3s(
    browser, live_server, board, columns, alice, bob
):
    backlog, implementation = columns[0], columns[2]
    card = make_ticket(board, alice, title="Tune learning rate schedule")
    make_ticket(board, alice, title="Fix leakage in target encoding")

    mover = browser.new_context().new_page()
    watcher = browser.new_context().new_page()
    sign_in(mover, live_server, "bob")
    sign_in(watcher, live_server, "alice")
    open_board(mover, live_server, board)
    open_board(watcher, live_server, board)
    expect(column_list(watcher, backlog).locator(f"#card-{card.pk}")).to_be_visible()

    mover.locator(f"#card-{card.pk} .card-title").drag_to(column_list(mover, implementation))

    # The second person's board follows within 3 seconds, without a reload.
    expect(column_list(watcher, implementation).locator(f"#card-{card.pk}")).to_be_visible(timeout=3000)
    expect(column_list(watcher, backlog).locator(f"#card-{card.pk}")).to_have_count(0)
    expect(watcher.locator(f'[data-count-for="{implementation.pk}"]')).to_have_text("1 / 4")

    card.refresh_from_db()
    assert card.column_id == implementation.pk
    mover.reload()
    expect(column_list(mover, implementation).locator(f"#card-{card.pk}")).to_be_visible()


def test_reordering_within_a_column_is_the_same_for_every_viewer(browser, live_server, board, columns, alice):
    backlog = columns[0]
    a, b, c = (make_ticket(board, alice, title=t) for t in ("Alpha", "Bravo", "Charlie"))
    page = browser.new_context().new_page()
    sign_in(page, live_server, "alice")
    open_board(page, live_server, board)

    # Backlog: Alpha Bravo Charlie → drop Charlie onto Alpha → Charlie Alpha Bravo
    page.locator(f"#card-{c.pk} .card-title").drag_to(page.locator(f"#card-{a.pk}"), target_position={"x": 20, "y": 5})
    expect(column_list(page, backlog).locator(".card-title")).to_have_text(["Charlie", "Alpha", "Bravo"])

    other = browser.new_context().new_page()
    sign_in(other, live_server, "alice")
    open_board(other, live_server, board)
    expect(column_list(other, backlog).locator(".card-title")).to_have_text(["Charlie", "Alpha", "Bravo"])
    assert list(Ticket.objects.filter(column=backlog).order_by("rank").values_list("title", flat=True)) == [
        "Charlie", "Alpha", "Bravo",
    ]


def test_a_move_into_a_full_column_springs_back_when_wip_is_hard(page, live_server, board, columns, alice):
    backlog, whiteboarding = columns[0], columns[1]
    Board.objects.filter(pk=board.pk).update(wip_mode=Board.WipMode.HARD)
    Column.objects.filter(pk=whiteboarding.pk).update(wip_limit=1)
    make_ticket(board, alice, title="Already whiteboarding", column=whiteboarding)
    card = make_ticket(board, alice, title="Wants to start")
    sign_in(page, live_server, "alice")
    open_board(page, live_server, board)

    page.locator(f"#card-{card.pk} .card-title").drag_to(column_list(page, whiteboarding))

    expect(page.locator(".toast-error")).to_contain_text("WIP limit")
    expect(column_list(page, backlog).locator(f"#card-{card.pk}")).to_be_visible()
    card.refresh_from_db()
    assert card.column_id == backlog.pk


def test_a_card_title_with_html_renders_as_text_and_runs_nothing(page, live_server, board, alice):
    title = "<img src=x onerror=alert(1)>"
    card = make_ticket(board, alice, title=title, description="<script>alert(2)</script> **bold**")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, live_server, "alice")
    open_board(page, live_server, board)

    expect(page.locator(f"#card-{card.pk} .card-title")).to_have_text(title)
    assert page.locator("#board img").count() == 0
    page.locator(f"#card-{card.pk} .card-title").click()
    expect(page.locator("dialog.modal .ticket-title")).to_have_text(title)
    expect(page.locator("dialog.modal .markdown strong")).to_have_text("bold")
    assert page.locator("dialog.modal script").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_a_card_moves_with_the_keyboard_only(page, live_server, board, columns, alice):
    implementation = columns[2]
    top = make_ticket(board, alice, title="First in line")
    card = make_ticket(board, alice, title="Move me by keyboard")
    sign_in(page, live_server, "alice")
    open_board(page, live_server, board)

    # A card is one tab stop, its title; M on it opens the move menu.
    page.locator(f"#card-{card.pk} .card-title").focus()
    page.keyboard.press("m")
    menu = page.locator("#move-menu")
    expect(menu).to_be_visible()
    # Up one: the card goes above "First in line".
    expect(page.locator("#move-menu button:focus")).to_have_text("Up one")
    page.keyboard.press("Enter")
    expect(column_list(page, columns[0]).locator(".card-title")).to_have_text(["Move me by keyboard", "First in line"])

    # Then to Implementation, choosing the item with the arrow keys; focus
    # came back to the moved card, so M opens its menu again.
    expect(page.locator(f"#card-{card.pk} .card-title")).to_be_focused()
    page.keyboard.press("m")
    while page.evaluate("document.activeElement.textContent") != "To Implementation":
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(column_list(page, implementation).locator(f"#card-{card.pk}")).to_be_visible()
    card.refresh_from_db()
    top.refresh_from_db()
    assert card.column_id == implementation.pk
    assert top.column_id == columns[0].pk


def test_editing_a_card_in_the_modal_updates_the_board(page, live_server, board, alice):
    card = make_ticket(board, alice, title="Baseline: logistic regression")
    sign_in(page, live_server, "alice")
    open_board(page, live_server, board)
    page.locator(f"#card-{card.pk} .card-title").click()
    dialog = page.locator("dialog.modal")
    dialog.get_by_role("button", name="Edit the title").click()
    expect(dialog.locator("#tf-title")).to_be_focused()  # the editor takes focus once it is in place
    dialog.locator("#tf-title").fill("Baseline: logistic regression with class weights")
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(dialog.locator("h2.ticket-title")).to_have_text("Baseline: logistic regression with class weights")
    # Invalid input: the message shows next to the field, nothing is saved.
    dialog.locator("#tf-points").fill("200")
    dialog.locator("#tf-points").press("Tab")
    expect(dialog.locator(".part-points .field-error")).to_be_visible()
    card.refresh_from_db()
    assert card.points is None

    dialog.locator("#tf-points").fill("3")
    dialog.locator("#tf-points").press("Tab")
    expect(dialog.locator(".part-points .saved-note")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(page.locator(f"#card-{card.pk} .card-title")).to_have_text("Baseline: logistic regression with class weights")
    expect(page.locator(f"#card-{card.pk} .points")).to_have_text("3")


def test_a_viewer_cannot_drag_cards(page, live_server, board, columns, alice):
    card = make_ticket(board, alice, title="Read-only for viewers")
    sign_in(page, live_server, "vera")
    open_board(page, live_server, board)
    expect(page.locator(f"#card-{card.pk} .card-move")).to_have_count(0)
    page.locator(f"#card-{card.pk} .card-title").drag_to(column_list(page, columns[2]))
    page.wait_for_timeout(300)
    card.refresh_from_db()
    assert card.column_id == columns[0].pk


def test_a_card_added_from_the_toolbar_appears_in_its_column(page, live_server, board, columns, alice):
    sign_in(page, live_server, "bob")
    open_board(page, live_server, board)
    page.get_by_text("+ Add card").click()  # the quick-add opens under its button
    page.fill(".quick-add input[name=title]", "Ablation: drop the tenure features")
    page.select_option(".quick-add select[name=kind]", "experiment")
    page.select_option(".quick-add select[name=column]", str(columns[1].pk))
    page.click(".quick-add button[type=submit]")

    expect(column_list(page, columns[1]).locator(".card-title")).to_have_text(["Ablation: drop the tenure features"])
    expect(page.locator(".quick-add input[name=title]")).to_have_value("")
    ticket = Ticket.objects.get(board=board)
    assert (ticket.kind, ticket.column_id, ticket.created_by.username) == ("experiment", columns[1].pk, "bob")


def test_a_comment_added_in_the_modal_shows_rendered_markdown(page, live_server, board, alice):
    card = make_ticket(board, alice, title="Compare calibration of LR and GBM")
    sign_in(page, live_server, "bob")
    open_board(page, live_server, board)
    page.locator(f"#card-{card.pk} .card-title").click()
    dialog = page.locator("dialog.modal")
    dialog.locator("textarea[name=body]").fill("GBM is **better calibrated** <script>alert(1)</script>")
    dialog.get_by_role("button", name="Comment").click()

    expect(dialog.locator(".comment .markdown strong")).to_have_text("better calibrated")
    assert dialog.locator(".comment script").count() == 0
    expect(dialog.locator("#comments h3")).to_have_text("Activity (1 comment)")
