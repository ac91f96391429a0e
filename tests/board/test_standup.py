"""The standup view: the window, person by person, and bad input.

The calendar used below (2026):

    Thu 26 Nov | Fri 27 Nov | Sat 28 | Sun 29 | Mon 30 Nov | Tue 1 Dec
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from board import services
from board.models import Board, Membership, Ticket
from board.services import Writer
from board.standup import PRESETS, BadStandupRequest, clean_person, standup_for, standup_window
from board.timezones import board_tz
from tests.factories import UserFactory, make_ticket

FRI, MON, TUE = date(2026, 11, 27), date(2026, 11, 30), date(2026, 12, 1)


def at(day: date, hour: int, minute: int = 0, tz=UTC) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def move(board, ticket, column, actor, when):
    t = Ticket.objects.get(pk=ticket.pk)
    return services.ticket_move(board=board, actor=Writer(user=actor, at=when), ticket_id=t.pk,
                                expected_version=t.version, to_column_id=column.pk, position="bottom").ticket


def comment(board, ticket, actor, when, body):
    return services.comment_add(board=board, ticket_id=ticket.pk, author=Writer(user=actor, at=when), body=body)


def page(client, board, query="", *, now):
    with time_machine.travel(now, tick=False):
        return client.get(f"/b/{board.pk}/standup/{query}")


def section(html: str, key: str) -> str:
    """The HTML of one person's section."""
    start = html.index(f'id="person-{key}"')
    end = html.find('<section class="person"', start)
    return html[start:end if end != -1 else len(html)]


# --- the window ---------------------------------------------------------------------

@pytest.mark.parametrize(("now", "first_day", "label"), [
    (at(MON, 9), FRI, "since Friday"),  # Monday looks back to Friday
    (at(TUE, 9), MON, "since Monday"),
    (at(date(2026, 12, 2), 9), TUE, "since Tuesday"),  # Wednesday
    (at(date(2026, 12, 3), 9), date(2026, 12, 2), "since Wednesday"),  # Thursday
    (at(date(2026, 12, 4), 9), date(2026, 12, 3), "since Thursday"),  # Friday
    (at(date(2026, 11, 28), 9), FRI, "since Friday"),  # Saturday
    (at(date(2026, 11, 29), 9), FRI, "since Friday"),  # Sunday
])
def test_window_starts_at_midnight_of_the_previous_working_day_and_ends_now(now, first_day, label):
    with time_machine.travel(now, tick=False):
        window = standup_window(None, tz=UTC, now=timezone.now())

    assert window.start == at(first_day, 0)
    assert window.end == now
    assert window.label == label


def test_window_follows_the_boards_time_zone_where_the_date_differs_from_utc():
    # Sunday 20:00 UTC is already Monday 09:00 in Auckland (UTC+13 in November):
    # Auckland's standup looks back to Friday 00:00 there, Thursday 11:00 UTC.
    now = at(date(2026, 11, 29), 20)
    auckland = ZoneInfo("Pacific/Auckland")

    window = standup_window(None, tz=auckland, now=now)

    assert window.first_day == FRI
    assert window.start == at(FRI, 0, tz=auckland) == at(date(2026, 11, 26), 11)
    assert window.label == "since Friday"
    # The same instant in UTC is a Sunday, which looks back to Friday 00:00 UTC.
    assert standup_window(None, tz=UTC, now=now).start == at(FRI, 0)


def test_presets_and_dates_choose_the_first_day():
    now = at(TUE, 9)

    assert standup_window("3d", tz=UTC, now=now).first_day == date(2026, 11, 28)
    assert standup_window("week", tz=UTC, now=now).first_day == date(2026, 11, 24)
    assert standup_window("2026-11-20", tz=UTC, now=now).first_day == date(2026, 11, 20)
    assert standup_window("2026-12-01", tz=UTC, now=now).label == "since this morning"
    assert standup_window("2026-11-20", tz=UTC, now=now).label == "since Fri 20 Nov"
    assert standup_window(str(TUE - timedelta(days=31)), tz=UTC, now=now).first_day == TUE - timedelta(days=31)
    assert set(PRESETS) == {"prev", "3d", "week"}


