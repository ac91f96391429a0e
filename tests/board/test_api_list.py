"""The API's ticket list: TicketSerializer's output, read without model objects."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from board import services
from board.models import Ticket
from board.serializers import TicketSerializer
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, bob):
    client.force_login(bob)
    return client


def _varied_tickets(board, bob, columns, n):
    """Tickets with and without assignee, labels (two, out of name order), epic, sprint, dates, block."""
    vision = services.label_create(board=board, name="vision", color="#1f7a8c")
    data = services.label_create(board=board, name="data", color="#7c3aed")
    epic = services.epic_create(board=board, name="Robustness", color="#2563eb")
    tickets = []
    for i in range(n):
        ticket = make_ticket(board, bob, title=f"Ticket {i}", column=columns[i % len(columns)])
        Ticket.objects.filter(pk=ticket.pk).update(
            assignee=bob if i % 2 else None, points=(i % 5) or None, epic=epic if i % 3 == 0 else None,
            blocked=i % 4 == 0, blocked_reason="GPUs" if i % 4 == 0 else "",
            started_at=timezone.now() - timedelta(days=i) if i % 2 else None)
        ticket.labels.set([vision, data] if i % 2 else [vision] if i % 3 else [])
        tickets.append(ticket)
    return tickets


def test_the_list_gives_exactly_what_the_ticket_serializer_gives(api, board, bob, columns):
    _varied_tickets(board, bob, columns, 12)

    response = api.get(f"/api/boards/{board.pk}/tickets/?limit=100")

    assert response.status_code == 200
    expected = TicketSerializer(
        Ticket.objects.filter(board=board).select_related("board", "assignee").prefetch_related("labels")
        .order_by("column__position", "rank"), many=True).data
    assert response.json()["results"] == [dict(item) for item in expected]
    assert response.json()["count"] == 12
    assert any(item["labels"] == ["data", "vision"] for item in response.json()["results"])  # by name


def test_the_list_pages_with_limit_and_offset_in_board_order(api, board, bob, columns):
    _varied_tickets(board, bob, columns, 7)
    everything = [t["id"] for t in api.get(f"/api/boards/{board.pk}/tickets/").json()["results"]]

    first = api.get(f"/api/boards/{board.pk}/tickets/?limit=3").json()
    second = api.get(f"/api/boards/{board.pk}/tickets/?limit=3&offset=3").json()

    assert [t["id"] for t in first["results"] + second["results"]] == everything[:6]
    assert first["count"] == 7 and first["next"].endswith("limit=3&offset=3") and first["previous"] is None


def test_the_list_applies_the_board_filters(api, board, bob, columns):
    _varied_tickets(board, bob, columns, 6)

    mine = api.get(f"/api/boards/{board.pk}/tickets/?assignee=bob").json()["results"]

    assert mine and all(t["assignee"] == "bob" for t in mine)


def test_the_list_takes_the_same_number_of_queries_for_ten_tickets_as_for_a_hundred(api, board, bob, columns):
    _varied_tickets(board, bob, columns, 10)
    api.get(f"/api/boards/{board.pk}/tickets/")  # the session's first use
    with CaptureQueriesContext(connection) as ten:
        api.get(f"/api/boards/{board.pk}/tickets/")
    for i in range(90):
        make_ticket(board, bob, title=f"More {i}", column=columns[0])
    with CaptureQueriesContext(connection) as hundred:
        response = api.get(f"/api/boards/{board.pk}/tickets/")

    assert len(response.json()["results"]) == 100
    assert len(hundred.captured_queries) == len(ten.captured_queries) <= 6
