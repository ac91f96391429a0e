"""Sprint planning in a real browser: a card dragged from the backlog into the
sprint is in the sprint (SortableJS, posted through htmx with the CSRF header
from <body hx-headers>), and the committed points follow."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from board import services
from board.models import Ticket, TicketEvent
from tests.browser.pages import sign_in
from tests.factories import make_ticket

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]


def test_dragging_a_backlog_card_into_the_sprint_plans_it(page, live_server, board, alice, bob):
    start = timezone.localdate()
    sprint = services.sprint_create(board=board, name="Sprint 1", start=start, end=start + timedelta(days=13))
    card = make_ticket(board, alice, title="Tune the learning rate", points=5)
    make_ticket(board, alice, title="Already planned", points=3, sprint=sprint)
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, live_server, "bob")
    page.goto(f"{live_server.url}/b/{board.pk}/sprints/{sprint.pk}/plan/")
    expect(page.locator("#planned-points")).to_have_text("3")
    expect(page.locator("#planning[data-ready]")).to_have_count(1)  # SortableJS is set up

    # Dropped into the free space under the sprint's last card.
    target = page.locator('[data-list="sprint"]')
    box = target.bounding_box()
    page.locator(f'[data-list="backlog"] [data-id="{card.pk}"] .points').drag_to(
        target, target_position={"x": box["width"] / 2, "y": box["height"] - 12})

    expect(page.locator("#planned-points")).to_have_text("8")
    expect(page.locator(f'[data-list="sprint"] [data-id="{card.pk}"]')).to_be_visible()
    assert Ticket.objects.get(pk=card.pk).sprint_id == sprint.pk
    assert TicketEvent.objects.filter(ticket_id=card.pk, field="sprint", new=sprint.pk).count() == 1
    assert errors == []


def test_ticking_cards_and_pressing_remove_takes_them_out(page, live_server, board, alice, bob):
    start = timezone.localdate()
    sprint = services.sprint_create(board=board, name="Sprint 1", start=start, end=start + timedelta(days=13))
    card = make_ticket(board, alice, title="Out of scope", points=2, sprint=sprint)
    sign_in(page, live_server, "bob")
    page.goto(f"{live_server.url}/b/{board.pk}/sprints/{sprint.pk}/plan/")

    page.check(f"#pick-{card.pk}")
    page.get_by_role("button", name="← Remove").click()

    expect(page.locator(f'[data-list="backlog"] [data-id="{card.pk}"]')).to_be_visible()
    expect(page.locator("#planned-points")).to_have_text("0")
    assert Ticket.objects.get(pk=card.pk).sprint_id is None