@pytest.mark.parametrize("since", [
    "yesterday", "2026-13-01", "2026-02-30", "2026-12-02", "9999-12-31", "0001-01-01", "2026-10-30",
    "20261127", "2026-W48-5", "２０２６-11-27", "' OR 1=1 --", "2026-11-27\x00", "<script>", "a" * 10_000, "-1",
])
def test_a_since_the_standup_cannot_show_is_refused_with_a_reason(since):
    with pytest.raises(BadStandupRequest) as error:
        standup_window(since, tz=UTC, now=at(TUE, 9))

    assert str(error.value)


@pytest.mark.parametrize("person", ["<script>", "a" * 151, "bob\x00", "../../etc", "bob smith", "bob;drop"])
def test_a_malformed_person_is_refused(person):
    with pytest.raises(BadStandupRequest):
        clean_person(person)


# --- person by person -----------------------------------------------------------------

@pytest.fixture
def history(board, columns, alice, bob):
    """Bob moves and comments on Friday; Alice on Monday; Bob's card is blocked,
    Alice's is past its timebox; something happened on Thursday, before the window."""
    backlog, whiteboarding, implementation, review, _done = columns
    with time_machine.travel(at(date(2026, 11, 20), 10), tick=False):
        tuning = make_ticket(board, alice, title="Tune the learning rate", assignee=alice)
        leakage = make_ticket(board, alice, title="Fix leakage in target encoding", assignee=bob)
        blocked = make_ticket(board, alice, title="Label the validation set", assignee=bob, blocked=True,
                              blocked_reason="Waiting for the annotation budget")
    move(board, tuning, whiteboarding, alice, at(date(2026, 11, 25), 15))  # started Wednesday: 4 days by Monday
    move(board, leakage, whiteboarding, bob, at(date(2026, 11, 26), 23, 59))  # Thursday: before the window
    comment(board, leakage, bob, at(date(2026, 11, 26), 18), "Thursday's comment, not in the window")
    move(board, leakage, implementation, bob, at(FRI, 0, 1))
    comment(board, leakage, bob, at(FRI, 16, 30), "The leak was the customer id in the features.")
    move(board, leakage, review, bob, at(FRI, 17))
    comment(board, tuning, alice, at(MON, 8, 15), "Cosine schedule looks better.")
    return {"tuning": tuning, "leakage": leakage, "blocked": blocked}


@pytest.mark.django_db
def test_moves_comments_blocked_and_overdue_cards_land_under_the_right_person(client, board, history, bob):
    client.force_login(bob)

    response = page(client, board, now=at(MON, 9, 30))

    assert response.status_code == 200
    html = response.content.decode()
    bob_part, alice_part = section(html, "bob"), section(html, "alice")
    # Bob's moves on Friday, from → to, with their time
    assert "Fix leakage in target encoding" in bob_part
    assert 'Whiteboarding</span> → <span class="col">Implementation' in bob_part
    assert 'Implementation</span> → <span class="col">Code review' in bob_part
    assert "Fri 00:01" in bob_part and "Fri 17:00" in bob_part
    assert "The leak was the customer id in the features." in bob_part
    assert "Label the validation set" in bob_part and "Waiting for the annotation budget" in bob_part
    # in progress since Thursday 23:59: past its 3-day timebox on Monday morning
    assert "in progress for 3 days (timebox 3)" in bob_part
    # Alice: her comment on Monday, her card in progress since Wednesday (4 days, timebox 3)
    assert "Cosine schedule looks better." in alice_part
    assert "in progress for 4 days (timebox 3)" in alice_part
    assert "Nothing moved since Friday." in alice_part
    assert "Nothing blocked." in alice_part
    assert "Leakage" not in alice_part and "Label the validation set" not in alice_part
    # Thursday is before the window
    assert "Thursday&#x27;s comment" not in html and "Thursday's comment" not in html
    assert 'Backlog</span> → <span class="col">Whiteboarding' not in bob_part


