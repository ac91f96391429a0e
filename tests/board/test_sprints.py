"""Sprints: the services' rules and refusals, the pages, planning and the
board's sprint filter."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from board import services
from board.models import Board, Sprint, Ticket, TicketEvent
from tests.factories import make_board, make_ticket

HTMX = {"HTTP_HX_REQUEST": "true"}
MON = date(2026, 11, 2)  # a Monday


def sprint(board, name="Sprint 1", start=MON, days=14, **kw):
    return services.sprint_create(board=board, name=name, start=start, end=start + timedelta(days=days - 1), **kw)


def sprint_events(ticket):
    return list(TicketEvent.objects.filter(ticket_id=ticket.pk, field="sprint").order_by("board_version")
                .values_list("old", "new"))


def move(board, ticket, column, actor):
    t = Ticket.objects.get(pk=ticket.pk)
    services.ticket_move(board=board, actor=actor, ticket_id=t.pk, expected_version=t.version,
                         to_column_id=column.pk, position="bottom")


def state(model):
    """Every field of a sprint, to show a refusal changed nothing."""
    model = type(model).objects.get(pk=model.pk)
    return {f.name: getattr(model, f.name) for f in model._meta.concrete_fields}


# --- create and update ------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("today, start", [
    (datetime(2026, 11, 4, 10, tzinfo=UTC), date(2026, 11, 5)),  # Wednesday → Thursday
    (datetime(2026, 11, 6, 10, tzinfo=UTC), date(2026, 11, 9)),  # Friday → Monday
    (datetime(2026, 11, 7, 10, tzinfo=UTC), date(2026, 11, 9)),  # Saturday → Monday
])
def test_default_dates_start_on_the_next_working_day_and_last_two_weeks(board, today, start):
    assert services.sprint_default_dates(board, now=today) == (start, start + timedelta(days=13))


@pytest.mark.django_db
def test_default_dates_follow_the_boards_time_zone(board):
    # 23:30 UTC on Thursday is already Friday in Tokyo: the next working day is Monday.
    thursday_night = datetime(2026, 11, 5, 23, 30, tzinfo=UTC)
    Board.objects.filter(pk=board.pk).update(time_zone="Asia/Tokyo")
    board.refresh_from_db()

    assert services.sprint_default_dates(board, now=thursday_night)[0] == date(2026, 11, 9)


@pytest.mark.django_db
def test_create_without_dates_uses_the_default_dates(board):
    expected = services.sprint_default_dates(board)

    created = services.sprint_create(board=board, name="Sprint 1")

    assert (created.start, created.end) == expected
    assert created.state == Sprint.State.PLANNED


@pytest.mark.django_db
def test_default_dates_follow_the_last_open_sprint_so_that_the_next_one_does_not_overlap(board):
    wednesday = datetime(2026, 11, 4, 10, tzinfo=UTC)
    services.sprint_create(board=board, name="Closed", start=date(2026, 11, 16), end=date(2026, 12, 31))
    Sprint.objects.filter(board=board, name="Closed").update(state=Sprint.State.CLOSED)
    services.sprint_create(board=board, name="Planned", start=date(2026, 11, 9), end=date(2026, 11, 20))

    start, end = services.sprint_default_dates(board, now=wednesday)

    assert start == date(2026, 11, 23)  # the Monday after the planned sprint's Friday end; closed ones don't count
    services.sprint_create(board=board, name="Next", start=start, end=end)  # accepted: no overlap


@pytest.mark.django_db
def test_create_bumps_the_layout_version(board):
    before = Board.objects.get(pk=board.pk).layout_version

    sprint(board)

    assert Board.objects.get(pk=board.pk).layout_version == before + 1


@pytest.mark.django_db
def test_create_refuses_an_end_before_the_start(board):
    with pytest.raises(ValidationError, match="ends before it starts"):
        services.sprint_create(board=board, name="Backwards", start=MON, end=MON - timedelta(days=1))
    assert not Sprint.objects.exists()


@pytest.mark.django_db
def test_create_refuses_a_sprint_overlapping_another_open_sprint(board):
    sprint(board)

    with pytest.raises(ValidationError, match="overlap “Sprint 1”"):
        sprint(board, "Sprint 2", start=MON + timedelta(days=13))
    assert Sprint.objects.count() == 1


@pytest.mark.django_db
def test_create_allows_dates_that_overlap_only_a_closed_sprint(board, alice):
    first = sprint(board)
    services.sprint_start(board=board, sprint_id=first.pk, actor=alice)
    services.sprint_close(board=board, sprint_id=first.pk, actor=alice)

    second = sprint(board, "Sprint 2", start=MON + timedelta(days=10))

    assert second.state == Sprint.State.PLANNED


@pytest.mark.django_db
def test_overlap_is_checked_within_the_board_only(board, alice):
    other = make_board(alice, name="Other")
    sprint(other)

    assert sprint(board).pk


@pytest.mark.django_db
def test_update_changes_name_goal_and_dates_and_checks_overlaps(board):
    first, second = sprint(board), sprint(board, "Sprint 2", start=MON + timedelta(days=14))

    services.sprint_update(board=board, sprint_id=first.pk, name="Retrieval", goal="Ship BM25",
                           start=MON, end=MON + timedelta(days=6))
    with pytest.raises(ValidationError, match="overlap “Retrieval”"):
        services.sprint_update(board=board, sprint_id=second.pk, name="Sprint 2", start=MON + timedelta(days=5),
                               end=MON + timedelta(days=20))

    first.refresh_from_db()
    assert (first.name, first.goal, first.end) == ("Retrieval", "Ship BM25", MON + timedelta(days=6))
    assert Sprint.objects.get(pk=second.pk).start == MON + timedelta(days=14)


@pytest.mark.django_db
def test_update_refuses_a_closed_sprint(board, alice):
    first = sprint(board)
    services.sprint_start(board=board, sprint_id=first.pk, actor=alice)
    services.sprint_close(board=board, sprint_id=first.pk, actor=alice)
    before = state(first)

    with pytest.raises(ValidationError, match="closed"):
        services.sprint_update(board=board, sprint_id=first.pk, name="Rewritten", start=None, end=None)
    assert state(first) == before


# --- plan -------------------------------------------------------------------

@pytest.mark.django_db
def test_planning_puts_cards_in_the_sprint_with_a_sprint_event_each(board, alice):
    s = sprint(board)
    a, b = make_ticket(board, alice, title="A"), make_ticket(board, alice, title="B")

    changed = services.sprint_plan(board=board, sprint_id=s.pk, ticket_ids=[a.pk, str(b.pk)], actor=alice)

    assert changed == 2
    assert set(Ticket.objects.filter(sprint=s).values_list("pk", flat=True)) == {a.pk, b.pk}
    assert sprint_events(a) == [(None, s.pk)] and sprint_events(b) == [(None, s.pk)]


@pytest.mark.django_db
def test_planning_again_records_nothing_for_cards_already_in_the_sprint(board, alice):
    s = sprint(board)
    a = make_ticket(board, alice, sprint=s)

    assert services.sprint_plan(board=board, sprint_id=s.pk, ticket_ids=[a.pk], actor=alice) == 0
    assert sprint_events(a) == [(None, s.pk)]


@pytest.mark.django_db
def test_removing_takes_cards_back_to_the_backlog_with_an_event(board, alice):
    s = sprint(board)
    a = make_ticket(board, alice, sprint=s)

    services.sprint_plan(board=board, sprint_id=s.pk, ticket_ids=[a.pk], actor=alice, add=False)

    assert Ticket.objects.get(pk=a.pk).sprint_id is None
    assert sprint_events(a) == [(None, s.pk), (s.pk, None)]


@pytest.mark.django_db
def test_planning_moves_a_card_from_another_open_sprint(board, alice):
    one, two = sprint(board), sprint(board, "Sprint 2", start=MON + timedelta(days=14))
    a = make_ticket(board, alice, sprint=one)

    services.sprint_plan(board=board, sprint_id=two.pk, ticket_ids=[a.pk], actor=alice)

    assert sprint_events(a) == [(None, one.pk), (one.pk, two.pk)]


@pytest.mark.django_db
def test_planning_into_an_active_sprint_is_allowed(board, alice):
    s = sprint(board)
    services.sprint_start(board=board, sprint_id=s.pk, actor=alice)
    a = make_ticket(board, alice)

    services.sprint_plan(board=board, sprint_id=s.pk, ticket_ids=[a.pk], actor=alice)

    assert Ticket.objects.get(pk=a.pk).sprint_id == s.pk


@pytest.mark.django_db
def test_planning_into_a_closed_sprint_is_refused(board, alice):
    s = sprint(board)
    services.sprint_start(board=board, sprint_id=s.pk, actor=alice)
    services.sprint_close(board=board, sprint_id=s.pk, actor=alice)
    a = make_ticket(board, alice)

    with pytest.raises(ValidationError, match="closed") as error:
        services.sprint_plan(board=board, sprint_id=s.pk, ticket_ids=[a.pk], actor=alice)
    assert "state" in error.value.message_dict
    assert sprint_events(a) == []


@pytest.mark.django_db
def test_planning_a_card_of_another_board_refuses_the_whole_request(board, alice):
    s = sprint(board)
    mine = make_ticket(board, alice)
    theirs = make_ticket(make_board(alice, name="Other"), alice)

    with pytest.raises(ValidationError, match="not on this board"):
        services.sprint_plan(board=board, sprint_id=s.pk, ticket_ids=[mine.pk, theirs.pk], actor=alice)
    assert sprint_events(mine) == [] and sprint_events(theirs) == []


@pytest.mark.django_db
@pytest.mark.parametrize("ids", [[], ["x"], ["1e3"], [None], [str(2**70)], [-4]])
def test_planning_refuses_garbage_ids(board, alice, ids):
    s = sprint(board)

    with pytest.raises(ValidationError):
        services.sprint_plan(board=board, sprint_id=s.pk, ticket_ids=ids, actor=alice)


@pytest.mark.django_db
def test_planning_a_sprint_of_another_board_is_not_found(board, alice):
    theirs = sprint(make_board(alice, name="Other"))
    a = make_ticket(board, alice)

    with pytest.raises(Sprint.DoesNotExist):
        services.sprint_plan(board=board, sprint_id=theirs.pk, ticket_ids=[a.pk], actor=alice)


@pytest.mark.django_db
def test_planning_refuses_an_archived_card(board, alice):
    s = sprint(board)
    a = make_ticket(board, alice)
    services.ticket_archive(board=board, ticket_id=a.pk, actor=alice)

    with pytest.raises(ValidationError, match="archived"):
        services.sprint_plan(board=board, sprint_id=s.pk, ticket_ids=[a.pk], actor=alice)


# --- start ------------------------------------------------------------------

@pytest.mark.django_db
def test_start_records_the_committed_scope(board, alice):
    s = sprint(board)
    a = make_ticket(board, alice, points=3, sprint=s)
    b = make_ticket(board, alice, points=5, sprint=s)
    c = make_ticket(board, alice, points=None, sprint=s)
    archived = make_ticket(board, alice, points=8, sprint=s)
    services.ticket_archive(board=board, ticket_id=archived.pk, actor=alice)
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)

    started = services.sprint_start(board=board, sprint_id=s.pk, actor=services.Writer(alice, at=at))

    assert started.state == Sprint.State.ACTIVE
    assert started.started_at == at
    assert started.committed_points == 8
    assert sorted(started.committed_tickets) == sorted([a.pk, b.pk, c.pk])
    assert state(s)["committed_points"] == 8


@pytest.mark.django_db
def test_starting_a_second_active_sprint_is_refused(board, alice):
    one, two = sprint(board), sprint(board, "Sprint 2", start=MON + timedelta(days=14))
    services.sprint_start(board=board, sprint_id=one.pk, actor=alice)
    before = state(two)

    with pytest.raises(ValidationError, match="“Sprint 1” is still active"):
        services.sprint_start(board=board, sprint_id=two.pk, actor=alice)
    assert state(two) == before


@pytest.mark.django_db
def test_starting_an_active_or_closed_sprint_is_refused(board, alice):
    s = sprint(board)
    services.sprint_start(board=board, sprint_id=s.pk, actor=alice)
    with pytest.raises(ValidationError, match="only a planned sprint can start"):
        services.sprint_start(board=board, sprint_id=s.pk, actor=alice)
    services.sprint_close(board=board, sprint_id=s.pk, actor=alice)
    with pytest.raises(ValidationError, match="only a planned sprint can start"):
        services.sprint_start(board=board, sprint_id=s.pk, actor=alice)


# --- close ------------------------------------------------------------------

@pytest.fixture
def running(board, columns, alice):
    """An active sprint that began three days ago, planned the day before:
    two cards done since (3 + 2 points), two unfinished (5 + 1)."""
    start = timezone.localdate() - timedelta(days=3)
    s = sprint(board, start=start)
    now = timezone.now()
    planned = services.Writer(alice, at=now - timedelta(days=4))
    done_a = make_ticket(board, planned, title="Done A", points=3, sprint=s)
    done_b = make_ticket(board, planned, title="Done B", points=2, sprint=s)
    doing = make_ticket(board, planned, title="Doing", points=5, sprint=s)
    todo = make_ticket(board, planned, title="Todo", points=1, sprint=s)
    services.sprint_start(board=board, sprint_id=s.pk, actor=services.Writer(alice, at=now - timedelta(days=3)))
    working = services.Writer(alice, at=now - timedelta(days=2))
    move(board, doing, columns[2], working)
    for t in (done_a, done_b):
        move(board, t, columns[-1], working)
    return s, {"done_a": done_a, "done_b": done_b, "doing": doing, "todo": todo}


@pytest.mark.django_db
def test_close_sends_unfinished_cards_to_the_backlog_with_an_event_each(board, alice, running):
    s, t = running

    closed = services.sprint_close(board=board, sprint_id=s.pk, actor=alice, unfinished_to="backlog")

    assert closed.state == Sprint.State.CLOSED and closed.closed_at is not None
    assert closed.completed_points == 5
    assert set(Ticket.objects.filter(sprint=s).values_list("title", flat=True)) == {"Done A", "Done B"}
    for name in ("doing", "todo"):
        assert Ticket.objects.get(pk=t[name].pk).sprint_id is None
        assert sprint_events(t[name]) == [(None, s.pk), (s.pk, None)]
    assert sprint_events(t["done_a"]) == [(None, s.pk)]


@pytest.mark.django_db
def test_close_sends_unfinished_cards_to_a_planned_sprint(board, alice, running):
    s, t = running
    nxt = sprint(board, "Sprint 2", start=s.end + timedelta(days=1))

    services.sprint_close(board=board, sprint_id=s.pk, actor=alice, unfinished_to=str(nxt.pk))

    assert set(Ticket.objects.filter(sprint=nxt).values_list("title", flat=True)) == {"Doing", "Todo"}
    assert sprint_events(t["todo"]) == [(None, s.pk), (s.pk, nxt.pk)]


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["self", "other board", "garbage", "99999999"])
def test_close_refuses_a_target_that_is_not_a_planned_sprint_of_the_board(board, alice, running, target):
    s, t = running
    other = sprint(make_board(alice, name="Other"))
    value = {"self": str(s.pk), "other board": str(other.pk), "garbage": "next"}.get(target, target)
    before = state(s)
    events = TicketEvent.objects.count()

    with pytest.raises(ValidationError, match="Choose the backlog or a planned sprint"):
        services.sprint_close(board=board, sprint_id=s.pk, actor=alice, unfinished_to=value)
    assert state(s) == before and TicketEvent.objects.count() == events


@pytest.mark.django_db
def test_closing_twice_is_refused_with_a_message(board, alice, running):
    s, _ = running
    services.sprint_close(board=board, sprint_id=s.pk, actor=alice)
    before = state(s)

    with pytest.raises(ValidationError, match="closed already"):
        services.sprint_close(board=board, sprint_id=s.pk, actor=alice)
    assert state(s) == before


@pytest.mark.django_db
def test_closing_a_planned_sprint_is_refused(board, alice):
    s = sprint(board)

    with pytest.raises(ValidationError, match="has not started"):
        services.sprint_close(board=board, sprint_id=s.pk, actor=alice)


@pytest.mark.django_db
def test_close_stores_both_burndown_series(board, alice, running):
    from board import charts

    s, _ = running

    closed = services.sprint_close(board=board, sprint_id=s.pk, actor=alice)

    stored = Sprint.objects.get(pk=s.pk)
    assert stored.series == closed.series
    points, tickets = charts.sprint_burndown(stored, unit="points"), charts.sprint_burndown(stored, unit="tickets")
    assert points["frozen"] and tickets["frozen"]
    # 11 points committed, 5 done by the close; 4 cards, 2 done: the unfinished
    # cards leaving at the close are not part of the sprint's story.
    assert (points["scope_at_start"], points["remaining"]) == (11, 6)
    assert (tickets["scope_at_start"], tickets["remaining"]) == (4, 2)


@pytest.mark.django_db
def test_later_edits_archives_and_deletes_do_not_change_the_stored_series(board, columns, alice, running):
    s, t = running
    services.sprint_close(board=board, sprint_id=s.pk, actor=alice)
    frozen = Sprint.objects.get(pk=s.pk).series

    services.ticket_patch(board=board, ticket_id=t["done_a"].pk, actor=alice, changes={"points": 13})
    move(board, t["done_b"], columns[1], alice)
    services.ticket_archive(board=board, ticket_id=t["done_b"].pk, actor=alice)
    ticket = Ticket.objects.get(pk=t["done_a"].pk)
    services.ticket_delete(board=board, ticket_id=ticket.pk, actor=alice, confirm=f"{board.key}-{ticket.number}")

    assert Sprint.objects.get(pk=s.pk).series == frozen


@pytest.mark.django_db
def test_close_bumps_the_layout_version(board, alice, running):
    s, _ = running
    before = Board.objects.get(pk=s.board_id).layout_version

    services.sprint_close(board=board, sprint_id=s.pk, actor=alice)

    assert Board.objects.get(pk=s.board_id).layout_version > before


# --- sprint filter on the board ---------------------------------------------

def card_titles(response) -> set:
    html = response.content.decode()
    return {t.title for t in Ticket.objects.all() if f">{t.title}<" in html}


@pytest.fixture
def filter_board(board, alice):
    active, planned = sprint(board, "Now"), sprint(board, "Next", start=MON + timedelta(days=14))
    make_ticket(board, alice, title="In the active sprint", sprint=active)
    make_ticket(board, alice, title="In the planned sprint", sprint=planned)
    make_ticket(board, alice, title="In the backlog")
    return active, planned


@pytest.mark.django_db
def test_a_board_with_an_active_sprint_opens_filtered_to_it(client, board, alice, filter_board):
    active, _ = filter_board
    services.sprint_start(board=board, sprint_id=active.pk, actor=alice)
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/")

    assert card_titles(response) == {"In the active sprint"}
    assert f'<option value="{active.pk}" selected>Now (current)</option>' in response.content.decode()
    assert f'data-qs="sprint={active.pk}"' in response.content.decode()


@pytest.mark.django_db
def test_an_empty_sprint_parameter_shows_every_card(client, board, alice, filter_board):
    active, _ = filter_board
    services.sprint_start(board=board, sprint_id=active.pk, actor=alice)
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/?sprint=")

    assert card_titles(response) == {"In the active sprint", "In the planned sprint", "In the backlog"}


@pytest.mark.django_db
def test_a_board_without_an_active_sprint_shows_every_card(client, board, alice, filter_board):
    client.force_login(alice)

    assert len(card_titles(client.get(f"/b/{board.pk}/"))) == 3


@pytest.mark.django_db
def test_the_board_filters_by_a_sprint_or_by_the_backlog(client, board, alice, filter_board):
    _, planned = filter_board
    client.force_login(alice)

    assert card_titles(client.get(f"/b/{board.pk}/?sprint={planned.pk}")) == {"In the planned sprint"}
    assert card_titles(client.get(f"/b/{board.pk}/?sprint=none")) == {"In the backlog"}


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "9" * 40, "²", "1 OR 1=1", "%00", "none ", "0x10"])
def test_hostile_sprint_filters_answer_200_and_match_nothing_wrong(client, board, alice, filter_board, value):
    client.force_login(alice)

    response = client.get(f"/b/{board.pk}/", {"sprint": value})

    assert response.status_code == 200
    assert card_titles(response) <= {"In the active sprint", "In the planned sprint", "In the backlog"}


@pytest.mark.django_db
def test_the_board_page_with_an_active_sprint_runs_the_usual_queries(
    client, board, alice, filter_board, django_assert_num_queries
):
    from tests.board.test_board_page_queries import BOARD_PAGE_QUERIES

    active, _ = filter_board
    services.sprint_start(board=board, sprint_id=active.pk, actor=alice)
    client.force_login(alice)

    # the open sprints are read before the cards (to pick the default) and not again
    with django_assert_num_queries(BOARD_PAGE_QUERIES):
        client.get(f"/b/{board.pk}/")


@pytest.mark.django_db
def test_the_board_links_to_the_sprints(client, board, alice):
    client.force_login(alice)

    assert f'href="/b/{board.pk}/sprints/"' in client.get(f"/b/{board.pk}/").content.decode()


# --- pages ------------------------------------------------------------------

@pytest.mark.django_db
def test_the_sprint_list_groups_sprints_and_offers_the_default_dates(client, board, alice, running):
    sprint(board, "Sprint 2", start=running[0].end + timedelta(days=1))
    client.force_login(alice)

    html = client.get(f"/b/{board.pk}/sprints/").content.decode()

    start, end = services.sprint_default_dates(board)
    assert f'value="{start:%Y-%m-%d}"' in html and f'value="{end:%Y-%m-%d}"' in html
    assert "Sprint 1" in html and "Sprint 2" in html and "no closed sprints yet" in html


@pytest.mark.django_db
def test_a_member_creates_a_sprint_from_the_list(client, board, bob):
    client.force_login(bob)

    response = client.post(f"/b/{board.pk}/sprints/", {"name": "Sprint 7", "start": "2026-11-02",
                                                       "end": "2026-11-13", "goal": "Ship it"})

    s = Sprint.objects.get()
    assert response.status_code == 302 and response.url == f"/b/{board.pk}/sprints/{s.pk}/"
    assert (s.name, s.goal, s.start) == ("Sprint 7", "Ship it", date(2026, 11, 2))


@pytest.mark.django_db
@pytest.mark.parametrize("data, message", [
    ({"name": "Late", "start": "2026-11-13", "end": "2026-11-02"}, "ends before it starts"),
    ({"name": "Overlap", "start": "2026-11-05", "end": "2026-11-20"}, "overlap"),
    ({"name": "No dates", "start": "soon", "end": ""}, "Enter a valid date"),
])
def test_bad_sprint_dates_answer_422_next_to_the_form(client, board, alice, data, message):
    sprint(board)
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/sprints/", data)

    assert response.status_code == 422
    assert message in response.content.decode()
    assert Sprint.objects.count() == 1


@pytest.mark.django_db
def test_the_sprint_page_groups_cards_by_stage_and_offers_start(client, board, columns, alice):
    s = sprint(board, goal="Beat the baseline")
    make_ticket(board, alice, title="Waiting", sprint=s)
    make_ticket(board, alice, title="Finished", sprint=s, column=columns[-1])
    client.force_login(alice)

    html = client.get(f"/b/{board.pk}/sprints/{s.pk}/").content.decode()

    assert "Beat the baseline" in html and "Start sprint" in html
    assert html.index("Waiting") < html.index("Finished")


@pytest.mark.django_db
def test_start_and_close_through_the_pages(client, board, alice, bob):
    s = sprint(board)
    nxt = sprint(board, "Sprint 2", start=MON + timedelta(days=14))
    card = make_ticket(board, alice, title="Unfinished", points=2, sprint=s)
    client.force_login(bob)

    started = client.post(f"/b/{board.pk}/sprints/{s.pk}/start/")
    page = client.get(f"/b/{board.pk}/sprints/{s.pk}/").content.decode()
    closed = client.post(f"/b/{board.pk}/sprints/{s.pk}/close/", {"unfinished_to": str(nxt.pk)})

    assert started.status_code == 302 and closed.status_code == 302
    assert "Close sprint" in page and f'<option value="{nxt.pk}">' in page
    assert Sprint.objects.get(pk=s.pk).state == Sprint.State.CLOSED
    assert Ticket.objects.get(pk=card.pk).sprint_id == nxt.pk


@pytest.mark.django_db
def test_second_active_sprint_and_closing_twice_answer_409_with_the_message(client, board, alice):
    one, two = sprint(board), sprint(board, "Sprint 2", start=MON + timedelta(days=14))
    services.sprint_start(board=board, sprint_id=one.pk, actor=alice)
    client.force_login(alice)

    second = client.post(f"/b/{board.pk}/sprints/{two.pk}/start/")
    client.post(f"/b/{board.pk}/sprints/{one.pk}/close/", {"unfinished_to": "backlog"})
    twice = client.post(f"/b/{board.pk}/sprints/{one.pk}/close/", {"unfinished_to": "backlog"})

    assert second.status_code == 409 and "is still active" in second.content.decode()
    assert twice.status_code == 409 and "closed already" in twice.content.decode()
    assert Sprint.objects.get(pk=two.pk).state == Sprint.State.PLANNED


@pytest.mark.django_db
def test_a_sprint_of_another_board_is_404_on_every_sprint_page(client, board, alice):
    theirs = sprint(make_board(alice, name="Other"))
    client.force_login(alice)
    base = f"/b/{board.pk}/sprints/{theirs.pk}"

    responses = [client.get(f"{base}/"), client.get(f"{base}/plan/"), client.post(f"{base}/start/"),
                 client.post(f"{base}/close/", {"unfinished_to": "backlog"}),
                 client.post(f"{base}/plan/", {"action": "add", "tickets": "1"})]

    assert [r.status_code for r in responses] == [404] * 5
    assert Sprint.objects.get(pk=theirs.pk).state == Sprint.State.PLANNED


# --- the planning view --------------------------------------------------------

@pytest.fixture
def plan_board(board, columns, alice):
    s = sprint(board)
    backlog = make_ticket(board, alice, title="Backlog card", points=3)
    make_ticket(board, alice, title="Done, no sprint", column=columns[-1])
    archived = make_ticket(board, alice, title="Archived card")
    services.ticket_archive(board=board, ticket_id=archived.pk, actor=alice)
    planned = make_ticket(board, alice, title="Planned card", points=5, sprint=s)
    return s, backlog, planned


@pytest.mark.django_db
def test_the_planning_view_lists_the_backlog_and_the_sprint(client, board, alice, plan_board):
    s, backlog, planned = plan_board
    client.force_login(alice)

    html = client.get(f"/b/{board.pk}/sprints/{s.pk}/plan/").content.decode()

    left, right = html.split('id="sprint-side"')
    assert "Backlog card" in left and "Planned card" in right
    assert "Done, no sprint" not in html and "Archived card" not in html
    assert '<strong id="planned-points">5</strong>' in html
    assert "no closed sprints yet" in html


@pytest.mark.django_db
def test_the_planning_view_shows_velocity_of_the_last_three_closed_sprints(client, board, alice):
    for i, points in enumerate([10, 20, 30, 40]):
        s = sprint(board, f"Old {i}", start=MON - timedelta(days=14 * (4 - i)))
        Sprint.objects.filter(pk=s.pk).update(state=Sprint.State.CLOSED, completed_points=points)
    s = sprint(board)
    client.force_login(alice)

    html = client.get(f"/b/{board.pk}/sprints/{s.pk}/plan/").content.decode()

    assert "<strong>30.0</strong> points" in html  # (20 + 30 + 40) / 3


@pytest.mark.django_db
def test_a_closed_sprint_without_a_recorded_figure_is_left_out_of_the_planning_velocity(client, board, alice):
    for i, points in enumerate([20, None, 40]):
        s = sprint(board, f"Old {i}", start=MON - timedelta(days=14 * (3 - i)))
        Sprint.objects.filter(pk=s.pk).update(state=Sprint.State.CLOSED, completed_points=points)
    s = sprint(board)
    client.force_login(alice)

    html = client.get(f"/b/{board.pk}/sprints/{s.pk}/plan/").content.decode()

    assert "<strong>30.0</strong> points" in html  # (20 + 40) / 2, not (20 + 0 + 40) / 3


@pytest.mark.django_db
def test_planning_by_form_adds_and_removes_cards(client, board, bob, plan_board):
    s, backlog, planned = plan_board
    client.force_login(bob)
    url = f"/b/{board.pk}/sprints/{s.pk}/plan/"

    added = client.post(url, {"action": "add", "tickets": [backlog.pk]})
    removed = client.post(url, {"action": "remove", "tickets": [planned.pk]})

    assert added.status_code == 302 and removed.status_code == 302
    assert list(Ticket.objects.filter(sprint=s).values_list("title", flat=True)) == ["Backlog card"]


@pytest.mark.django_db
def test_planning_through_htmx_answers_the_planning_block(client, board, bob, plan_board):
    s, backlog, _ = plan_board
    client.force_login(bob)

    response = client.post(f"/b/{board.pk}/sprints/{s.pk}/plan/", {"action": "add", "tickets": backlog.pk}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert '<strong id="planned-points">8</strong>' in html


@pytest.mark.django_db
@pytest.mark.parametrize("data", [{"action": "add"}, {"action": "add", "tickets": "abc"},
                                  {"action": "steal", "tickets": "1"}, {"action": "add", "tickets": "-1"}])
def test_bad_planning_requests_answer_422_with_the_message_and_change_nothing(client, board, alice, plan_board, data):
    s, _, _ = plan_board
    client.force_login(alice)
    events = TicketEvent.objects.count()

    response = client.post(f"/b/{board.pk}/sprints/{s.pk}/plan/", data, **HTMX)

    assert response.status_code == 422
    assert 'id="plan-error"' in response.content.decode()
    assert TicketEvent.objects.count() == events


@pytest.mark.django_db
def test_planning_another_boards_card_answers_422_and_changes_nothing(client, board, alice, plan_board):
    s, backlog, _ = plan_board
    theirs = make_ticket(make_board(alice, name="Other"), alice)
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/sprints/{s.pk}/plan/", {"action": "add",
                                                                    "tickets": [backlog.pk, theirs.pk]})

    assert response.status_code == 422 and "not on this board" in response.content.decode()
    assert Ticket.objects.get(pk=backlog.pk).sprint_id is None


@pytest.mark.django_db
def test_planning_into_a_closed_sprint_answers_409(client, board, alice, plan_board):
    s, backlog, _ = plan_board
    services.sprint_start(board=board, sprint_id=s.pk, actor=alice)
    services.sprint_close(board=board, sprint_id=s.pk, actor=alice)
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/sprints/{s.pk}/plan/", {"action": "add", "tickets": backlog.pk})

    assert response.status_code == 409 and "is closed" in response.content.decode()
    assert Ticket.objects.get(pk=backlog.pk).sprint_id is None


@pytest.mark.django_db
def test_the_active_sprint_page_draws_its_burndown_and_forecast_from_the_api(client, board, alice, running):
    s, _ = running
    client.force_login(alice)

    html = client.get(f"/b/{board.pk}/sprints/{s.pk}/").content.decode()

    assert f'data-chart-url="/api/boards/{board.pk}/sprints/{s.pk}/burndown/"' in html
    assert f'data-chart-url="/api/boards/{board.pk}/sprints/{s.pk}/forecast/"' in html
    assert client.get(f"/api/boards/{board.pk}/sprints/{s.pk}/burndown/").status_code == 200


@pytest.mark.django_db
def test_a_planned_sprint_page_has_no_charts_and_a_closed_one_only_its_burndown(client, board, alice, running):
    s, _ = running
    planned = sprint(board, "Sprint 2", start=s.end + timedelta(days=1))
    services.sprint_close(board=board, sprint_id=s.pk, actor=alice)
    client.force_login(alice)

    planned_html = client.get(f"/b/{board.pk}/sprints/{planned.pk}/").content.decode()
    closed_html = client.get(f"/b/{board.pk}/sprints/{s.pk}/").content.decode()

    assert "data-chart-url" not in planned_html
    assert "/burndown/" in closed_html and "/forecast/" not in closed_html
    assert "Close sprint" not in closed_html and "Start sprint" not in closed_html
