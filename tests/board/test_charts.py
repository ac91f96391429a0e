"""Charts from the history: a hand-built sprint with a known answer, properties
over random histories, the forecast against an analytical answer, query
counts that do not grow, and hostile query parameters on the endpoints.

The hand-built sprint (board time zone Europe/Berlin, UTC+1 in March;
sprint Mon 2 – Fri 13 March 2026, weekend 7–8 March). Points in brackets:

    Fri 27 Feb  A[3] B[5] C[2] D[8] F[3] created in the sprint, E[1] outside
    Mon  2 Mar  A → Whiteboarding (started)                     remaining 21
    Tue  3 Mar  A → Done                                        18
    Wed  4 Mar  B re-estimated 5 → 8 at 00:30 Berlin (still
                3 March in UTC: counts on the 4th)              21
    Thu  5 Mar  E added to the sprint (scope +1)                22
    Fri  6 Mar  C → Implementation → Done                       20
    Sat  7 Mar  –                                               20
    Sun  8 Mar  A moved back out of Done (to Code review)       23
    Mon  9 Mar  F removed from the sprint                       20
    Tue 10 Mar  A → Done again                                  17
    Wed 11 Mar  B → Whiteboarding                               17
    Thu 12 Mar  B → Done                                         9
    Fri 13 Mar  E → Whiteboarding 09:00, → Done 15:00            8
    Mon 16 Mar  D archived, C deleted for good (after the sprint)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from board import charts, services
from board.models import Board, Sprint, Ticket, TicketEvent
from tests.factories import UserFactory, make_board

BERLIN = ZoneInfo("Europe/Berlin")
START, END = date(2026, 3, 2), date(2026, 3, 13)
AFTER = datetime(2026, 3, 20, 12, tzinfo=BERLIN)


def at(day: int, hour: int = 10, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


class Story:
    """Writes through the services at chosen times."""

    def __init__(self, board, user):
        self.board, self.user = board, user
        self.columns = {c.name: c for c in board.columns.all()}

    def w(self, when):
        return services.Writer(self.user, at=when)

    def create(self, title, when, **fields):
        return services.ticket_create(board=self.board, actor=self.w(when), data=services.TicketInput(
            title=title, **fields))

    def move(self, ticket, column, when):
        version = Ticket.objects.get(pk=ticket.pk).version
        services.ticket_move(board=self.board, actor=self.w(when), ticket_id=ticket.pk, expected_version=version,
                             to_column_id=self.columns[column].pk, position="bottom")

    def patch(self, ticket, when, **changes):
        services.ticket_patch(board=self.board, ticket_id=ticket.pk, actor=self.w(when), changes=changes)


@pytest.fixture
def story(db):
    alice = UserFactory(username="alice")
    board = make_board(alice)
    Board.objects.filter(pk=board.pk).update(time_zone="Europe/Berlin")
    board.refresh_from_db()
    sprint = Sprint.objects.create(board=board, name="Sprint 7", start=START, end=END, state=Sprint.State.ACTIVE,
                                   started_at=at(2, 8))
    s = Story(board, alice)
    feb = {"month": 2}
    t = {
        "A": s.create("Try a smaller tokenizer", at(27, 9, **feb), points=3, sprint=sprint, kind="research"),
        "B": s.create("Export the model card", at(27, 9, **feb), points=5, sprint=sprint, kind="story"),
        "C": s.create("Fix the eval seed", at(27, 9, **feb), points=2, sprint=sprint, kind="bug"),
        "D": s.create("Shard the dataset", at(27, 9, **feb), points=8, sprint=sprint, kind="chore"),
        "E": s.create("Log GPU memory", at(27, 9, **feb), points=1, kind="bug"),
        "F": s.create("Ablate dropout", at(27, 9, **feb), points=3, sprint=sprint, kind="experiment"),
    }
    s.move(t["A"], "Whiteboarding", at(2))
    s.move(t["A"], "Done", at(3))
    s.patch(t["B"], at(4, 0, 30), points=8)
    s.patch(t["E"], at(5), sprint=sprint)
    s.move(t["C"], "Implementation", at(6, 9))
    s.move(t["C"], "Done", at(6, 11))
    s.move(t["A"], "Code review", at(8))
    s.patch(t["F"], at(9), sprint=None)
    s.move(t["A"], "Done", at(10))
    s.move(t["B"], "Whiteboarding", at(11))
    s.move(t["B"], "Done", at(12))
    s.move(t["E"], "Whiteboarding", at(13, 9))
    s.move(t["E"], "Done", at(13, 15))
    Sprint.objects.filter(pk=sprint.pk).update(state=Sprint.State.CLOSED, closed_at=at(13, 18))
    services.ticket_archive(board=board, ticket_id=t["D"].pk, actor=s.w(at(16)))
    services.ticket_delete(board=board, ticket_id=t["C"].pk, actor=s.w(at(16, 11)), confirm=f"MLK-{t['C'].number}")
    sprint.refresh_from_db()
    return s, sprint, t


REMAINING = [21, 18, 21, 22, 20, 20, 23, 20, 17, 17, 9, 8]
REMAINING_TICKETS = [5, 4, 4, 5, 4, 4, 5, 4, 3, 3, 2, 1]
IDEAL = [18.9, 16.8, 14.7, 12.6, 10.5, 10.5, 10.5, 8.4, 6.3, 4.2, 2.1, 0.0]


def test_burndown_of_the_hand_built_sprint_is_exact(story):
    s, sprint, t = story

    result = charts.sprint_burndown(sprint, now=AFTER)

    assert [p["date"] for p in result["points"]] == [(START + timedelta(days=i)).isoformat() for i in range(12)]
    assert [p["remaining"] for p in result["points"]] == REMAINING
    assert result["scope_at_start"] == 21
    assert [p["ideal"] for p in result["points"]] == IDEAL
    assert [p["weekend"] for p in result["points"]] == [False] * 5 + [True, True] + [False] * 5
    added = {p["date"]: [c["key"] for c in p["added"]] for p in result["points"] if p["added"]}
    removed = {p["date"]: [(c["key"], c["title"]) for c in p["removed"]] for p in result["points"] if p["removed"]}
    assert added == {"2026-03-05": [f"MLK-{t['E'].number}"]}
    assert removed == {"2026-03-09": [(f"MLK-{t['F'].number}", "Ablate dropout")]}


def test_burndown_in_tickets_counts_cards(story):
    _, sprint, _ = story

    result = charts.sprint_burndown(sprint, unit="tickets", now=AFTER)

    assert [p["remaining"] for p in result["points"]] == REMAINING_TICKETS


def test_a_day_is_a_day_in_the_boards_time_zone(story):
    """In UTC, B's re-estimate (00:30 Berlin on the 4th) falls on the 3rd."""
    _, sprint, _ = story
    Board.objects.filter(pk=sprint.board_id).update(time_zone="UTC")
    sprint = Sprint.objects.select_related("board").get(pk=sprint.pk)

    result = charts.sprint_burndown(sprint, now=AFTER)

    assert [p["remaining"] for p in result["points"]][:3] == [21, 21, 21]