@pytest.mark.django_db
def test_one_person_is_shown_at_a_time_and_the_url_picks_who(client, board, history, bob):
    client.force_login(bob)

    first = page(client, board, now=at(MON, 9, 30)).content.decode()
    chosen = page(client, board, "?person=bob", now=at(MON, 9, 30)).content.decode()

    # People in the order of their names: Alice, Bob (Vera, a viewer with nothing, has no section)
    assert first.index('id="person-alice"') < first.index('id="person-bob"')
    assert 'id="person-vera"' not in first
    assert 'data-person="alice" aria-labelledby="person-name-1">' in first
    assert 'data-person="bob" aria-labelledby="person-name-2" hidden>' in first
    assert 'data-person="alice" aria-labelledby="person-name-1" hidden>' in chosen
    assert 'data-person="bob" aria-labelledby="person-name-2">' in chosen
    assert 'href="?since=prev&amp;person=bob" data-step="1" rel="next">Next person →' in first


@pytest.mark.django_db
def test_the_window_selector_widens_the_view(client, board, history, bob):
    client.force_login(bob)

    html = page(client, board, "?since=week", now=at(MON, 9, 30)).content.decode()

    assert "Thursday&#x27;s comment, not in the window" in html
    assert "Thu 26 Nov, 18:00" in html  # over a week, times name the date, not only the weekday
    assert 'Backlog</span> → <span class="col">Whiteboarding' in section(html, "alice")


@pytest.mark.django_db
def test_the_boards_time_zone_moves_the_window(client, board, columns, alice, bob):
    # Thursday 12:00 UTC is already Friday 01:00 in Auckland.
    with time_machine.travel(at(date(2026, 11, 20), 10), tick=False):
        ticket = make_ticket(board, alice, title="Evaluate on the holdout")
    move(board, ticket, columns[4], bob, at(date(2026, 11, 26), 12))  # to Done
    client.force_login(bob)
    now = at(date(2026, 11, 29), 21)  # Sunday in UTC, Monday 10:00 in Auckland

    in_utc = page(client, board, now=now).content.decode()
    Board.objects.filter(pk=board.pk).update(time_zone="Pacific/Auckland")
    in_auckland = page(client, board, now=now).content.decode()

    assert "Evaluate on the holdout" not in in_utc
    assert "Evaluate on the holdout" in section(in_auckland, "bob")
    assert "Fri 01:00" in in_auckland  # times read in the board's time zone
    assert "(Pacific/Auckland)" in in_auckland


@pytest.mark.django_db
def test_people_who_left_and_system_writers_go_under_unassigned_and_others(client, board, columns, alice, bob):
    zoe = UserFactory(username="zoe", first_name="Zoe", last_name="Gone")
    membership = Membership.objects.create(board=board, user=zoe, role=Membership.Role.MEMBER)
    with time_machine.travel(at(date(2026, 11, 20), 10), tick=False):
        by_zoe = make_ticket(board, alice, title="Zoe's card", assignee=zoe, blocked=True, blocked_reason="GPU quota")
        unassigned = make_ticket(board, alice, title="Nobody's card", blocked=True, blocked_reason="No owner")
    move(board, by_zoe, columns[1], zoe, at(FRI, 10))
    services.ticket_move(  # a command, not a person
        board=board, actor=Writer(source="command", detail="nightly import", at=at(FRI, 11)),
        ticket_id=unassigned.pk, expected_version=Ticket.objects.get(pk=unassigned.pk).version,
        to_column_id=columns[1].pk, position="bottom")
    services.membership_remove(board=board, membership_id=membership.pk, actor=alice)
    client.force_login(bob)

    html = page(client, board, now=at(MON, 9)).content.decode()

    others = section(html, "~others")
    assert "Unassigned/others" in others
    assert "by Zoe Gone (not on the board)" in others
    assert "by nightly import (automatic)" in others
    assert "Nobody&#x27;s card" in others and "unassigned" in others
    assert 'id="person-zoe"' not in html


@pytest.mark.django_db
def test_titles_and_comments_are_shown_as_text(client, board, columns, alice, bob):
    with time_machine.travel(at(date(2026, 11, 20), 10), tick=False):
        ticket = make_ticket(board, alice, title='<script>alert("t")</script>', assignee=bob, blocked=True,
                             blocked_reason="<b>reason</b>")
    move(board, ticket, columns[1], bob, at(FRI, 10))
    comment(board, ticket, bob, at(FRI, 11), '<img src=x onerror="alert(1)"> **bold**')
    client.force_login(bob)

    html = page(client, board, now=at(MON, 9)).content.decode()

    assert "<script>alert" not in html and "<img src=x" not in html and "<b>reason" not in html
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; **bold**" in html
    assert "&lt;b&gt;reason&lt;/b&gt;" in html


