"""What every service shares: who writes, the board lock, the version, events."""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone
from fractional_indexing import generate_key_between

from board.models import Board, Column, EventSource, Ticket, TicketEvent

# Ticket fields whose changes are recorded; relations are recorded by id.
TRACKED_FIELDS = (
    "title", "description", "kind", "points", "assignee", "labels", "epic", "sprint",
    "timebox_days", "blocked", "blocked_reason",
)
RELATIONS = ("assignee", "epic", "sprint")


class Conflict(Exception):
    """The ticket changed since the client read it (stale version)."""


class MoveRefused(Exception):
    """A move that the board's rules refuse (e.g. a hard WIP limit)."""


@dataclass(frozen=True)
class Writer:
    """Who makes a change: a person, or a system writer (a training run, the
    API, an import, the admin, a command). `at` lets an importer keep the
    original time of what it imports; everyone else writes "now"."""

    user: object = None
    source: str = EventSource.PERSON
    detail: str = ""
    at: datetime | None = None

    @classmethod
    def of(cls, actor) -> Writer:
        """Services take `actor=` as a person or as a Writer."""
        return actor if isinstance(actor, Writer) else cls(user=actor)

    def now(self) -> datetime:
        return self.at or timezone.now()


# Who deletes, for deletions that reach tickets through signals (the admin,
# a cascade, the shell): set by services and the admin around .delete().
current_writer: contextvars.ContextVar[Writer | None] = contextvars.ContextVar("current_writer", default=None)


@contextmanager
def writing_as(writer: Writer):
    token = current_writer.set(writer)
    try:
        yield writer
    finally:
        current_writer.reset(token)


def lock_board(board_id: int) -> Board:
    return Board.objects.select_for_update().get(pk=board_id)


def bump_version(board: Board, *, layout: bool = False, by: int = 1) -> int:
    board.version += by
    fields = {"version": board.version}
    if layout:
        board.layout_version += 1
        fields["layout_version"] = board.layout_version
    Board.objects.filter(pk=board.pk).update(**fields)
    return board.version


class History:
    """The events of one write on a locked board.

    Each event takes the next board version, so events are totally ordered
    within the board; `add` stamps the ticket with its event's version (the
    poll finds changed cards by it). `save` writes the events and the board
    version: one INSERT and one UPDATE whatever the number of events.
    """

    def __init__(self, board: Board, actor, *, at=None, layout: bool = False, version_taken: bool = False):
        self.board = board
        self.writer = Writer.of(actor)
        self.at = at or self.writer.now()
        self.layout = layout
        # A move raises the board's version as it takes the lock
        # (move_sql.take_board): its event has that version already.
        self.taken = 1 if version_taken else 0
        self.events: list[TicketEvent] = []

    def add(self, ticket: Ticket, field: str, old=None, new=None, old_display="", new_display="", **extra):
        event = TicketEvent(
            board_id=self.board.pk, ticket=ticket, actor=self.writer.user, source=self.writer.source,
            source_detail=self.writer.detail, at=self.at, field=field, old=old, new=new,
            old_display=old_display, new_display=new_display,
            board_version=self.board.version - self.taken + len(self.events) + 1, **extra,
        )
        self.events.append(event)
        ticket.board_version = event.board_version
        return event

    def save(self) -> int:
        if self.events:
            insert_events(self.events)
        by = max(1, len(self.events)) - self.taken
        if by > 0 or self.layout:
            bump_version(self.board, layout=self.layout, by=by)
        return self.board.version


_EVENT_FIELDS = [f for f in TicketEvent._meta.concrete_fields if not f.primary_key and not f.generated]
_EVENT_INSERT = (
    f"INSERT INTO {TicketEvent._meta.db_table} ({', '.join(f.column for f in _EVENT_FIELDS)}) VALUES "
)
_EVENT_ROW = "(" + ", ".join(["%s"] * len(_EVENT_FIELDS)) + ")"


def insert_events(events: list[TicketEvent], batch: int = 500) -> None:
    """INSERT the events as bulk_create would (each value through its field's
    get_db_prep_save), without its query compilation, which cost more than
    the INSERT on every write of a board. The events' ids are not read back:
    history is append-only and nothing uses them after a write."""
    with connection.cursor() as cursor:
        for start in range(0, len(events), batch):
            chunk = events[start:start + batch]
            for event in chunk:
                # the ticket may have been saved after its event was made (ticket_create)
                event._prepare_related_fields_for_save(operation_name="bulk_create")
            params = [f.get_db_prep_save(f.pre_save(event, True), connection) for event in chunk for f in _EVENT_FIELDS]
            cursor.execute(_EVENT_INSERT + ", ".join([_EVENT_ROW] * len(chunk)), params)


def display(field: str, value) -> str:
    """How a typed event value reads to people ("—" for none)."""
    if value is None or value == "":
        return "—"
    if field == "kind":
        return Ticket.Kind(value).label if value in Ticket.Kind.values else str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field == "description":
        return (value[:120] + "…") if len(value) > 120 else value
    return str(value)


def person_name(user) -> str:
    if user is None:
        return "—"
    return user.get_full_name() or user.get_username()


def relation_display(field: str, obj) -> str:
    if obj is None:
        return "—"
    return person_name(obj) if field == "assignee" else str(obj)


def key_after_last(column_id: int) -> str:
    last = Ticket.objects.filter(column_id=column_id).order_by("-rank").values_list("rank", flat=True).first()
    return generate_key_between(last, None)


def flow_stamps(ticket: Ticket, category: str, now) -> None:
    """started_at and done_at follow the category of the card's column:
    started on first entering "in progress", done while in "done"."""
    if category == Column.Category.IN_PROGRESS and ticket.started_at is None:
        ticket.started_at = now
    ticket.done_at = now if category == Column.Category.DONE else None


def enter_column(ticket: Ticket, column: Column, now) -> None:
    ticket.column = column
    ticket.entered_column_at = now
    flow_stamps(ticket, column.category, now)


def column_event(history: History, ticket: Ticket, old_column: Column | None, new_column: Column) -> TicketEvent:
    """A card entered a column: its category and rank at that moment go with it."""
    return history.add(
        ticket, "column", old_column.pk if old_column else None, new_column.pk,
        old_column.name if old_column else "", new_column.name, category=new_column.category, rank=ticket.rank,
    )