def test_a_closed_sprint_answers_from_its_stored_series_and_later_changes_do_not_rewrite_it(story):
    s, sprint, t = story
    sprint.series = charts.sprint_frozen_series(sprint, now=AFTER)
    sprint.save(update_fields=["series"])
    s.patch(t["B"], at(17), points=1)
    services.ticket_delete(board=s.board, ticket_id=t["B"].pk, actor=s.w(at(18)), confirm=f"MLK-{t['B'].number}")

    result = charts.sprint_burndown(Sprint.objects.get(pk=sprint.pk))

    assert result["frozen"] is True
    assert [p["remaining"] for p in result["points"]] == REMAINING


def test_hard_deletes_and_archives_after_the_sprint_leave_its_live_burndown_alone(story):
    """C (deleted on the 16th) and D (archived on the 16th) still count on the sprint's days."""
    _, sprint, _ = story
    assert sprint.series is None

    assert [p["remaining"] for p in charts.sprint_burndown(sprint, now=AFTER)["points"]] == REMAINING


def test_velocity_reads_commitment_and_completion_from_the_history_when_not_recorded(story):
    _, sprint, _ = story

    result = charts.velocity(sprint.board)

    row, = result["sprints"]
    assert (row["committed"], row["completed"]) == (21, 14)  # A3 B8 C2 E1 done at the close
    assert row["committed_from_history"] and row["completed_from_history"]


