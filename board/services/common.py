"""What every service shares: the board lock, the version bump, events."""

from __future__ import annotations

from django.utils import timezone
from fractional_indexing import generate_key_between

from board.models import Board, Column, Ticket, TicketEvent

# Ticket fields whose changes are recorded; relations are recorded by id.
TRACKED_FIELDS = (
    "title", "description", "kind", "points", "assignee", "labels", "epic", "sprint",
    "timebox_days", "blocked", "blocked_reason",
)


class Conflict(Exception):
    """The ticket changed since the client read it (stale version)."""


class MoveRefused(Exception):
    """A move that the board's rules refuse (e.g. a hard WIP limit)."""


def lock_board(board_id: int) -> Board:
    return Board.objects.select_for_update().get(pk=board_id)


def bump_version(board: Board, *, layout: bool = False) -> int:
    board.version += 1
    fields = {"version": board.version}
    if layout:
        board.layout_version += 1
        fields["layout_version"] = board.layout_version
    Board.objects.filter(pk=board.pk).update(**fields)
    return board.version


def field_value(ticket: Ticket, field: str):
    """A field's value as stored in events (text), and how to show it."""
    if field in ("assignee", "epic", "sprint"):
        obj = getattr(ticket, field)
        if obj is None:
            return None, "—"
        label = obj.get_username() if field == "assignee" else str(obj)
        return str(obj.pk), label
    if field == "labels":
        labels = sorted(ticket.labels.all(), key=lambda lb: lb.pk)
        return ",".join(str(lb.pk) for lb in labels), ", ".join(lb.name for lb in labels) or "—"
    raw = getattr(ticket, field)
    if raw is None or raw == "":
        return (None if raw is None else ""), "—"
    if field == "kind":
        return raw, Ticket.Kind(raw).label
    if isinstance(raw, bool):
        return str(raw), "yes" if raw else "no"
    if field == "description":
        return str(raw), (raw[:120] + "…") if len(raw) > 120 else raw
    return str(raw), str(raw)


def new_event(ticket, actor, field, old, new, old_display="", new_display="", at=None, board_version=0):
    return TicketEvent(
        ticket=ticket, actor=actor, field=field, old=old, new=new,
        old_display=old_display, new_display=new_display,
        at=at or timezone.now(), board_version=board_version,
    )


def key_after_last(column_id: int) -> str:
    last = Ticket.objects.filter(column_id=column_id).order_by("-rank").values_list("rank", flat=True).first()
    return generate_key_between(last, None)


def enter_column(ticket: Ticket, column: Column, now) -> None:
    """Flow timestamps follow the column's category."""
    ticket.column = column
    ticket.entered_column_at = now
    if column.category == Column.Category.IN_PROGRESS and ticket.started_at is None:
        ticket.started_at = now
    ticket.done_at = now if column.category == Column.Category.DONE else None
