"""Sprints: create, edit, plan, start, close, delete.

A sprint is planned, then active (one per board, a database constraint),
then closed. Planning and closing change tickets' sprints through
`ticket_patch`, so each card records a "sprint" event and the history stays
the single source of truth. Closing freezes the sprint's charts in
`Sprint.series`: later edits, archives or hard deletes do not rewrite them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from board.models import Board, Column, Sprint, Ticket
from board.timezones import board_tz

from .common import Writer, bump_version, lock_board, writing_as
from .tickets import ticket_patch

SPRINT_DAYS = 14
MAX_PLAN = 500  # tickets in one planning request


def sprint_default_dates(board: Board, *, now=None) -> tuple[date, date]:
    """The next working day (Mon–Fri) in the board's time zone, or the one
    after the last open sprint ends (sprints may not overlap), and two weeks on."""
    today = timezone.localtime(now or timezone.now(), board_tz(board)).date()
    last_end = (Sprint.objects.filter(board=board).exclude(state=Sprint.State.CLOSED)
                .order_by("-end").values_list("end", flat=True).first())
    start = max(today, last_end or today) + timedelta(days=1)
    while start.weekday() >= 5:
        start += timedelta(days=1)
    return start, start + timedelta(days=SPRINT_DAYS - 1)


def _as_date(value):
    """A date, or an ISO date string (the old callers' form); anything else stays as it is and is refused."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()) if value.strip() else None
        except ValueError:
            return value
    return value.date() if isinstance(value, datetime) else value


def _clean_fields(board: Board, *, name, goal, start, end, sprint_id=None) -> tuple[str, str, date, date]:
    name = (name or "").strip()
    start, end = _as_date(start), _as_date(end)
    errors = {}
    if not name:
        errors["name"] = "A sprint needs a name."
    if start is None and end is None:
        start, end = sprint_default_dates(board)
    elif start is None or end is None:
        if start is None:
            errors["start"] = "A sprint needs a start and an end date."
        else:
            end = start + timedelta(days=SPRINT_DAYS - 1)
    if not isinstance(start, date) or not isinstance(end, date):
        errors.setdefault("start", "A sprint needs a start and an end date.")
    elif end < start:
        errors["end"] = "The sprint ends before it starts."
    if errors:
        raise ValidationError(errors)
    overlapping = (
        Sprint.objects.filter(board=board, start__lte=end, end__gte=start)
        .exclude(state=Sprint.State.CLOSED).exclude(pk=sprint_id).order_by("start").first()
    )
    if overlapping is not None:
        raise ValidationError({"start": (
            f"These dates overlap “{overlapping.name}” ({overlapping.start:%d %b} – {overlapping.end:%d %b %Y}). "
            "Sprints of a board follow one another."
        )})
    return name[:80], (goal or "").strip()[:2000], start, end


@transaction.atomic
def sprint_create(*, board: Board, name: str, start: date | None = None, end: date | None = None,
                  goal: str = "", actor=None) -> Sprint:
    """A planned sprint; without dates it starts on the next working day and lasts two weeks."""
    board = lock_board(board.pk)
    name, goal, start, end = _clean_fields(board, name=name, goal=goal, start=start, end=end)
    sprint = Sprint.objects.create(board=board, name=name, start=start, end=end, goal=goal)
    bump_version(board, layout=True)
    return sprint


def _locked_sprint(board: Board, sprint_id) -> tuple[Board, Sprint]:
    board = lock_board(board.pk)
    try:
        sprint_id = int(sprint_id)
    except (TypeError, ValueError):
        raise Sprint.DoesNotExist("No such sprint.") from None
    if not 0 < sprint_id < 2**63:
        raise Sprint.DoesNotExist("No such sprint.")
    return board, Sprint.objects.get(pk=sprint_id, board=board)


@transaction.atomic
def sprint_update(*, board: Board, sprint_id: int, name: str, start: date | None, end: date | None,
                  goal: str = "", actor=None) -> Sprint:
    """Rename a sprint, change its goal or dates (not once it is closed)."""
    board, sprint = _locked_sprint(board, sprint_id)
    if sprint.state == Sprint.State.CLOSED:
        raise ValidationError({"name": "This sprint is closed: its record stays as it was."})
    sprint.name, sprint.goal, sprint.start, sprint.end = _clean_fields(
        board, name=name, goal=goal, start=start or sprint.start, end=end or sprint.end, sprint_id=sprint.pk)
    sprint.save(update_fields=["name", "goal", "start", "end"])
    bump_version(board, layout=True)
    return sprint


def _ticket_ids(ticket_ids) -> list[int]:
    ids = []
    for value in ticket_ids or ():
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValidationError({"tickets": "Choose cards from the lists."}) from None
        if not 0 < number < 2**63:
            raise ValidationError({"tickets": "Choose cards from the lists."})
        if number not in ids:
            ids.append(number)
    if not ids:
        raise ValidationError({"tickets": "Choose at least one card."})
    if len(ids) > MAX_PLAN:
        raise ValidationError({"tickets": f"Plan at most {MAX_PLAN} cards at a time."})
    return ids


@transaction.atomic
def sprint_plan(*, board: Board, sprint_id: int, ticket_ids, actor, add: bool = True) -> int:
    """Put cards into a planned or active sprint (add=True) or take them out
    to the backlog (add=False). Each card records a "sprint" event. Returns
    the number of cards that changed."""
    board, sprint = _locked_sprint(board, sprint_id)
    if sprint.state == Sprint.State.CLOSED:
        raise ValidationError({"state": f"“{sprint.name}” is closed: plan into a planned or the active sprint."})
    ids = _ticket_ids(ticket_ids)
    tickets = {t.pk: t for t in Ticket.objects.filter(board=board, pk__in=ids).only("id", "sprint_id",
                                                                                     "archived_at", "number")}
    if len(tickets) != len(ids):
        raise ValidationError({"tickets": "A card is not on this board (it may have been deleted)."})
    if add and any(t.archived_at is not None for t in tickets.values()):
        raise ValidationError({"tickets": "An archived card cannot be planned: restore it first."})
    if not add and any(t.sprint_id != sprint.pk for t in tickets.values()):
        raise ValidationError({"tickets": f"A card is not in “{sprint.name}”."})
    changed = 0
    for ticket_id in ids:
        if (tickets[ticket_id].sprint_id == sprint.pk) == add:
            continue  # already where it should be
        ticket_patch(board=board, ticket_id=ticket_id, actor=actor, changes={"sprint": sprint if add else None})
        changed += 1
    return changed


@transaction.atomic
def sprint_start(*, board: Board, sprint_id: int, actor) -> Sprint:
    """Planned → active: records the committed scope (its cards and their points now)."""
    board, sprint = _locked_sprint(board, sprint_id)
    if sprint.state != Sprint.State.PLANNED:
        raise ValidationError({"state": f"“{sprint.name}” is {sprint.get_state_display().lower()}: "
                                        "only a planned sprint can start."})
    active = Sprint.objects.filter(board=board, state=Sprint.State.ACTIVE).first()
    if active is not None:
        raise ValidationError({"state": f"“{active.name}” is still active: close it before starting another."})
    scope = list(sprint.tickets.filter(archived_at__isnull=True).order_by("number").values_list("id", "points"))
    sprint.state = Sprint.State.ACTIVE
    sprint.started_at = Writer.of(actor).now()
    sprint.committed_tickets = [pk for pk, _ in scope]
    sprint.committed_points = sum(points or 0 for _, points in scope)
    sprint.save(update_fields=["state", "started_at", "committed_tickets", "committed_points"])
    bump_version(board, layout=True)
    return sprint


def _frozen_series(sprint: Sprint, now) -> dict:
    """The burndown in points and in tickets as of the close (board.charts)."""
    from board import charts  # charts read the history; imported late (charts may import services)

    return charts.sprint_frozen_series(sprint, now=now)


@transaction.atomic
def sprint_close(*, board: Board, sprint_id: int, actor, unfinished_to="backlog") -> Sprint:
    """Active → closed. Cards not done go to the backlog or to a planned
    sprint (an event each); completed points are recorded and the charts
    frozen as they stand at the close."""
    board, sprint = _locked_sprint(board, sprint_id)
    if sprint.state == Sprint.State.CLOSED:
        raise ValidationError({"state": f"“{sprint.name}” is closed already."})
    if sprint.state != Sprint.State.ACTIVE:
        raise ValidationError({"state": f"“{sprint.name}” has not started: only the active sprint can close."})
    target = None
    if unfinished_to not in ("backlog", "", None):
        try:
            target = Sprint.objects.get(pk=int(unfinished_to), board=board, state=Sprint.State.PLANNED)
        except (Sprint.DoesNotExist, TypeError, ValueError, OverflowError):
            raise ValidationError({"unfinished_to": "Choose the backlog or a planned sprint of this board."}) from None
    writer = Writer.of(actor)
    now = writer.now()
    tickets = list(sprint.tickets.filter(archived_at__isnull=True).select_related("column").order_by("number"))
    done = [t for t in tickets if t.column.category == Column.Category.DONE]
    unfinished = [t for t in tickets if t.column.category != Column.Category.DONE]
    # The charts as they stand at the close, before the unfinished cards leave.
    sprint.closed_at = now
    sprint.series = _frozen_series(sprint, now)
    with writing_as(writer):
        for ticket in unfinished:
            ticket_patch(board=board, ticket_id=ticket.pk, actor=writer, changes={"sprint": target})
    sprint.state = Sprint.State.CLOSED
    sprint.completed_points = sum(t.points or 0 for t in done)
    sprint.save(update_fields=["state", "closed_at", "completed_points", "series"])
    board.refresh_from_db(fields=["version", "layout_version"])
    bump_version(board, layout=True)
    return sprint


@transaction.atomic
def sprint_delete(*, board: Board, sprint_id: int, actor=None) -> None:
    """Delete a sprint; its tickets record that they left it (board.signals)."""
    board = lock_board(board.pk)
    sprint = Sprint.objects.get(pk=sprint_id, board=board)
    with writing_as(Writer.of(actor)):
        sprint.delete()
    board.refresh_from_db(fields=["version", "layout_version"])
    bump_version(board, layout=True)