def test_velocity_prefers_recorded_figures(story):
    _, sprint, _ = story
    Sprint.objects.filter(pk=sprint.pk).update(committed_points=30, completed_points=12)

    row, = charts.velocity(sprint.board)["sprints"]

    assert (row["committed"], row["completed"]) == (30, 12)


def test_cumulative_flow_counts_cards_per_column_per_day(story):
    s, sprint, _ = story

    result = charts.cumulative_flow(s.board, start=date(2026, 2, 27), end=date(2026, 3, 16), now=AFTER)

    names = [c["name"] for c in result["columns"]]
    assert names == ["Backlog", "Whiteboarding", "Implementation", "Code review", "Done"]
    by_day = dict(zip(result["days"], zip(*[c["counts"] for c in result["columns"]], strict=True), strict=True))
    assert by_day["2026-02-27"] == (6, 0, 0, 0, 0)
    assert by_day["2026-03-02"] == (5, 1, 0, 0, 0)
    assert by_day["2026-03-03"] == (5, 0, 0, 0, 1)
    assert by_day["2026-03-06"] == (4, 0, 0, 0, 2)
    assert by_day["2026-03-08"] == (4, 0, 0, 1, 1)
    assert by_day["2026-03-11"] == (3, 1, 0, 0, 2)
    assert by_day["2026-03-13"] == (2, 0, 0, 0, 4)
    assert by_day["2026-03-16"] == (1, 0, 0, 0, 3)  # D archived, C deleted
    assert result["totals"][:3] == [6, 6, 6] and result["totals"][-1] == 4


def test_estimation_accuracy_measures_cycle_times_per_point(story):
    s, _, t = story

    result = charts.estimation_accuracy(s.board)

    rows = {r["key"]: (r["kind"], r["points"], r["days"], r["ratio"]) for r in result["tickets"]}
    assert rows == {
        f"MLK-{t['A'].number}": ("research", 3, 8.0, 2.667),  # started 2 Mar, done (again) 10 Mar
        f"MLK-{t['B'].number}": ("story", 8, 1.0, 0.125),
        f"MLK-{t['E'].number}": ("bug", 1, 0.25, 0.25),
    }
    research, delivery = result["groups"]
    assert (research["count"], research["median"]) == (1, 2.667)
    assert (delivery["count"], delivery["median"], delivery["iqr"]) == (2, 0.188, 0.062)


def test_estimation_accuracy_per_sprint_keeps_the_sprints_tickets(story):
    s, sprint, t = story

    result = charts.estimation_accuracy(s.board, sprint=sprint)

    assert sorted(r["key"] for r in result["tickets"]) == sorted(f"MLK-{t[k].number}" for k in "ABE")


# --- ranges -------------------------------------------------------------------------

@pytest.mark.parametrize("start, end, message", [
    (date(2026, 3, 10), date(2026, 3, 1), "ends before it starts"),
    (date(2016, 3, 1), date(2026, 3, 1), "at most 366 days"),
    (date(1000, 1, 1), date(1000, 1, 2), "before the year 2000"),
    (date(2027, 1, 1), date(2027, 1, 2), "starts in the future"),
])
def test_an_inverted_or_absurd_range_is_refused_with_a_message(story, start, end, message):
    s, _, _ = story

    with pytest.raises(ValidationError, match=message):
        charts.cumulative_flow(s.board, start=start, end=end, now=AFTER)


# --- forecast ------------------------------------------------------------------------

