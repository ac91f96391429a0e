"""A move's statements, written by hand.

A drag is the commonest write on a board, and through the ORM each of its
statements cost more in Python (query compilation) than in the database. A
move is now four statements, portable between SQLite and PostgreSQL:

1. `take_board`: raise the board's version by one, which takes the board's
   row lock (every write on a board is serialised by it) and numbers the
   move's one event;
2. `read_move`: the board, the ticket with its column and assignee, the
   target column, the card count when the target has a WIP limit, and the
   rank keys between which the card lands, in one SELECT. Missing rows come
   back as None; the caller turns them into the right refusal;
3. `write_ticket`: the ticket's new place, version and flow stamps;
4. the event (History.save).

The lock is taken in a statement of its own: in READ COMMITTED a statement
that waits for a row lock still reads every other row (the ticket, the
neighbours) as of its start, which may be before the write it waited for.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection

from board import rows
from board.models import Board, Column, Ticket

_PERSON = ["id", "username", "first_name", "last_name"]

# The rank keys around the drop point, among the target column's other cards
# (%(t)s is the moving ticket, %(c)s the target column, %(a)s the anchor).
_OTHERS = "FROM board_ticket o WHERE o.column_id = %(c)s AND o.id <> %(t)s"
_ANCHOR_RANK = f"(SELECT o.rank {_OTHERS} AND o.id = %(a)s)"
NEIGHBOURS = {
    # right below the `after` card: its key and the next one (NULL: the anchor left)
    "after": (_ANCHOR_RANK, f"(SELECT MIN(o.rank) {_OTHERS} AND o.rank > {_ANCHOR_RANK})"),
    # right above the `before` card
    "before": (f"(SELECT MAX(o.rank) {_OTHERS} AND o.rank < {_ANCHOR_RANK})", _ANCHOR_RANK),
    # no anchor (a keyboard move looks its keys up itself): on top
    "top": ("NULL", f"(SELECT MIN(o.rank) {_OTHERS})"),
}


@dataclass
class MoveRead:
    board: Board
    ticket: Ticket | None  # with .board, .column and .assignee filled in; None: not on this board
    target: Column | None  # None: not a column of this board
    wip_count: int | None  # active cards in the target besides the ticket, when it has a limit
    prev_key: str | None
    next_key: str | None


def _id(value: int) -> int:
    """An id the database can compare: one beyond 64 bits (a hostile URL) is
    no row's id, like 0."""
    return value if 0 < value < 2**63 else 0


def take_board(board_id: int) -> bool:
    """Raise the board's version by one, holding its lock until the
    transaction ends; False when there is no such board."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE board_board SET version = version + 1 WHERE id = %s", [_id(board_id)])
        return cursor.rowcount == 1


def _sql(anchor: str) -> str:
    prev_sql, next_sql = NEIGHBOURS[anchor]
    # The count only where it matters: a column with a limit holds few cards,
    # one without may hold thousands.
    wip = ("CASE WHEN tg.wip_limit > 0 THEN (SELECT COUNT(*) FROM board_ticket w WHERE w.column_id = tg.id "
           "AND w.archived_at IS NULL AND w.id <> %(t)s) END")
    person = ", ".join(f'u."{name}"' for name in _PERSON)
    return (
        f"SELECT {rows.select_list(Board, 'b')}, {rows.select_list(Ticket, 't')}, {rows.select_list(Column, 'cu')}, "
        f"{rows.select_list(Column, 'tg')}, {person}, {wip}, {prev_sql}, {next_sql} "
        "FROM board_board b "
        "LEFT JOIN board_ticket t ON t.id = %(t)s AND t.board_id = b.id "
        "LEFT JOIN board_column cu ON cu.id = t.column_id "
        "LEFT JOIN board_column tg ON tg.id = %(c)s AND tg.board_id = b.id "
        "LEFT JOIN auth_user u ON u.id = t.assignee_id "
        "WHERE b.id = %(b)s"
    )


_SQL: dict[str, str] = {}
_PARAMS = ("b", "t", "c", "a")
# PostgreSQL plans this statement in about twice the time it runs it: each
# connection prepares it once (persistent connections, CONN_MAX_AGE) and then
# executes the plan. Prepared statements outlive a rolled-back transaction
# but not the connection, hence the weak keys. (A pooler in transaction mode
# would break this; the project's set-ups connect to PostgreSQL directly.)
_PREPARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _execute_read(cursor, anchor: str, params: dict) -> None:
    if anchor not in _SQL:
        _SQL[anchor] = _sql(anchor)
    if connection.vendor != "postgresql":
        cursor.execute(_SQL[anchor], params)
        return
    raw = connection.connection
    prepared = _PREPARED.setdefault(raw, set())
    name = f"mlkanban_move_read_{anchor}"
    used = [p for p in _PARAMS if f"%({p})s" in _SQL[anchor]]  # "top" has no anchor
    if name not in prepared:
        text = _SQL[anchor]
        for i, param in enumerate(used, start=1):
            text = text.replace(f"%({param})s", f"${i}")
        # Once per connection, not per move: outside Django's query log.
        with raw.cursor() as plain:
            plain.execute(f"PREPARE {name} AS {text}")
        prepared.add(name)
    cursor.execute(f"EXECUTE {name}({', '.join(f'%({p})s' for p in used)})", params)


def read_move(board_id: int, ticket_id: int, column_id: int, *, after_id=None, before_id=None) -> MoveRead:
    """Everything a move needs; call it holding the board (take_board).
    `after_id` wins over `before_id` (a stale view's `before` may contradict it)."""
    anchor = "after" if after_id else "before" if before_id else "top"
    params = {"b": _id(board_id), "t": _id(ticket_id), "c": _id(column_id), "a": _id(after_id or before_id or 0)}
    with connection.cursor() as cursor:
        _execute_read(cursor, anchor, params)
        values = iter(cursor.fetchone())
    board = rows.instance(Board, rows.take(values, Board))
    ticket = rows.instance(Ticket, rows.take(values, Ticket))
    current, target = rows.instance(Column, rows.take(values, Column)), rows.instance(Column, rows.take(values, Column))
    person = [next(values) for _ in _PERSON]
    wip_count, prev_key, next_key = values
    if ticket is not None:
        ticket.board = board
        ticket.column = current
        ticket.assignee = get_user_model().from_db(connection.alias, _PERSON, person) if person[0] else None
    return MoveRead(board, ticket, target, wip_count, prev_key, next_key)


def write_ticket(ticket: Ticket) -> None:
    """The moved ticket's place, version and flow stamps."""
    dt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE board_ticket SET column_id = %s, rank = %s, entered_column_at = %s, started_at = %s, "
            "done_at = %s, version = %s, board_version = %s, updated_at = %s WHERE id = %s",
            [ticket.column_id, ticket.rank, dt(ticket.entered_column_at), dt(ticket.started_at), dt(ticket.done_at),
             ticket.version, ticket.board_version, dt(ticket.updated_at), ticket.pk],
        )
