"""The standup in a real browser: one person at a time, walked with the keyboard."""

import os
import re

import pytest
from playwright.sync_api import expect

from board import services
from board.models import Ticket
from tests.browser.pages import sign_in
from tests.factories import make_ticket

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]


def test_the_keyboard_walks_people_and_a_reload_keeps_the_person(browser, live_server, board, columns, alice, bob,
                                                                 output_path):
    # Two people with something to say: Alice moved a card, Bob commented on one.
    card = make_ticket(board, alice, title="Tune the learning rate", assignee=alice)
    services.ticket_move(board=board, actor=alice, ticket_id=card.pk,
                         expected_version=Ticket.objects.get(pk=card.pk).version, to_column_id=columns[2].pk)
    other = make_ticket(board, alice, title="Fix leakage in target encoding", assignee=bob)
    services.comment_add(board=board, ticket_id=other.pk, author=bob, body="The customer id leaked <b>in</b>.")
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(page, live_server, "bob")

    page.goto(f"{live_server.url}/b/{board.pk}/")
    page.get_by_role("link", name="Standup").click()

    alice_part, bob_part = page.locator("#person-alice"), page.locator("#person-bob")
    expect(alice_part).to_be_visible()
    expect(bob_part).to_be_hidden()
    expect(alice_part.get_by_role("heading", name="Alice Owner")).to_be_visible()
    expect(alice_part.locator(".item-detail", has_text="Backlog → Implementation")).to_have_count(1)

    page.keyboard.press("ArrowRight")

    expect(bob_part).to_be_visible()
    expect(alice_part).to_be_hidden()
    expect(bob_part.locator(".excerpt")).to_have_text("The customer id leaked <b>in</b>.")
    expect(page).to_have_url(re.compile(r"[?&]person=bob"))
    # Large type for the back of the room
    title_px = bob_part.locator(".item-title").first.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert title_px >= 24
    os.makedirs(output_path, exist_ok=True)
    page.screenshot(path=os.path.join(output_path, "standup-bob-1440x900.png"), full_page=True)

    page.reload()
    expect(bob_part).to_be_visible()
    expect(alice_part).to_be_hidden()

    page.keyboard.press("ArrowLeft")
    expect(alice_part).to_be_visible()
    expect(bob_part).to_be_hidden()
    expect(page).to_have_url(re.compile(r"[?&]person=alice"))

    page.get_by_role("link", name="Next person →").first.click()
    expect(bob_part).to_be_visible()


def test_the_address_can_name_the_person_with_a_fragment(page, live_server, board, bob):
    sign_in(page, live_server, "bob")

    page.goto(f"{live_server.url}/b/{board.pk}/standup/#person-bob")

    expect(page.locator("#person-bob")).to_be_visible()
    expect(page.locator("#person-alice")).to_be_hidden()
    expect(page.locator("#person-bob")).to_contain_text("Nothing moved since")