def _steady_board(points_per_day: int, *, days: int, now: datetime, alternate=None):
    """A board that finished `points_per_day` points on each of the last working days
    (or, with `alternate`, the values in turn), and an active sprint with 10 points left."""
    user = UserFactory(username="steady")
    board = make_board(user, name="Steady")
    s = Story(board, user)
    sprint = Sprint.objects.create(board=board, name="Now", start=now.date() - timedelta(days=3),
                                   end=now.date() + timedelta(days=11), state=Sprint.State.ACTIVE)
    day = now.date() - timedelta(days=1)
    workdays = []
    while len(workdays) < days:
        if day.weekday() < 5:
            workdays.append(day)
        day -= timedelta(days=1)
    first = datetime.combine(workdays[-1], datetime.min.time(), tzinfo=now.tzinfo)
    for i, workday in enumerate(reversed(workdays)):
        points = points_per_day if alternate is None else alternate[i % len(alternate)]
        if points:
            ticket = s.create(f"Done on {workday}", first, points=points)
            s.move(ticket, "Done", datetime.combine(workday, datetime.min.time(), tzinfo=now.tzinfo) + timedelta(
                hours=12))
    s.create("Left to do", first + timedelta(hours=1), points=10, sprint=sprint)
    return board, Sprint.objects.select_related("board").get(pk=sprint.pk)


@pytest.mark.django_db
def test_forecast_with_constant_throughput_matches_the_arithmetic():
    """2 points every working day, 10 left: done on the 5th working day after today, every time."""
    now = datetime(2026, 3, 4, 12, tzinfo=ZoneInfo("UTC"))  # a Wednesday
    _, sprint = _steady_board(2, days=20, now=now)

    result = charts.sprint_forecast(sprint, seed=1, now=now)

    assert result["enough_history"] is True
    assert result["remaining"] == 10
    # Thu 5, Fri 6, Mon 9, Tue 10, Wed 11 March: the fifth working day
    assert result["dates"] == {"50": "2026-03-11", "85": "2026-03-11", "95": "2026-03-11"}
    assert result["probability_by_end"] == 1.0  # the sprint ends on 15 March
    assert "at random" in result["explanation"]


@pytest.mark.django_db
def test_forecast_with_coin_flip_throughput_matches_the_binomial_answer():
    """Days of 0 or 10 points in equal numbers, 10 left, 7 working days left in the
    sprint: it finishes unless all 7 days are zero, probability 1 − 0.5⁷."""
    now = datetime(2026, 3, 4, 12, tzinfo=ZoneInfo("UTC"))
    _, sprint = _steady_board(0, days=20, now=now, alternate=[0, 10])

    result = charts.sprint_forecast(sprint, seed=7, trials=20_000, now=now)

    assert result["probability_by_end"] == pytest.approx(1 - 0.5**7, abs=0.01)
    assert result["dates"]["85"] == "2026-03-09"  # 1 − 0.5³ = 0.875 ≥ 0.85 by the third working day
    assert result["dates"]["95"] == "2026-03-11"  # 1 − 0.5⁵ ≈ 0.97 by the fifth


@pytest.mark.django_db
def test_forecast_says_so_when_history_is_short():
    now = datetime(2026, 3, 4, 12, tzinfo=ZoneInfo("UTC"))
    _, sprint = _steady_board(2, days=5, now=now)

    result = charts.sprint_forecast(sprint, seed=1, now=now)

    assert result["enough_history"] is False
    assert "at least 10" in result["reason"]


# --- queries do not grow ---------------------------------------------------------------

def _grow(story, extra_days: int, tickets: int):
    s, sprint, _ = story
    for i in range(tickets):
        ticket = s.create(f"Extra {i}", at(2, 7), points=1, sprint=sprint)
        for d in range(extra_days):
            s.move(ticket, ("Whiteboarding", "Implementation")[d % 2], at(2 + d % 11, 11, d))


def _count_queries(call) -> int:
    with CaptureQueriesContext(connection) as ctx:
        call()
    return len(ctx.captured_queries)


