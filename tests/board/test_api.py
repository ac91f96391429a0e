"""The REST API: the same services and rules as the pages, for scripts and notebooks."""

import pytest

from board import services
from board.models import Ticket, TicketEvent
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def vision(board):
    return services.label_create(board=board, name="vision", color="#1f7a8c")


def test_creating_a_ticket_names_people_and_labels_as_people_do(api, board, bob, vision, columns):
    response = api.post(
        f"/api/boards/{board.pk}/tickets/",
        {"title": "Try focal loss on the rare classes", "kind": "experiment", "points": 3, "assignee": "bob",
         "labels": ["vision"], "column": columns[1].pk},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert (ticket.title, ticket.kind, ticket.points, ticket.assignee, ticket.column) == (
        "Try focal loss on the rare classes", "experiment", 3, bob, columns[1],
    )
    assert list(ticket.labels.all()) == [vision]
    assert response.json()["key"] == f"{board.key}-{ticket.number}"
    assert TicketEvent.objects.filter(ticket=ticket, field="created", actor=bob).exists()


@pytest.mark.parametrize("payload, field", [
    ({"title": ""}, "title"),
    ({"title": "x", "assignee": "charlie"}, "assignee"),
    ({"title": "x", "labels": ["no-such-label"]}, "labels"),
    ({"title": "x", "points": 101}, "points"),
    ({"title": "x", "column": 2**40}, "column"),
    ({"title": "x", "kind": "epic"}, "kind"),
])
def test_creating_with_bad_input_names_the_field_and_saves_nothing(api, board, charlie, payload, field):
    response = api.post(f"/api/boards/{board.pk}/tickets/", payload, content_type="application/json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Ticket.objects.filter(board=board).exists()


def test_editing_changes_only_the_fields_sent_and_records_them(api, board, alice, bob, vision):
    ticket = make_ticket(board, alice, title="Baseline", points=2, labels=(vision,))

    response = api.patch(
        f"/api/boards/{board.pk}/tickets/{ticket.pk}/", {"version": ticket.version, "points": 5},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    ticket.refresh_from_db()
    assert (ticket.title, ticket.points, list(ticket.labels.all())) == ("Baseline", 5, [vision])
    event = TicketEvent.objects.filter(ticket=ticket).latest("id")
    assert (event.field, event.old, event.new, event.actor, event.source) == ("points", 2, 5, bob, "api")


def test_editing_with_a_stale_version_answers_409_and_changes_nothing(api, board, alice):
    ticket = make_ticket(board, alice, title="Baseline")
    stale = ticket.version
    services.ticket_update(ticket_id=ticket.pk, board=board, actor=alice, expected_version=stale,
                           data=services.TicketInput(title="Baseline v2"))

    response = api.patch(f"/api/boards/{board.pk}/tickets/{ticket.pk}/", {"version": stale, "title": "Mine"},
                         content_type="application/json")

    assert response.status_code == 409
    ticket.refresh_from_db()
    assert ticket.title == "Baseline v2"


def test_editing_without_a_version_is_refused(api, board, alice):
    ticket = make_ticket(board, alice, title="Baseline")

    response = api.patch(f"/api/boards/{board.pk}/tickets/{ticket.pk}/", {"title": "Mine"},
                         content_type="application/json")

    assert response.status_code == 422
    assert "version" in response.json()


def test_a_ticket_of_another_board_is_404(api, board, alice, charlie):
    from tests.factories import make_board

    other = make_board(charlie, name="Other team")
    theirs = make_ticket(other, charlie, title="Secret")

    assert api.get(f"/api/boards/{board.pk}/tickets/{theirs.pk}/").status_code == 404
    assert api.get(f"/api/boards/{other.pk}/tickets/{theirs.pk}/").status_code == 404


def test_the_schema_needs_a_signed_in_user(client, bob):
    assert client.get("/api/schema/").status_code in (401, 403)
    client.force_login(bob)
    assert client.get("/api/schema/").status_code == 200


def test_a_script_authenticates_with_a_token_and_needs_no_csrf(board, bob):
    from django.test import Client
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=bob)
    script = Client(enforce_csrf_checks=True)

    response = script.post(
        f"/api/boards/{board.pk}/tickets/", {"title": "Logged from a notebook"},
        content_type="application/json", HTTP_AUTHORIZATION=f"Token {token.key}",
    )

    assert response.status_code == 201, response.content
    assert script.get(f"/api/boards/{board.pk}/tickets/", HTTP_AUTHORIZATION="Token wrong").status_code == 401
