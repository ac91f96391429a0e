"""`manage.py seed_demo`: a believable demo board, created once, re-creatable."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from board import services
from board.models import Board, Column, Comment, Membership, Sprint, Ticket, TicketEvent

User = get_user_model()

BOARD_NAME = "Churn prediction — Sprint 14"
PASSWORD = "demo-pass-2026"
USERNAMES = ["ana", "ben", "chloe", "dev", "eve"]


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def demo_board() -> Board:
    return Board.objects.get(name=BOARD_NAME)


def snapshot() -> dict:
    """Everything the command writes, counted."""
    return {
        "users": User.objects.count(),
        "boards": Board.objects.count(),
        "memberships": Membership.objects.count(),
        "tickets": Ticket.objects.count(),
        "events": TicketEvent.objects.count(),
        "comments": Comment.objects.count(),
        "sprints": Sprint.objects.count(),
        "board_versions": sorted(Board.objects.values_list("version", flat=True)),
    }


@pytest.mark.django_db
def test_seed_demo_creates_five_demo_users_who_can_log_in_with_the_demo_password():
    seed()

    users = {u.username: u for u in User.objects.filter(username__in=USERNAMES)}
    assert sorted(users) == USERNAMES
    for user in users.values():
        assert user.check_password(PASSWORD)
        assert user.first_name and user.last_name
        assert "@" in user.email
    assert users["ana"].get_full_name() == "Ana Lima"


@pytest.mark.django_db
def test_the_demo_team_has_an_owner_members_and_a_viewer():
    seed()

    roles = dict(Membership.objects.filter(board=demo_board()).values_list("user__username", "role"))
    assert roles == {"ana": "owner", "ben": "member", "chloe": "member", "dev": "member", "eve": "viewer"}


@pytest.mark.django_db
def test_the_output_ends_with_one_login_line_per_user():
    out = seed()

    lines = out.strip().splitlines()[-len(USERNAMES):]
    for username, line in zip(USERNAMES, lines, strict=True):
        assert username in line and PASSWORD in line
    assert "owner" in lines[0] and "viewer" in lines[-1]


@pytest.mark.django_db
def test_the_demo_board_uses_the_ml_sprint_workflow_and_the_churn_key():
    seed()

    board = demo_board()
    assert board.template == Board.Template.ML_SPRINT
    assert board.key == "CHURN"
    assert list(board.columns.order_by("position").values_list("name", flat=True)) == [
        "Backlog", "Whiteboarding", "Implementation", "Code review", "Done",
    ]
    assert set(board.labels.values_list("name", flat=True)) >= {"data", "features", "modelling", "infra", "eval"}
    assert board.epics.count() == 3


@pytest.mark.django_db
def test_the_board_has_50_to_65_tickets_in_every_column_with_most_in_backlog_and_done():
    seed()

    board = demo_board()
    assert 50 <= board.tickets.count() <= 65
    counts = {column.name: column.tickets.count() for column in board.columns.all()}
    assert all(n > 0 for n in counts.values()), counts
    in_progress = [counts["Whiteboarding"], counts["Implementation"], counts["Code review"]]
    assert counts["Backlog"] > max(in_progress) and counts["Done"] > max(in_progress)


@pytest.mark.django_db
def test_tickets_mix_kinds_points_assignees_labels_and_epics():
    seed()

    tickets = demo_board().tickets.all()
    assert set(tickets.values_list("kind", flat=True)) == set(Ticket.Kind.values)
    assert set(tickets.values_list("points", flat=True)) == {1, 2, 3, 5, 8, None}
    assert tickets.filter(assignee__isnull=True).exists()
    assert tickets.values("assignee").distinct().count() >= 4
    assert tickets.filter(labels__isnull=False).distinct().count() == tickets.count()
    assert tickets.filter(epic__isnull=False).count() > tickets.count() // 2


@pytest.mark.django_db
def test_descriptions_are_realistic_ml_work_with_measurable_hypotheses():
    seed()

    tickets = demo_board().tickets.all()
    descriptions = list(tickets.values_list("description", flat=True))
    assert not any("lorem" in d.lower() for d in descriptions)
    hypotheses = [d for d in descriptions if "**Hypothesis:**" in d]
    assert len(hypotheses) >= 3
    assert any("ROC-AUC by ≥ 0.01 over the 0.81" in d for d in hypotheses)
    titles = " ".join(tickets.values_list("title", flat=True)).lower()
    for topic in ("logistic regression baseline", "gradient boosting", "scikit-learn", "numpy", "review"):
        assert topic in titles


@pytest.mark.django_db
def test_some_tickets_are_blocked_and_each_blocked_ticket_says_why():
    seed()

    blocked = demo_board().tickets.filter(blocked=True)
    assert blocked.count() >= 2
    assert all(t.blocked_reason.strip() for t in blocked)


@pytest.mark.django_db
def test_some_in_progress_tickets_are_past_their_timebox_and_others_are_fresh():
    seed()

    in_progress = list(demo_board().tickets.filter(column__category=Column.Category.IN_PROGRESS))
    assert all(t.started_at is not None and t.done_at is None for t in in_progress)
    overdue = [t for t in in_progress if t.timebox_exceeded()]
    assert overdue, "no in-progress ticket is past its timebox"
    assert len(overdue) < len(in_progress), "every in-progress ticket is past its timebox"
    now = timezone.now()
    assert all(timedelta(days=4) <= now - t.started_at <= timedelta(days=7) for t in overdue)


@pytest.mark.django_db
def test_there_is_one_active_two_week_sprint_holding_most_started_tickets_and_one_planned_sprint():
    seed()

    board = demo_board()
    active = board.sprints.get(state=Sprint.State.ACTIVE)
    assert board.sprints.filter(state=Sprint.State.PLANNED).count() == 1
    assert board.sprints.count() == 5
    assert (active.end - active.start).days == 13
    assert active.start <= timezone.localdate() <= active.end
    assert active.started_at is not None and active.committed_points > 0
    started = board.tickets.exclude(column__category=Column.Category.TODO).exclude(sprint__state=Sprint.State.CLOSED)
    assert started.filter(sprint=active).count() > started.count() * 0.75


@pytest.mark.django_db
def test_comments_are_markdown_by_several_people():
    seed()

    comments = Comment.objects.filter(ticket__board=demo_board())
    assert comments.count() >= 5
    assert comments.values("author").distinct().count() >= 3
    assert any("**" in c.body or "`" in c.body or "|" in c.body for c in comments)
    for comment in comments:
        event = TicketEvent.objects.get(ticket=comment.ticket, field="comment", new=comment.pk)
        assert event.at == comment.created_at


@pytest.mark.django_db
def test_every_ticket_has_a_history_that_starts_at_its_creation_and_ends_in_its_column():
    seed()

    for ticket in demo_board().tickets.all():
        events = list(ticket.events.order_by("at", "id"))
        assert events[0].field == "created" and events[0].at == ticket.created_at
        columns = [e for e in events if e.field == "column"]
        assert columns[-1].new == ticket.column_id
        assert columns[-1].at == ticket.entered_column_at


@pytest.mark.django_db
def test_history_is_backdated_over_the_last_eight_weeks_in_the_order_it_was_applied():
    seed()

    board = demo_board()
    now = timezone.now()
    events = TicketEvent.objects.filter(ticket__board=board)
    assert not events.filter(at__gt=now).exists()
    # three closed sprints of two weeks before the active one, planned the day before
    assert not events.filter(at__lt=now - timedelta(days=56)).exists()
    assert events.filter(at__lt=now - timedelta(days=48)).exists()
    # Ordering by time gives the order the changes were made in (their ids).
    ids = list(events.order_by("at", "id").values_list("id", flat=True))
    assert ids == sorted(ids)
    assert board.created_at <= events.order_by("at").first().at


@pytest.mark.django_db
def test_flow_timestamps_agree_with_the_column_history():
    seed()

    board = demo_board()
    in_progress = board.columns.filter(category=Column.Category.IN_PROGRESS)
    in_progress_ids = set(in_progress.values_list("pk", flat=True))
    for ticket in board.tickets.select_related("column"):
        moves = list(ticket.events.filter(field="column").order_by("board_version"))
        started = next((e.at for e in moves if e.new in in_progress_ids), None)
        assert ticket.started_at == started
        if ticket.column.is_done:
            assert ticket.done_at == moves[-1].at
            assert ticket.started_at < ticket.done_at
        else:
            assert ticket.done_at is None
        assert ticket.created_at <= ticket.entered_column_at <= ticket.updated_at


@pytest.mark.django_db
def test_running_seed_demo_twice_changes_nothing_and_still_prints_the_logins():
    seed()
    before = snapshot()

    out = seed()

    assert snapshot() == before
    assert "exists" in out
    assert all(f"{name}" in out for name in USERNAMES) and PASSWORD in out


@pytest.mark.django_db
def test_reset_deletes_the_demo_board_and_users_and_creates_them_again():
    seed()
    old_board = demo_board()
    old_ana = User.objects.get(username="ana")
    before = snapshot()
    # Someone played with the demo: reset throws their card away with the board.
    services.ticket_create(board=old_board, actor=old_ana, data=services.TicketInput(title="Try the board"))

    seed("--reset")

    assert not Board.objects.filter(pk=old_board.pk).exists()
    assert not User.objects.filter(pk=old_ana.pk).exists()
    assert Board.objects.filter(name=BOARD_NAME).count() == 1
    assert snapshot() | {"board_versions": None} == before | {"board_versions": None}
    assert User.objects.get(username="ana").check_password(PASSWORD)


@pytest.mark.django_db
def test_reset_keeps_other_boards_and_accounts():
    other = User.objects.create_user("zoe", "zoe@lab.example", "pw-zoe-2026")
    seed()
    other_board = services.board_create(user=other, name="Another team")

    seed("--reset")

    assert User.objects.filter(pk=other.pk).exists()
    assert Board.objects.filter(pk=other_board.pk).exists()


@pytest.mark.django_db
def test_the_demo_content_is_deterministic():
    def content():
        return list(
            demo_board().tickets.order_by("number").values_list(
                "number", "title", "column__name", "assignee__username", "points", "blocked"
            )
        )

    seed()
    first = content()
    seed("--reset")

    assert content() == first


@pytest.mark.django_db
def test_seed_demo_refuses_to_take_over_a_real_account_with_a_demo_username():
    real = User.objects.create_user("ana", "ana@real-company.example", "her-own-password")

    with pytest.raises(CommandError, match="ana"):
        seed()

    real.refresh_from_db()
    assert real.check_password("her-own-password")
    assert not Board.objects.filter(name=BOARD_NAME).exists()
    assert not User.objects.filter(username__in=USERNAMES[1:]).exists()


@pytest.mark.django_db
def test_three_sprints_were_started_and_closed_through_the_services_at_their_dates():
    seed()

    board = demo_board()
    closed = list(board.sprints.filter(state=Sprint.State.CLOSED).order_by("start"))
    active = board.sprints.get(state=Sprint.State.ACTIVE)
    assert [s.name for s in closed] == ["Sprint 11", "Sprint 12", "Sprint 13"]
    for before, after in zip(closed, [*closed[1:], active], strict=True):
        assert after.start == before.end + timedelta(days=1)
    for sprint in closed:
        assert timezone.localdate(sprint.started_at) == sprint.start
        closed_on = timezone.localdate(sprint.closed_at)  # the last working day
        assert sprint.end - timedelta(days=2) <= closed_on <= sprint.end and closed_on.weekday() < 5
        assert 0 < sprint.completed_points <= sprint.committed_points + 3  # Sprint 12 took on 3 points
        assert sprint.series and sprint.series != {}
    # Sprint 13's unfinished card went on to Sprint 14 with an event.
    carried = board.tickets.get(title="Dashboard: weekly churn rate by segment")
    assert carried.sprint_id == active.pk
    assert list(carried.events.filter(field="sprint").values_list("old", "new")) == [
        (None, closed[-1].pk), (closed[-1].pk, active.pk)]


@pytest.mark.django_db
def test_the_closed_sprints_hold_scope_added_a_re_estimate_and_a_reopened_card():
    seed()

    board = demo_board()
    s12, s13 = board.sprints.get(name="Sprint 12"), board.sprints.get(name="Sprint 13")
    added = board.tickets.get(title="CI job for the feature pipeline")
    assert added.sprint_id == s12.pk and added.pk not in s12.committed_tickets
    skew = board.tickets.get(title="Train/serve skew check for the core features")
    assert list(skew.events.filter(field="points").values_list("old", "new")) == [(None, 5), (5, 8)]
    assert skew.sprint_id == s13.pk
    reopened = board.tickets.get(title="Feature: support tickets per seat")
    categories = list(reopened.events.filter(field="column").order_by("board_version").values_list("category",
                                                                                                    flat=True))
    assert categories[-3:] == ["done", "in_progress", "done"]


@pytest.mark.django_db
def test_research_runs_well_over_its_estimates_while_stories_stay_close():
    seed()

    def days_per_point(kinds):
        tickets = demo_board().tickets.filter(kind__in=kinds, sprint__state=Sprint.State.CLOSED,
                                              done_at__isnull=False, points__gt=0)
        ratios = sorted((t.done_at - t.started_at).total_seconds() / 86400 / t.points for t in tickets)
        return ratios[len(ratios) // 2]

    research = days_per_point([Ticket.Kind.RESEARCH, Ticket.Kind.EXPERIMENT])
    stories = days_per_point([Ticket.Kind.STORY, Ticket.Kind.BUG, Ticket.Kind.CHORE])
    assert research > 1.8 * stories