@pytest.mark.parametrize("chart", ["burndown", "velocity", "cfd", "accuracy", "forecast"])
def test_each_chart_runs_the_same_number_of_queries_for_small_and_larger_histories(story, chart, django_assert_num_queries):
    s, sprint, _ = story
    calls = {
        "burndown": lambda: charts.sprint_burndown(sprint, now=AFTER),
        "velocity": lambda: charts.velocity(s.board),
        "cfd": lambda: charts.cumulative_flow(s.board, start=date(2026, 2, 1), end=date(2026, 3, 20), now=AFTER),
        "accuracy": lambda: charts.estimation_accuracy(s.board),
        "forecast": lambda: charts.sprint_forecast(sprint, now=AFTER, seed=1),
    }
    Sprint.objects.filter(pk=sprint.pk).update(state=Sprint.State.ACTIVE, closed_at=None)
    sprint.refresh_from_db()
    small = _count_queries(calls[chart])
    _grow(story, extra_days=8, tickets=12)
    sprint.refresh_from_db()

    # burndown: events, titles, titles of deleted cards (both only when cards entered or left during
    # the sprint, as here); velocity: sprints, active sprint, events; cfd: columns, events; accuracy:
    # one statement (latest events joined to the ticket rows); forecast: remaining work, first event,
    # throughput events
    with django_assert_num_queries(small):
        calls[chart]()
    assert small <= 6


# --- properties ----------------------------------------------------------------------

ACTIONS = st.lists(st.tuples(
    st.sampled_from(["create", "move", "points", "sprint_in", "sprint_out", "archive", "restore", "delete"]),
    st.integers(min_value=0, max_value=20),  # which ticket
    st.integers(min_value=0, max_value=4),  # which column / how many points
    st.integers(min_value=0, max_value=20),  # hours after the previous action
), min_size=1, max_size=25)


def _play(s, board, sprint, actions, when):
    """Apply random service calls, each some hours after the previous one.
    Returns the last time and, per day, how many cards existed at its end."""
    existed: dict[date, int] = {}
    names = list(s.columns)
    for action, which, value, hours in actions:
        when += timedelta(hours=hours)
        live = list(Ticket.objects.filter(board=board).order_by("pk"))
        ticket = live[which % len(live)] if live else None
        if action == "create" or ticket is None:
            s.create("T", when, points=value or None, sprint=sprint if which % 2 else None)
        elif action == "move" and ticket.archived_at is None:
            s.move(ticket, names[value], when)
        elif action == "move":
            continue
        elif action == "points":
            s.patch(ticket, when, points=value * 2)
        elif action in ("sprint_in", "sprint_out"):
            s.patch(ticket, when, sprint=sprint if action == "sprint_in" else None)
        elif action == "archive":
            services.ticket_archive(board=board, ticket_id=ticket.pk, actor=s.w(when))
        elif action == "restore":
            services.ticket_restore(board=board, ticket_id=ticket.pk, actor=s.w(when))
        else:
            services.ticket_delete(board=board, ticket_id=ticket.pk, actor=s.w(when), confirm=f"MLK-{ticket.number}")
        existed[when.date()] = Ticket.objects.filter(board=board, archived_at__isnull=True).count()
    return when, existed


@pytest.mark.django_db
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(before=ACTIONS, after=ACTIONS)
def test_a_closed_sprints_charts_are_unchanged_by_any_later_sequence(before, after):
    user = UserFactory(username="prop")
    board = make_board(user, name=f"Prop {Board.objects.count()}")
    s = Story(board, user)
    sprint = Sprint.objects.create(board=board, name="P", start=date(2026, 3, 2), end=date(2026, 3, 31),
                                   state=Sprint.State.ACTIVE)
    when, _ = _play(s, board, sprint, before, datetime(2026, 3, 2, 8, tzinfo=ZoneInfo("UTC")))
    services.sprint_close(board=board, sprint_id=sprint.pk, actor=s.w(when + timedelta(hours=1)))
    closed = Sprint.objects.select_related("board").get(pk=sprint.pk)
    frozen = {unit: charts.sprint_burndown(closed, unit=unit) for unit in ("points", "tickets")}
    velocity = charts.velocity(board)

    _play(s, board, sprint, after, when + timedelta(hours=2))

    closed = Sprint.objects.select_related("board").get(pk=sprint.pk)
    assert {unit: charts.sprint_burndown(closed, unit=unit) for unit in ("points", "tickets")} == frozen
    assert charts.velocity(board) == velocity


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(actions=ACTIONS)
def test_last_burndown_point_and_every_cfd_total_agree_with_the_history(actions):
    user = UserFactory(username="prop")
    board = make_board(user, name=f"Prop {Board.objects.count()}")
    s = Story(board, user)
    sprint = Sprint.objects.create(board=board, name="P", start=date(2026, 3, 2), end=date(2026, 3, 31),
                                   state=Sprint.State.ACTIVE)
    when, existed = _play(s, board, sprint, actions, datetime(2026, 3, 2, 8, tzinfo=ZoneInfo("UTC")))
    now = when + timedelta(hours=1)
    board.refresh_from_db()
    sprint = Sprint.objects.select_related("board").get(pk=sprint.pk)

    burndown = charts.sprint_burndown(sprint, now=now)
    cfd = charts.cumulative_flow(board, start=date(2026, 3, 2), end=now.date(), now=now)

    remaining_now = sum(t.points or 0 for t in Ticket.objects.filter(
        sprint=sprint, archived_at__isnull=True).select_related("column") if t.column.category != "done")
    if burndown["points"]:
        assert burndown["points"][-1]["remaining"] == remaining_now
    previous = 0
    for day, total in zip(cfd["days"], cfd["totals"], strict=True):
        previous = existed.get(date.fromisoformat(day), previous)
        assert total == previous, day