@pytest.mark.django_db
def test_a_deleted_card_keeps_its_title_in_the_standup(client, board, columns, alice, bob):
    with time_machine.travel(at(date(2026, 11, 20), 10), tick=False):
        ticket = make_ticket(board, alice, title="A card deleted later")
    move(board, ticket, columns[1], bob, at(FRI, 10))
    services.ticket_delete(board=board, ticket_id=ticket.pk, actor=alice, confirm=f"{board.key}-{ticket.number}")
    client.force_login(bob)

    html = section(page(client, board, now=at(MON, 9)).content.decode(), "bob")

    assert "A card deleted later" in html and "deleted" in html


@pytest.mark.django_db
def test_empty_states_say_so_in_words(client, board, bob):
    client.force_login(bob)

    html = section(page(client, board, now=at(MON, 9)).content.decode(), "bob")

    assert "Nothing moved since Friday." in html
    assert "No comments since Friday." in html
    assert "Nothing blocked." in html
    assert "Nothing past its timebox." in html
    assert "training" not in html.lower()  # no training-run section until training jobs exist


@pytest.mark.django_db
@pytest.mark.parametrize("query", [
    "?since=yesterday", "?since=2026-02-30", "?since=2099-01-01", "?since=2000-01-01", "?since=%00",
    "?since=" + "9" * 5000, "?since=%3Cscript%3E", "?person=%3Cscript%3Ealert(1)%3C/script%3E",
    "?person=" + "a" * 300, "?person=bob%00", "?since=week&person=..%2F..%2F",
])
def test_hostile_since_and_person_get_400_with_a_message_on_the_page(client, board, bob, query):
    client.force_login(bob)

    response = page(client, board, query, now=at(MON, 9))

    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="form-error standup-error" role="alert"' in html
    assert "<script>alert" not in html


@pytest.mark.django_db
def test_someone_without_a_section_starts_from_the_first_person(client, board, bob):
    client.force_login(bob)

    response = page(client, board, "?person=mallory", now=at(MON, 9))

    assert response.status_code == 200
    assert "“mallory” has no section in this standup" in response.content.decode()


# --- queries ----------------------------------------------------------------------------

def _busy_history(board, columns, people, *, cards):
    with time_machine.travel(at(date(2026, 11, 20), 10), tick=False):
        tickets = [make_ticket(board, people[i % len(people)], title=f"Card {i}", assignee=people[i % len(people)],
                               blocked=i % 3 == 0, blocked_reason="waiting" if i % 3 == 0 else "")
                   for i in range(cards)]
    for i, ticket in enumerate(tickets):
        person = people[(i + 1) % len(people)]
        move(board, ticket, columns[1], person, at(FRI, 9, i % 60))
        move(board, ticket, columns[2], person, at(FRI, 10, i % 60))
        comment(board, ticket, person, at(FRI, 11, i % 60), f"comment {i}")


@pytest.mark.django_db
@pytest.mark.parametrize(("cards", "extra_people"), [(1, 0), (30, 6)])
def test_the_standup_reads_in_six_queries_whatever_the_history(
    django_assert_num_queries, board, columns, alice, bob, cards, extra_people
):
    people = [alice, bob]
    for i in range(extra_people):
        user = UserFactory(username=f"person{i}")
        Membership.objects.create(board=board, user=user, role=Membership.Role.MEMBER)
        people.append(user)
    _busy_history(board, columns, people, cards=cards)
    window = standup_window(None, tz=UTC, now=at(MON, 9))
    board = Board.objects.get(pk=board.pk)

    # members, events in the window, their cards, deleted cards' titles,
    # writers not on the board, cards blocked or in progress now
    with django_assert_num_queries(6):
        data = standup_for(board, window=window)

    assert sum(len(p.moves) for p in data.people) == 2 * cards
    assert sum(len(p.comments) for p in data.people) == cards


