"""The board page as a standup reads it: points per column and per swimlane,
one tab stop per card, a colour per person, a skip link and a live region."""

import re

import pytest

from board import services
from board.models import Ticket
from tests.factories import make_ticket

CARD = re.compile(r'<li class="card [^"]*" id="card-(\d+)".*?</li>', re.S)


def cards_html(content: bytes) -> dict[int, str]:
    return {int(m.group(1)): m.group(0) for m in CARD.finditer(content.decode())}


def column_points(content: bytes) -> dict[int, str]:
    return {int(pk): text for pk, text in re.findall(r'data-points-for="(\d+)"[^>]*>([^<]*)<', content.decode())}


def lane_points(content: bytes) -> dict[str, str]:
    return dict(re.findall(r'data-lane-points-for="([^"]*)"[^>]*>([^<]*)<', content.decode()))


@pytest.fixture
def pointed(board, columns, alice, bob):
    """
    Backlog          Whiteboarding     Implementation
    bob 3 (bug)      alice 5           bob 8
    alice 2          nobody 1
    nobody — (no points)
    """
    backlog, whiteboarding, implementation = columns[0], columns[1], columns[2]
    return {
        "bob_3": make_ticket(board, alice, title="Bob 3", points=3, assignee=bob, kind="bug", column=backlog),
        "alice_2": make_ticket(board, alice, title="Alice 2", points=2, assignee=alice, column=backlog),
        "none": make_ticket(board, alice, title="Unpointed", column=backlog),
        "alice_5": make_ticket(board, alice, title="Alice 5", points=5, assignee=alice, column=whiteboarding),
        "nobody_1": make_ticket(board, alice, title="Nobody 1", points=1, column=whiteboarding),
        "bob_8": make_ticket(board, alice, title="Bob 8", points=8, assignee=bob, column=implementation),
    }


@pytest.mark.django_db
def test_each_column_head_shows_the_points_of_its_cards(client, alice, board, columns, pointed):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/")

    assert column_points(response.content) == {
        columns[0].pk: "5 pts", columns[1].pk: "6 pts", columns[2].pk: "8 pts", columns[3].pk: "0 pts",
        columns[4].pk: "0 pts",
    }


@pytest.mark.django_db
def test_column_points_count_only_the_cards_the_filters_show(client, alice, board, columns, pointed):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/?assignee=bob")

    points = column_points(response.content)
    assert (points[columns[0].pk], points[columns[1].pk], points[columns[2].pk]) == ("3 pts", "0 pts", "8 pts")


@pytest.mark.django_db
def test_archived_cards_add_no_points(client, alice, board, columns, pointed):
    Ticket.objects.filter(pk=pointed["bob_8"].pk).update(archived_at="2026-01-01T00:00:00Z")
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/")

    assert column_points(response.content)[columns[2].pk] == "0 pts"


@pytest.mark.django_db
def test_each_swimlane_title_shows_the_points_of_its_cards(client, alice, bob, vera, board, pointed):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/?lanes=assignee")

    assert lane_points(response.content) == {
        str(alice.pk): "7 pts", str(bob.pk): "11 pts", str(vera.pk): "0 pts", "none": "1 pt",
    }


@pytest.mark.django_db
def test_the_poll_answers_the_column_points_of_the_filtered_view(client, alice, bob, board, columns, pointed):
    board.refresh_from_db()
    since = board.version
    services.ticket_move(board=board, actor=bob, ticket_id=pointed["bob_3"].pk,
                         expected_version=pointed["bob_3"].version, to_column_id=columns[2].pk, position="top")
    client.force_login(alice)

    data = client.get(f"/b/{board.pk}/poll/?v={since}&layout={board.layout_version}&assignee=bob").json()

    assert data["points"][str(columns[2].pk)] == 11  # bob's 3 joined bob's 8
    assert data["points"][str(columns[1].pk)] == 0  # alice's and nobody's cards are filtered out
    assert data["counts"][str(columns[1].pk)] == 2  # the WIP count still counts every card


@pytest.mark.django_db
def test_a_card_is_one_link_its_title_and_the_move_button_is_out_of_the_tab_order(client, alice, board, pointed):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/")

    cards = cards_html(response.content)
    assert len(cards) == len(pointed)
    for html in cards.values():
        assert re.findall(r"<a\b[^>]*>", html) == re.findall(r'<a class="card-title"[^>]*>', html)
        assert len(re.findall(r"<a\b", html)) == 1
        assert 'class="card-move" tabindex="-1"' in html
        assert 'aria-keyshortcuts="M"' in html  # the key that opens the move menu instead


@pytest.mark.django_db
def test_a_viewer_gets_no_move_shortcut(client, vera, board, pointed):
    client.force_login(vera)

    response = client.get(f"/b/{board.pk}/")

    assert "aria-keyshortcuts" not in response.content.decode()


@pytest.mark.django_db
def test_a_person_has_one_avatar_colour_on_every_card_and_two_people_have_two(client, alice, bob, board, pointed):
    client.force_login(alice)

    cards = cards_html(client.get(f"/b/{board.pk}/").content)

    def colour(key):
        return re.search(r'class="avatar (av-\d+)"', cards[pointed[key].pk]).group(1)

    assert colour("alice_2") == colour("alice_5")
    assert colour("bob_3") == colour("bob_8")
    assert colour("alice_2") != colour("bob_3")


@pytest.mark.django_db
def test_the_board_page_starts_with_a_skip_link_and_has_a_live_region_for_moves(client, alice, board, pointed):
    client.force_login(alice)

    content = client.get(f"/b/{board.pk}/").content.decode()

    body = content[content.index("<body"):]
    first_link = re.search(r"<(a|button|input|select)\b[^>]*>", body[body.index(">") + 1:]).group(0)
    assert first_link == '<a class="skip-link" href="#board">'
    assert re.search(r'<div id="board-announcer"[^>]*aria-live="polite"', content)
    assert '<div id="board" tabindex="-1"' in content