def _accuracy_by_replay(board, sprint=None):
    """Estimation accuracy the slow, obvious way: replay every event of the board in order."""
    cards: dict[int, dict] = {}
    for event in TicketEvent.objects.filter(board=board).order_by("board_version"):
        card = cards.setdefault(event.ticket_id, {"category": None, "done_at": None, "points": None,
                                                  "sprint": None, "deleted": False, "started": None})
        if event.field in ("created", "column", "category") and event.category:
            card["category"] = event.category
            card["done_at"] = event.at if event.category == "done" else None
            if event.category == "in_progress":
                card["started"] = min(filter(None, [card["started"], event.at]))
        elif event.field in ("points", "sprint"):
            card[event.field] = event.new
        elif event.field == "deleted":
            card["deleted"] = True
    days, skipped = {}, 0
    for ticket_id, card in cards.items():
        if card["category"] != "done" or not card["points"] or card["deleted"]:
            continue
        if sprint is not None and card["sprint"] != sprint.pk:
            continue
        if card["started"] is None:
            skipped += 1
            continue
        days[ticket_id] = (card["points"], round((card["done_at"] - card["started"]).total_seconds() / 86400, 3))
    return days, skipped


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(actions=ACTIONS)
def test_estimation_accuracy_and_the_forecasts_remaining_work_agree_with_a_replay_of_the_history(actions):
    user = UserFactory(username="prop")
    board = make_board(user, name=f"Prop {Board.objects.count()}")
    s = Story(board, user)
    sprint = Sprint.objects.create(board=board, name="P", start=date(2026, 3, 2), end=date(2026, 3, 31),
                                   state=Sprint.State.ACTIVE)
    when, _ = _play(s, board, sprint, actions, datetime(2026, 3, 2, 8, tzinfo=ZoneInfo("UTC")))
    now = when + timedelta(hours=1)
    sprint = Sprint.objects.select_related("board").get(pk=sprint.pk)

    for only in (None, sprint):
        result = charts.estimation_accuracy(board, sprint=only)
        assert ({t["id"]: (t["points"], t["days"]) for t in result["tickets"]}, result["skipped_never_started"]) == \
            _accuracy_by_replay(board, only)
    # the forecast reads the remaining work without the daily series: the same figure
    burndown = charts.sprint_burndown(sprint, now=now)
    assert charts.sprint_forecast(sprint, now=now, seed=1)["remaining"] == burndown["remaining"]


# --- the endpoints --------------------------------------------------------------------

@pytest.fixture
def api(client, story):
    s, sprint, _ = story
    client.force_login(s.user)
    return client, s.board, sprint


def test_burndown_endpoint_serves_the_frozen_series_of_a_closed_sprint(api, story):
    client, board, sprint = api
    sprint.series = charts.sprint_frozen_series(sprint, now=AFTER)
    sprint.save(update_fields=["series"])

    response = client.get(f"/api/boards/{board.pk}/sprints/{sprint.pk}/burndown/", {"unit": "points"})

    assert response.status_code == 200
    assert [p["remaining"] for p in response.json()["points"]] == REMAINING


