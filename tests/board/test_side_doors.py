"""No side doors into a ticket's history.

Each of these was a hole on the old main: the admin changed and deleted
tickets and events without a trace, deleting a sprint, an epic or a user
cleared links silently, re-categorising a column left its cards' flow times
wrong, a departed assignee made their cards uneditable, and nothing in the
database stopped a value the code never writes. Here each goes through the
services and leaves its events, and replay agrees with the ticket.
"""

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from board import selectors, services
from board.cards import CardRenderer
from board.models import (
    Board,
    Column,
    Epic,
    HistoryIsAppendOnly,
    Label,
    Membership,
    Sprint,
    Ticket,
    TicketEvent,
)
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def replay_agrees(ticket):
    t = Ticket.objects.select_related("column").get(pk=ticket.pk)
    state = selectors.ticket_replay(t.pk)
    live = {
        "column": t.column_id, "category": t.column.category, "assignee": t.assignee_id, "epic": t.epic_id,
        "sprint": t.sprint_id, "labels": set(t.labels.values_list("pk", flat=True)), "title": t.title,
        "started_at": t.started_at, "done_at": t.done_at, "archived": t.archived_at is not None,
    }
    return {key: state[key] for key in live} == live


def last_event(ticket, field=None):
    events = TicketEvent.objects.filter(ticket_id=ticket.pk)
    if field:
        events = events.filter(field=field)
    return events.order_by("-board_version").first()


