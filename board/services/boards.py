"""Boards, columns, labels and epics (members: members.py; sprints: sprints.py)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from fractional_indexing import generate_n_keys_between

from board.models import Board, Column, Epic, Label, Membership, Ticket, TicketEvent
from board.timezones import time_zone_names

from .common import (
    History,
    Writer,
    bump_version,
    column_event,
    enter_column,
    flow_stamps,
    lock_board,
    writing_as,
)

User = get_user_model()

WORKFLOW_TEMPLATES = {
    Board.Template.ML_SPRINT: [
        ("Backlog", Column.Category.TODO, None),
        ("Whiteboarding", Column.Category.IN_PROGRESS, 3),
        ("Implementation", Column.Category.IN_PROGRESS, 4),
        ("Code review", Column.Category.IN_PROGRESS, 3),
        ("Done", Column.Category.DONE, None),
    ],
    Board.Template.SIMPLE: [
        ("To do", Column.Category.TODO, None),
        ("Doing", Column.Category.IN_PROGRESS, None),
        ("Done", Column.Category.DONE, None),
    ],
}


@transaction.atomic
def board_create(*, user, name: str, template: str = Board.Template.ML_SPRINT, key: str = "MLK") -> Board:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A board needs a name."})
    if template not in WORKFLOW_TEMPLATES:
        raise ValidationError({"template": "Unknown workflow template."})
    key = _clean_key(key)
    board = Board.objects.create(name=name[:120], template=template, key=key, created_by=user)
    Membership.objects.create(board=board, user=user, role=Membership.Role.OWNER)
    Column.objects.bulk_create(
        Column(board=board, name=col_name, position=i, category=category, wip_limit=wip)
        for i, (col_name, category, wip) in enumerate(WORKFLOW_TEMPLATES[template])
    )
    return board


@transaction.atomic
def board_purge(*, board: Board) -> None:
    """Erase a board with its cards and its whole history.

    The one deletion of history there is, for operators only (the demo
    reset, erasing a tenant): no page, endpoint or admin action calls it.
    TicketEvent refuses ORM deletes, so its rows go with a raw DELETE."""
    board = lock_board(board.pk)
    events = TicketEvent.objects.filter(board=board)
    events._raw_delete(events.db)
    Ticket.objects.filter(board=board).delete()
    board.delete()


def _clean_key(key: str) -> str:
    key = (key or "").strip().upper()
    if not key.isalnum() or not (1 <= len(key) <= 8):
        raise ValidationError({"key": "Use 1 to 8 letters or digits, e.g. MLK."})
    return key


@transaction.atomic
def board_update(*, board: Board, name: str, wip_mode: str, key: str, time_zone: str | None = None) -> Board:
    """Rename the board, set its WIP mode, ticket prefix and time zone (an
    IANA name, "" for the server's; None leaves it as it is)."""
    board = lock_board(board.pk)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A board needs a name."})
    if wip_mode not in Board.WipMode.values:
        raise ValidationError({"wip_mode": "Choose warn or hard."})
    if time_zone is not None:
        time_zone = time_zone.strip()
        if time_zone and time_zone not in time_zone_names():
            raise ValidationError({"time_zone": "Unknown time zone: choose a name from the list, e.g. Europe/Berlin."})
        board.time_zone = time_zone
    board.name, board.wip_mode, board.key = name[:120], wip_mode, _clean_key(key)
    board.save(update_fields=["name", "wip_mode", "key", "time_zone"])
    bump_version(board, layout=True)
    return board


# Members and invitations: board/services/members.py.


# --- columns ---------------------------------------------------------------

def _clean_column_fields(name: str, wip_limit, category: str):
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A column needs a name."})
    if category not in Column.Category.values:
        raise ValidationError({"category": "Unknown column category."})
    if wip_limit in ("", None):
        wip_limit = None
    else:
        try:
            wip_limit = int(wip_limit)
        except (TypeError, ValueError):
            raise ValidationError({"wip_limit": "The WIP limit is a whole number, or empty for none."}) from None
        if not 1 <= wip_limit <= 10_000:
            raise ValidationError({"wip_limit": "The WIP limit must be between 1 and 10000."})
    return name[:60], wip_limit, category


@transaction.atomic
def column_create(*, board: Board, name: str, wip_limit=None, category: str = Column.Category.IN_PROGRESS) -> Column:
    name, wip_limit, category = _clean_column_fields(name, wip_limit, category)
    board = lock_board(board.pk)
    last = board.columns.order_by("-position").values_list("position", flat=True).first()
    column = Column.objects.create(
        board=board, name=name, wip_limit=wip_limit, category=category, position=(last or 0) + 1
    )
    bump_version(board, layout=True)
    return column


@transaction.atomic
def column_update(*, board: Board, column_id: int, name: str, wip_limit, category: str, actor=None) -> Column:
    """Rename a column, set its WIP limit or its category.

    Re-categorising a column that holds cards re-stamps them, from now on:
    into "done" they are done now, out of it they are not done any more, into
    "in progress" they start now if they had not. Each card records a
    "category" event, so flow charts and replay see the change on the day it
    was made, and the past stays as it was."""
    name, wip_limit, category = _clean_column_fields(name, wip_limit, category)
    board = lock_board(board.pk)
    column = Column.objects.get(pk=column_id, board=board)
    old_category = column.category
    column.name, column.wip_limit, column.category = name, wip_limit, category
    column.save(update_fields=["name", "wip_limit", "category"])
    history = History(board, actor, layout=True)
    if category != old_category:
        tickets = list(column.tickets.all())
        old_label, new_label = Column.Category(old_category).label, Column.Category(category).label
        for ticket in tickets:
            flow_stamps(ticket, category, history.at)
            history.add(ticket, "category", old_category, category, old_label, new_label, category=category)
            ticket.version += 1
            ticket.updated_at = history.at
        Ticket.objects.bulk_update(tickets, ["started_at", "done_at", "version", "board_version", "updated_at"])
    history.save()
    return column


@transaction.atomic
def column_shift(*, board: Board, column_id: int, offset: int) -> None:
    """Move a column left (-1) or right (+1) in the board's order."""
    if offset not in (-1, 1):
        raise ValidationError({"position": "A column moves one place left or right."})
    board = lock_board(board.pk)
    columns = list(board.columns.order_by("position", "id"))
    index = next((i for i, c in enumerate(columns) if c.pk == int(column_id)), None)
    if index is None:
        raise Column.DoesNotExist
    new_index = index + (1 if offset > 0 else -1)
    if not 0 <= new_index < len(columns):
        raise ValidationError({"position": "The column is already at that end of the board."})
    columns[index], columns[new_index] = columns[new_index], columns[index]
    for position, column in enumerate(columns):
        column.position = position
    Column.objects.bulk_update(columns, ["position"])
    bump_version(board, layout=True)


@transaction.atomic
def column_delete(*, board: Board, column_id: int, actor=None, move_to_id=None) -> None:
    """Delete a column; its cards go to another column first (appended in order)."""
    board = lock_board(board.pk)
    column = Column.objects.get(pk=column_id, board=board)
    if board.columns.count() == 1:
        raise ValidationError({"column": "A board keeps at least one column."})
    tickets = list(column.tickets.order_by("rank").select_related("column"))
    if tickets:
        if not move_to_id:
            raise ValidationError({"move_to": "This column has cards: choose where they go."})
        try:
            target = Column.objects.get(pk=int(move_to_id), board=board)
        except (Column.DoesNotExist, TypeError, ValueError):
            raise ValidationError({"move_to": "Choose another column of this board."}) from None
        if target.pk == column.pk:
            raise ValidationError({"move_to": "Choose a column other than the one being deleted."})
        history = History(board, actor)
        last = Ticket.objects.filter(column=target).order_by("-rank").values_list("rank", flat=True).first()
        keys = generate_n_keys_between(last, None, len(tickets))
        for ticket, key in zip(tickets, keys, strict=True):
            ticket.rank = key
            enter_column(ticket, target, history.at)
            column_event(history, ticket, column, target)
            ticket.version += 1
            ticket.updated_at = history.at
        Ticket.objects.bulk_update(
            tickets,
            ["column", "rank", "entered_column_at", "started_at", "done_at", "version", "board_version", "updated_at"],
        )
        history.save()
    column.delete()
    bump_version(board, layout=True)


# --- labels, epics (sprints: sprints.py) -------------------------------------------------

def _create_named(model, *, board: Board, name: str, color: str, a_thing: str):
    """Labels and epics: a name unique on the board (any case) and a colour."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": f"{a_thing.capitalize()} needs a name."})
    board = lock_board(board.pk)
    if model.objects.filter(board=board, name__iexact=name).exists():
        raise ValidationError({"name": f"The {a_thing.split()[-1]} “{name}” exists already."})
    max_length = model._meta.get_field("name").max_length
    item = model.objects.create(board=board, name=name[:max_length], color=_clean_color(color))
    bump_version(board, layout=True)
    return item


@transaction.atomic
def label_create(*, board: Board, name: str, color: str = "#6b7280") -> Label:
    return _create_named(Label, board=board, name=name, color=color, a_thing="a label")


@transaction.atomic
def label_delete(*, board: Board, label_id: int, actor=None) -> None:
    """Delete a label; every ticket that carried it records the removal
    (board.signals), so its history still replays to its current labels."""
    board = lock_board(board.pk)
    label = Label.objects.get(pk=label_id, board=board)
    with writing_as(Writer.of(actor)):
        label.delete()


@transaction.atomic
def epic_delete(*, board: Board, epic_id: int, actor=None) -> None:
    """Delete an epic; its tickets record that they left it (board.signals)."""
    board = lock_board(board.pk)
    epic = Epic.objects.get(pk=epic_id, board=board)
    with writing_as(Writer.of(actor)):
        epic.delete()
    _bump_layout(board)


def _bump_layout(board: Board) -> None:
    board.refresh_from_db(fields=["version", "layout_version"])
    bump_version(board, layout=True)


@transaction.atomic
def epic_create(*, board: Board, name: str, color: str = "#7c3aed") -> Epic:
    return _create_named(Epic, board=board, name=name, color=color, a_thing="an epic")


def _clean_color(color: str) -> str:
    color = (color or "").strip()
    if len(color) == 7 and color.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in color[1:]):
        return color.lower()
    raise ValidationError({"color": "Use a colour like #1f7a8c."})


# --- where training runs send their cards -------------------------------------

@transaction.atomic
def board_set_run_moves(*, board: Board, on_success_id, on_failure_id) -> Board:
    """Where a card goes when a training run on it ends: a column of this
    board for success and one for failure, or None to leave it where it is.
    (Only cards in an "in progress" column move: services/results.py.)"""
    board = lock_board(board.pk)
    chosen = {}
    errors = {}
    for name, column_id in (("on_success", on_success_id), ("on_failure", on_failure_id)):
        if column_id in (None, ""):
            chosen[name] = None
            continue
        try:
            chosen[name] = Column.objects.get(pk=int(column_id), board=board)
        except (Column.DoesNotExist, TypeError, ValueError, OverflowError):
            errors[name] = "Choose a column of this board, or “stay put”."
    if errors:
        raise ValidationError(errors)
    board.move_on_success, board.move_on_failure = chosen["on_success"], chosen["on_failure"]
    board.save(update_fields=["move_on_success", "move_on_failure"])
    bump_version(board, layout=True)
    return board