@pytest.mark.parametrize("path, query, message", [
    ("velocity/", {"last": "²"}, "whole number"),
    ("velocity/", {"last": "٣"}, "whole number"),
    ("velocity/", {"last": str(10**30)}, "whole number"),
    ("velocity/", {"last": "0"}, "whole number"),
    ("velocity/", {"last": ["1", "2"]}, "once"),
    ("cfd/", {"start": "2016-01-01", "end": "2026-03-01"}, "at most 366 days"),
    ("cfd/", {"start": "2026-03-10", "end": "2026-03-01"}, "ends before it starts"),
    ("cfd/", {"start": "2026-02-30"}, "not a real date"),
    ("cfd/", {"start": "２０２６-01-01"}, "a date like"),
    ("cfd/", {"end": "2026-01-01\x00"}, "a date like"),
    ("accuracy/", {"sprint": "\x00"}, "sprint's id"),
    ("accuracy/", {"sprint": "①"}, "sprint's id"),
    ("sprints/{sprint}/burndown/", {"unit": "hours"}, "points or tickets"),
    ("sprints/{sprint}/burndown/", {"unit": "\x00"}, "points or tickets"),
])
def test_hostile_query_values_are_a_400_with_a_message(api, path, query, message):
    client, board, sprint = api

    response = client.get(f"/api/boards/{board.pk}/{path.format(sprint=sprint.pk)}", query)

    assert response.status_code == 400
    assert message in response.json()["detail"]


@pytest.mark.parametrize("path", [
    "sprints/{other}/burndown/", "sprints/{other}/forecast/", "accuracy/?sprint={other}",
    "accuracy/?sprint=" + str(2**63), "accuracy/?sprint=" + "9" * 19,
])
def test_another_boards_sprint_or_an_impossible_id_is_a_404(api, path):
    client, board, _ = api
    owner = UserFactory(username="olga")
    other = Sprint.objects.create(board=make_board(owner, name="Other"), name="Theirs", start=START, end=END)

    response = client.get(f"/api/boards/{board.pk}/{path.format(other=other.pk)}")

    assert response.status_code == 404


def test_huge_sprint_ids_in_the_path_are_a_404(api):
    client, board, _ = api

    response = client.get(f"/api/boards/{board.pk}/sprints/{2**64}/forecast/")

    assert response.status_code == 404


@pytest.mark.parametrize("path", ["velocity/", "cfd/", "accuracy/", "sprints/{sprint}/burndown/",
                                  "sprints/{sprint}/forecast/"])
def test_every_chart_endpoint_answers_with_its_defaults(api, path):
    client, board, sprint = api

    response = client.get(f"/api/boards/{board.pk}/{path.format(sprint=sprint.pk)}")

    assert response.status_code == 200, response.content[:300]


# --- the reports page --------------------------------------------------------------------

def test_reports_page_holds_a_figure_per_chart_fed_by_its_endpoint(api):
    client, board, _ = api

    response = client.get(f"/b/{board.pk}/reports/", {"start": "2026-03-01", "end": "2026-03-20"})

    html = response.content.decode()
    assert response.status_code == 200
    for kind in ("velocity", "cfd", "accuracy"):
        assert f'data-chart-kind="{kind}"' in html
    assert f"/api/boards/{board.pk}/cfd/?start=2026-03-01&amp;end=2026-03-20" in html
    assert "chart.umd.min.js" in html and "js/charts.js" in html


@pytest.mark.parametrize("query, message", [
    ({"start": "2026-03-10", "end": "2026-03-01"}, "ends before it starts"),
    ({"start": "2010-01-01", "end": "2026-03-01"}, "at most 366 days"),
    ({"start": "²"}, "Enter a valid date"),
    ({"sprint": "\x00"}, "Select a valid choice"),
])
def test_reports_page_refuses_a_bad_range_with_a_message_next_to_the_form(api, query, message):
    client, board, _ = api

    response = client.get(f"/b/{board.pk}/reports/", query)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'data-chart-kind="cfd"' in response.content.decode()  # the charts still show, over the last 30 days