@pytest.mark.django_db
def test_the_page_runs_as_many_queries_for_a_big_history_as_for_a_small_one(client, board, columns, alice, bob):
    client.force_login(bob)
    counts = []
    for cards in (1, 25):
        _busy_history(board, columns, [alice, bob], cards=cards)
        with CaptureQueriesContext(connection) as queries:
            assert page(client, board, now=at(MON, 9)).status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]


# --- the board's time zone (settings) ------------------------------------------------------

@pytest.mark.django_db
def test_owner_sets_the_boards_time_zone_on_the_settings_page(client, board, alice):
    client.force_login(alice)
    data = {"name": board.name, "key": board.key, "wip_mode": board.wip_mode}

    saved = client.post(f"/b/{board.pk}/settings/board/", {**data, "time_zone": "Europe/Berlin"})
    refused = client.post(f"/b/{board.pk}/settings/board/", {**data, "time_zone": "Mars/Olympus_Mons"})

    assert saved.status_code == 302
    assert refused.status_code == 422
    assert "Unknown time zone" in refused.content.decode()
    board.refresh_from_db()
    assert board.time_zone == "Europe/Berlin"
    assert board_tz(board) == ZoneInfo("Europe/Berlin")
    settings_page = client.get(f"/b/{board.pk}/settings/").content.decode()
    assert 'value="Europe/Berlin"' in settings_page and '<datalist id="time-zone-names">' in settings_page


@pytest.mark.django_db
def test_an_empty_time_zone_means_the_servers(client, board, alice, settings):
    settings.TIME_ZONE = "UTC"
    services.board_update(board=board, name=board.name, wip_mode=board.wip_mode, key=board.key,
                          time_zone="Asia/Tokyo")
    services.board_update(board=board, name=board.name, wip_mode=board.wip_mode, key=board.key, time_zone="")

    board.refresh_from_db()
    assert board.time_zone == ""
    assert board_tz(board) == ZoneInfo("UTC")
    # A name this system does not know (written around the services) falls back too.
    board.time_zone = "Nowhere/Atlantis"
    assert board_tz(board) == ZoneInfo("UTC")


@pytest.mark.django_db
def test_the_service_refuses_an_unknown_time_zone_and_leaves_it_alone_when_not_given(board):
    from django.core.exceptions import ValidationError

    services.board_update(board=board, name=board.name, wip_mode=board.wip_mode, key=board.key,
                          time_zone="America/Lima")
    with pytest.raises(ValidationError):
        services.board_update(board=board, name=board.name, wip_mode=board.wip_mode, key=board.key,
                              time_zone="../../etc/passwd")
    services.board_update(board=board, name="Renamed", wip_mode=board.wip_mode, key=board.key)

    board.refresh_from_db()
    assert (board.name, board.time_zone) == ("Renamed", "America/Lima")


@pytest.mark.django_db
def test_training_runs_that_ended_in_the_window_show_under_who_started_them_with_their_verdict(
    client, board, columns, alice, bob
):
    from board.services import results

    with time_machine.travel(at(date(2026, 11, 20), 10), tick=False):
        ticket = make_ticket(board, alice, title="Boosting on churn", assignee=bob)
        hypothesis = results.hypothesis_create(
            board=board, ticket_id=ticket.pk, actor=bob, statement="Boosting lifts ROC AUC above 0.93",
            metric="roc_auc", target=0.93)
    with time_machine.travel(at(FRI, 15), tick=False):
        results.ticket_record_run(board=board, ticket_id=ticket.pk, outcome=results.RunOutcome(
            run_id=12, state="succeeded", metrics={"roc_auc": 0.962}, hypothesis_id=hypothesis.pk, user=bob))
    with time_machine.travel(at(date(2026, 11, 25), 15), tick=False):  # before the window
        results.ticket_record_run(board=board, ticket_id=ticket.pk, outcome=results.RunOutcome(
            run_id=7, state="failed", error="ValueError: bad", user=bob))
    client.force_login(alice)

    html = page(client, board, "?person=bob", now=at(MON, 9)).content.decode()

    bob_section = section(html, "bob")
    assert "Training runs that ended" in bob_section
    assert "run 12 succeeded: roc_auc 0.962 ≥ 0.93, hypothesis supported" in bob_section
    assert "run 7" not in bob_section
    assert "No runs ended since Friday." in section(html, "alice")