@pytest.fixture
def staff_client(client, alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    return client


def admin_form(ticket, **overrides):
    t = Ticket.objects.get(pk=ticket.pk)
    data = {
        "title": t.title, "description": t.description, "kind": t.kind,
        "points": "" if t.points is None else t.points, "assignee": t.assignee_id or "",
        "labels": list(t.labels.values_list("pk", flat=True)), "epic": t.epic_id or "",
        "sprint": t.sprint_id or "", "timebox_days": t.timebox_days, "blocked_reason": t.blocked_reason,
        "comments-TOTAL_FORMS": 0, "comments-INITIAL_FORMS": 0, "_save": "Save",
    }
    data.update(overrides)
    return data


# --- the admin ------------------------------------------------------------------

def test_an_admin_edit_goes_through_the_service_and_names_the_admin_in_history(staff_client, board, alice):
    ticket = make_ticket(board, alice, title="Baseline")
    version = Ticket.objects.get(pk=ticket.pk).version

    response = staff_client.post(f"/admin/board/ticket/{ticket.pk}/change/", admin_form(ticket, title="Baseline v2"))

    assert response.status_code == 302
    event = last_event(ticket)
    assert (event.field, event.old, event.new, event.source, event.actor) == (
        "title", "Baseline", "Baseline v2", "admin", alice)
    assert selectors.writer_name(event) == "Alice Owner (Admin)"
    assert Ticket.objects.get(pk=ticket.pk).version == version + 1
    assert replay_agrees(ticket)


def test_an_admin_edit_with_a_bad_value_is_refused_next_to_the_field(staff_client, board, alice, charlie):
    ticket = make_ticket(board, alice, title="Baseline")
    before = TicketEvent.objects.count()

    response = staff_client.post(f"/admin/board/ticket/{ticket.pk}/change/",
                                 admin_form(ticket, assignee=charlie.pk))  # not on the board

    assert response.status_code == 200  # the form again, with the error
    assert "must be a member of this board" in response.content.decode()
    assert TicketEvent.objects.count() == before
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_deleting_a_ticket_in_the_admin_keeps_its_history_and_records_the_deletion(staff_client, board, alice):
    ticket = make_ticket(board, alice, title="Stale idea", points=3)
    events_before = TicketEvent.objects.filter(ticket_id=ticket.pk).count()

    response = staff_client.post(f"/admin/board/ticket/{ticket.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Ticket.objects.filter(pk=ticket.pk).exists()
    assert TicketEvent.objects.filter(ticket_id=ticket.pk).count() == events_before + 1
    deleted = last_event(ticket)
    assert (deleted.field, deleted.source, deleted.old) == ("deleted", "admin", "Stale idea")
    assert selectors.ticket_replay(ticket.pk)["points"] == 3


def test_history_cannot_be_deleted_or_changed_in_the_admin(staff_client, board, alice):
    ticket = make_ticket(board, alice, title="Baseline")
    event = last_event(ticket)

    assert staff_client.get(f"/admin/board/ticketevent/{event.pk}/delete/").status_code == 403
    assert staff_client.post(f"/admin/board/ticketevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    response = staff_client.post("/admin/board/ticketevent/", {
        "action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})
    assert TicketEvent.objects.filter(pk=event.pk).exists()
    assert response.status_code in (200, 302)
    page = staff_client.get(f"/admin/board/ticketevent/{event.pk}/change/").content.decode()
    assert 'name="_save"' not in page  # view only


def test_history_cannot_be_deleted_or_changed_through_the_orm(board, alice):
    ticket = make_ticket(board, alice, title="Baseline")
    event = last_event(ticket)

    with pytest.raises(HistoryIsAppendOnly):
        event.delete()
    with pytest.raises(HistoryIsAppendOnly):
        TicketEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(HistoryIsAppendOnly):
        TicketEvent.objects.filter(pk=event.pk).update(new="rewritten")
    event.new = "rewritten"
    with pytest.raises(HistoryIsAppendOnly):
        event.save()
    assert TicketEvent.objects.get(pk=event.pk).new == last_event(ticket).new != "rewritten"


def test_a_board_with_history_cannot_be_deleted(board, alice):
    make_ticket(board, alice, title="Baseline")
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError), transaction.atomic():
        Board.objects.get(pk=board.pk).delete()
    assert TicketEvent.objects.filter(board=board).exists()


def test_admin_column_recategorisation_goes_through_the_service(staff_client, board, alice, columns):
    review = columns[3]
    ticket = make_ticket(board, alice, title="In review", column=review)

    response = staff_client.post(f"/admin/board/column/{review.pk}/change/",
                                 {"name": review.name, "category": "done", "wip_limit": ""})

    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.done_at is not None
    assert (last_event(ticket).field, last_event(ticket).source) == ("category", "admin")
    assert replay_agrees(ticket)


# --- deletions that reach tickets -----------------------------------------------------

@pytest.mark.parametrize("way", ["service", "admin", "shell"])
@pytest.mark.parametrize("kind", ["sprint", "epic"])
def test_deleting_a_sprint_or_epic_records_the_change_on_every_ticket(staff_client, board, alice, kind, way):
    item = (services.sprint_create(board=board, name="Sprint 1", start=date(2026, 11, 2), end=date(2026, 11, 13))
            if kind == "sprint" else services.epic_create(board=board, name="Retrieval"))
    tickets = [make_ticket(board, alice, title=f"T{i}", **{kind: item}) for i in range(3)]
    other = make_ticket(board, alice, title="Not in it")

    if way == "service":
        getattr(services, f"{kind}_delete")(board=board, actor=alice, **{f"{kind}_id": item.pk})
    elif way == "admin":
        assert staff_client.post(f"/admin/board/{kind}/{item.pk}/delete/", {"post": "yes"}).status_code == 302
    else:
        type(item).objects.get(pk=item.pk).delete()

    for ticket in tickets:
        event = last_event(ticket)
        assert (event.field, event.old, event.new) == (kind, item.pk, None)
        assert event.source == {"service": "person", "admin": "admin", "shell": "system"}[way]
        assert replay_agrees(ticket)
    assert last_event(other).field != kind


@pytest.mark.parametrize("way", ["service", "admin", "shell"])
def test_deleting_a_label_records_its_removal_on_every_ticket(staff_client, board, alice, way):
    gpu = services.label_create(board=board, name="gpu")
    ticket = make_ticket(board, alice, title="Sweep", labels=(gpu,))

    if way == "service":
        services.label_delete(board=board, label_id=gpu.pk, actor=alice)
    elif way == "admin":
        assert staff_client.post(f"/admin/board/label/{gpu.pk}/delete/", {"post": "yes"}).status_code == 302
    else:
        Label.objects.get(pk=gpu.pk).delete()

    event = last_event(ticket)
    assert (event.field, event.old, event.new, event.old_display) == ("labels", gpu.pk, None, "gpu")
    assert replay_agrees(ticket)


def test_deleting_a_user_unassigns_their_cards_with_events(staff_client, board, alice, bob):
    mine = make_ticket(board, alice, title="Bob's", assignee=bob)

    response = staff_client.post(f"/admin/auth/user/{bob.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=bob.pk).exists()
    fields = list(TicketEvent.objects.filter(ticket_id=mine.pk).order_by("-board_version")
                  .values_list("field", "source")[:2])
    assert fields == [("assignee", "admin"), ("member_left", "admin")]
    assert replay_agrees(mine)
    # the events Bob made keep his id; history names him as a deleted user
    assert selectors.writer_name(TicketEvent.objects.select_related("actor").get(
        ticket_id=mine.pk, field="member_left")) == "Alice Owner (Admin)"


def test_removing_a_member_keeps_their_cards_and_records_that_they_left(board, alice, bob):
    mine = make_ticket(board, alice, title="Bob's", assignee=bob)
    membership = Membership.objects.get(board=board, user=bob)

    services.membership_remove(board=board, membership_id=membership.pk, actor=alice)

    event = last_event(mine)
    assert (event.field, event.old, event.old_display, event.actor) == ("member_left", bob.pk, "Bob Member", alice)
    assert Ticket.objects.get(pk=mine.pk).assignee == bob
    assert replay_agrees(mine)


# --- a departed assignee ----------------------------------------------------------------

@pytest.fixture
def departed(board, alice, bob):
    ticket = make_ticket(board, alice, title="Bob's experiment", assignee=bob)
    services.membership_remove(board=board, membership_id=Membership.objects.get(board=board, user=bob).pk,
                               actor=alice)
    return Ticket.objects.get(pk=ticket.pk)


def test_a_ticket_whose_assignee_left_stays_editable_in_the_modal(client, board, alice, bob, departed):
    client.force_login(alice)
    form = client.get(f"/b/{board.pk}/t/{departed.number}/", **HTMX).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(title="Bob's experiment, rerun", assignee=bob.pk, labels=[])

    response = client.post(f"/b/{board.pk}/t/{departed.number}/", data, **HTMX)

    assert response.status_code == 200, response.content.decode()[:3000]
    departed.refresh_from_db()
    assert (departed.title, departed.assignee) == ("Bob's experiment, rerun", bob)
    assert "(left the board)" in response.content.decode()


def test_a_ticket_whose_assignee_left_stays_editable_through_the_api(client, board, alice, departed):
    client.force_login(alice)

    response = client.patch(f"/api/boards/{board.pk}/tickets/{departed.pk}/",
                            {"version": departed.version, "points": 5}, content_type="application/json")

    assert response.status_code == 200, response.content
    assert Ticket.objects.get(pk=departed.pk).points == 5


def test_assigning_someone_who_is_not_a_member_is_still_refused(board, alice, charlie, departed):
    with pytest.raises(Exception) as refused:
        services.ticket_patch(board=board, ticket_id=departed.pk, actor=alice, changes={"assignee": charlie})
    assert "member of this board" in str(refused.value)


# --- flow is in the events ----------------------------------------------------------------

def test_recategorising_a_column_restamps_its_cards_with_events(board, alice, columns):
    review = columns[3]
    a = make_ticket(board, alice, title="A", column=review)
    started = Ticket.objects.get(pk=a.pk).started_at

    services.column_update(board=board, column_id=review.pk, name="Code review", wip_limit=None,
                           category=Column.Category.DONE, actor=alice)

    a.refresh_from_db()
    assert a.done_at is not None and a.started_at == started
    event = last_event(a)
    assert (event.field, event.old, event.new, event.category) == ("category", "in_progress", "done", "done")
    assert replay_agrees(a)

    services.column_update(board=board, column_id=review.pk, name="Code review", wip_limit=None,
                           category=Column.Category.IN_PROGRESS, actor=alice)
    a.refresh_from_db()
    assert a.done_at is None
    assert replay_agrees(a)


def test_column_events_record_the_category_and_rank_at_that_moment(board, alice, columns):
    ticket = make_ticket(board, alice, title="A")
    ticket.refresh_from_db()
    services.ticket_move(board=board, actor=alice, ticket_id=ticket.pk, expected_version=ticket.version,
                         to_column_id=columns[4].pk)
    ticket.refresh_from_db()
    event = last_event(ticket)
    assert (event.field, event.category, event.rank) == ("column", "done", ticket.rank)


# --- archive and hard delete -------------------------------------------------------------

def test_an_archived_card_leaves_the_board_and_its_count_but_keeps_its_history(client, board, alice, columns):
    kept = make_ticket(board, alice, title="Kept")
    gone = make_ticket(board, alice, title="Shelved idea")
    services.ticket_archive(board=board, ticket_id=gone.pk, actor=alice)
    client.force_login(alice)

    page = client.get(f"/b/{board.pk}/").content.decode()

    assert "Kept" in page and "Shelved idea" not in page
    assert client.get(f"/b/{board.pk}/t/{gone.number}/").status_code == 200  # still readable by its link
    assert [t["title"] for t in client.get(f"/api/boards/{board.pk}/tickets/").json()["results"]] == ["Kept"]
    assert last_event(gone).field == "archived"
    assert replay_agrees(gone)
    services.ticket_restore(board=board, ticket_id=gone.pk, actor=alice)
    assert "Shelved idea" in client.get(f"/b/{board.pk}/").content.decode()
    assert replay_agrees(gone)
    assert kept.pk


def test_a_hard_delete_needs_the_cards_key_typed(client, board, alice):
    ticket = make_ticket(board, alice, title="Duplicate")
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/t/{ticket.number}/delete/", {"confirm": "nope"}, **HTMX)

    assert response.status_code == 422
    assert f"Type {board.key}-{ticket.number}" in response.content.decode()
    assert Ticket.objects.filter(pk=ticket.pk).exists()


# --- the database refuses what the code never writes ------------------------------------

def _refused(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_the_database_refuses_values_outside_every_choice(board, alice, columns):
    ticket = make_ticket(board, alice, title="A")
    _refused(lambda: Ticket.objects.filter(pk=ticket.pk).update(kind="<img>"))
    _refused(lambda: Column.objects.filter(pk=columns[0].pk).update(category="archived"))
    _refused(lambda: Membership.objects.filter(board=board).update(role="god"))
    _refused(lambda: Board.objects.filter(pk=board.pk).update(wip_mode="sometimes"))
    _refused(lambda: Sprint.objects.create(board=board, name="S", start=date(2026, 1, 1), end=date(2026, 1, 2),
                                           state="paused"))


def test_one_active_sprint_per_board(board):
    Sprint.objects.create(board=board, name="S1", start=date(2026, 1, 1), end=date(2026, 1, 14), state="active")
    _refused(lambda: Sprint.objects.create(board=board, name="S2", start=date(2026, 1, 15), end=date(2026, 1, 28),
                                           state="active"))
    Sprint.objects.create(board=board, name="S3", start=date(2026, 1, 15), end=date(2026, 1, 28), state="planned")


def test_label_and_epic_names_are_unique_regardless_of_case(board):
    Label.objects.create(board=board, name="GPU")
    _refused(lambda: Label.objects.create(board=board, name="gpu"))
    Epic.objects.create(board=board, name="Retrieval")
    _refused(lambda: Epic.objects.create(board=board, name="RETRIEVAL"))


def test_every_value_on_a_card_is_escaped_even_one_the_database_would_refuse(board, alice):
    from board.selectors import CardLookups
    ticket = make_ticket(board, alice, title="<b>bold</b>")
    card = Ticket.objects.get(pk=ticket.pk)
    card.kind = '"><img src=x onerror=alert(1)>'  # in memory only: the database refuses it
    card.label_ids = []

    html = CardRenderer(board, CardLookups({}, {}, {}), can_edit=True).render(card)

    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


# --- WIP limits apply to creation too ------------------------------------------------------

def test_a_hard_wip_limit_refuses_a_card_created_into_a_full_column(client, board, alice, columns):
    Board.objects.filter(pk=board.pk).update(wip_mode=Board.WipMode.HARD)
    review = columns[3]  # Code review, limit 3
    for i in range(review.wip_limit):
        make_ticket(board, alice, title=f"R{i}", column=review)
    client.force_login(alice)

    quick_add = client.post(f"/b/{board.pk}/tickets/new/", {"title": "One more", "kind": "story",
                                                             "column": review.pk}, **HTMX)
    api = client.post(f"/api/boards/{board.pk}/tickets/", {"title": "One more", "column": review.pk},
                      content_type="application/json")

    assert quick_add.status_code == 409 and "WIP limit" in quick_add.content.decode()
    assert api.status_code == 409 and "WIP limit" in api.json()["detail"]
    assert Ticket.objects.filter(column=review).count() == review.wip_limit


def test_the_api_accepts_a_departed_assignee_sent_back_unchanged(client, board, alice, bob, departed):
    client.force_login(alice)

    response = client.patch(f"/api/boards/{board.pk}/tickets/{departed.pk}/",
                            {"version": departed.version, "assignee": "bob", "title": "Renamed"},
                            content_type="application/json")

    assert response.status_code == 200, response.content
    assert Ticket.objects.get(pk=departed.pk).title == "Renamed"
    other = make_ticket(board, alice, title="Someone else's")
    refused = client.patch(f"/api/boards/{board.pk}/tickets/{other.pk}/",
                           {"version": Ticket.objects.get(pk=other.pk).version, "assignee": "bob"},
                           content_type="application/json")
    assert refused.status_code == 400 and "member of this board" in str(refused.json())
