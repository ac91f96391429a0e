"""Charts, computed from the history (TicketEvent) alone, in the board's time zone.

Reads only. Each function fetches the events it needs in a fixed number of
queries (never one per day, ticket or event) and folds them in one pass in
board-version order: the state of a ticket "at the end of day d" is the
latest event of each field whose time is before midnight after d. An event
written with an earlier time than one before it (an import) counts from the
later day, so the fold always ends in the current state.

Every function returns plain JSON-serialisable dicts.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from operator import or_

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BigIntegerField, F, FloatField, Q, Sum, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .models import Board, Column, ColumnCategory, Sprint, Ticket, TicketEvent
from .sprint_selectors import closed_sprints
from .timezones import board_tz

DONE = ColumnCategory.DONE
IN_PROGRESS = ColumnCategory.IN_PROGRESS
FLOW_FIELDS = ("created", "column", "category")  # events that carry the card's column category
RESEARCH_KINDS = (Ticket.Kind.RESEARCH, Ticket.Kind.EXPERIMENT)
GROUPS = (("research", "Research & experiment", RESEARCH_KINDS),
          ("delivery", "Story, bug & chore", (Ticket.Kind.STORY, Ticket.Kind.BUG, Ticket.Kind.CHORE)))
MAX_RANGE_DAYS = 366
FORECAST_WEEKS = 6
FORECAST_MIN_DAYS = 10
FORECAST_HORIZON_DAYS = 260  # working days simulated at most (about a year)


# --- days in the board's time zone ---------------------------------------------

def today_for(board: Board, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(board_tz(board)).date()


def _midnight(day: date, tz) -> datetime:
    """The instant day begins in tz (a DST gap moves it to the first existing instant)."""
    return datetime.combine(day, time.min, tzinfo=tz)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _ends_of(days: list[date], tz) -> list[float]:
    """For each day, the instant it ends (the next day's midnight), in epoch seconds."""
    return [_midnight(day + timedelta(days=1), tz).timestamp() for day in days]


def _is_weekend(day: date) -> bool:
    return day.weekday() >= 5


def _fold(rows, boundaries: list[datetime], apply, snapshot) -> list:
    """Apply rows (ticket_id, at, ...) in board-version order; call snapshot()
    each time the (running latest) event time passes the next boundary, and
    for the boundaries no event reached. Returns the snapshots."""
    out = []
    k, latest, n = 0, None, len(boundaries)
    for row in rows:
        at = row[1]
        if latest is None or at > latest:
            latest = at
        while k < n and latest >= boundaries[k]:
            out.append(snapshot())
            k += 1
        apply(row, k)
    while k < n:
        out.append(snapshot())
        k += 1
    return out


def _ticket_key(board: Board, number) -> str:
    return f"{board.key}-{number}" if number is not None else "?"


class _Card:
    """A ticket as the events so far say it is."""

    __slots__ = ("archived", "category", "column", "deleted", "exists", "number", "points", "sprint",
                 "started", "done_at")

    def __init__(self):
        self.exists = self.archived = self.deleted = False
        self.category = self.column = self.points = self.sprint = self.number = None
        self.started = self.done_at = None

    def apply(self, field: str, new, old, category, at) -> None:
        if field == "created":
            self.exists, self.number = True, new
        elif field == "column":
            self.column, self.exists = new, True
        elif field == "points":
            self.points = new
        elif field == "sprint":
            self.sprint = new
        elif field == "archived":
            self.archived = bool(new)
        elif field == "deleted":
            self.deleted = True
        if field in FLOW_FIELDS and category:
            self.category = category
            if category == IN_PROGRESS and self.started is None:
                self.started = at
            self.done_at = at if category == DONE else None

    @property
    def on_board(self) -> bool:
        return self.exists and not self.archived and not self.deleted


# Rows come back lean: (ticket_id, epoch seconds, field, new, old, category),
# with new/old as integers (ids, points; booleans as 1/0) or None (text values):
# the events' generated columns new_int/old_int (models.JsonInteger), and the
# time turned into a number by the database. The ORM's per-row converters, and
# converting JSON per row in the query, cost more than the charts' whole fold.
_T = '"board_ticketevent"'
_LEAN_EPOCH = {  # epoch seconds of a time column {c}
    "postgresql": "date_part('epoch', {c})",  # float8 directly (EXTRACT gives numeric, several times slower)
    "sqlite": "(julianday({c}) - 2440587.5) * 86400.0",
}


def _events(board: Board, fields, *, tickets=None, before: float | None = None, old: bool = True) -> list[tuple]:
    """Lean event rows in board-version order (see above); `old` False leaves
    old values out (None)."""
    qs = TicketEvent.objects.filter(board_id=board.pk)
    if fields is not None:
        qs = qs.filter(field__in=fields)
    if tickets is not None:
        qs = qs.filter(ticket_id__in=tickets)
    if before is not None:
        qs = qs.filter(at__lt=datetime.fromtimestamp(before, tz=UTC))
    qs = qs.order_by("board_version").annotate(o=F("old_int") if old else Value(None, BigIntegerField()))
    epoch = _LEAN_EPOCH.get(connection.vendor)
    if epoch is None:  # another database: the ORM converts the time, slower
        return [(ticket_id, at.timestamp(), *rest)
                for ticket_id, at, *rest in qs.values_list("ticket_id", "at", "field", "new_int", "o", "category")]
    qs = qs.annotate(t=RawSQL(epoch.format(c=f'{_T}."at"'), [], output_field=FloatField()))
    return _plain_rows(qs.values_list("ticket_id", "t", "field", "new_int", "o", "category"))


def _plain_rows(queryset) -> list[tuple]:
    """The rows of a values_list() query as the database driver gives them."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:  # plain rows: no per-row converters
        cursor.execute(sql, params)
        return cursor.fetchall()


def _tickets_ever_in(board: Board, sprint_ids):
    """Ids of the tickets that ever entered one of the sprints (a subquery):
    every entry into a sprint, creation included, is a "sprint" event."""
    entered = reduce(or_, (Q(new_int=sprint_id) for sprint_id in sprint_ids))
    return TicketEvent.objects.filter(entered, board_id=board.pk, field="sprint").values("ticket_id")


# --- burndown ---------------------------------------------------------------------

def _burndown_frame(sprint: Sprint, now: datetime | None):
    """The sprint's days so far and their boundaries (epoch seconds): boundary 0
    is the start of the sprint (the scope the ideal line starts from), then the
    end of each day. A closing sprint (closed_at set) ends at its close: what
    happens to its cards at and after that moment (unfinished ones leaving) is
    not its story."""
    board = sprint.board
    tz = board_tz(board)
    closed_at = sprint.closed_at
    last = min(sprint.end, closed_at.astimezone(tz).date() if closed_at else today_for(board, now))
    days = _days(sprint.start, last) if last >= sprint.start else []
    boundaries = [_midnight(sprint.start, tz).timestamp(), *_ends_of(days, tz)]
    if closed_at is not None and days and closed_at.timestamp() < boundaries[-1]:
        boundaries[-1] = closed_at.timestamp()
    return tz, days, boundaries


BURNDOWN_FIELDS = ("created", "column", "category", "points", "sprint", "archived", "deleted")


def _burndown_rows(sprint: Sprint, boundaries: list[float]) -> list[tuple]:
    """The events that move the sprint's remaining work: every event of the
    cards that ever entered it, up to the last boundary."""
    return _events(sprint.board, BURNDOWN_FIELDS, tickets=_tickets_ever_in(sprint.board, [sprint.pk]),
                   before=boundaries[-1], old=False)


def sprint_burndown(sprint: Sprint, *, unit: str = "points", now: datetime | None = None) -> dict:
    """Remaining work at the end of each day of the sprint, the ideal line and
    the scope changes. A closed sprint with stored series answers from them."""
    if unit not in ("points", "tickets"):
        raise ValidationError({"unit": "Unit is points or tickets."})
    stored = _stored_burndown(sprint, unit)
    if stored is not None:
        return stored
    board = sprint.board
    tz, days, boundaries = _burndown_frame(sprint, now)
    sprint_id, by_tickets, n_days = sprint.pk, unit == "tickets", len(days)
    cards: dict[int, _Card] = {}
    total = [0]
    added: list[list[int]] = [[] for _ in days]
    removed: list[list[int]] = [[] for _ in days]

    def apply(row, k):
        ticket_id, at, field, new, old, category = row
        card = cards.get(ticket_id)
        if card is None:
            card = cards[ticket_id] = _Card()
        # the card's weight in the remaining work, before and after (inline: this runs per event)
        was_in = card.sprint == sprint_id
        if was_in and card.category != DONE and card.exists and not card.archived and not card.deleted:
            total[0] -= 1 if by_tickets else (card.points or 0)
        card.apply(field, new, old, category, at)
        if card.sprint == sprint_id and card.category != DONE and card.exists and not card.archived \
                and not card.deleted:
            total[0] += 1 if by_tickets else (card.points or 0)
        if field == "sprint" and 1 <= k <= n_days:
            if new == sprint_id:
                added[k - 1].append(ticket_id)
            elif was_in:  # the card's sprint before this event (the fold knows it: no old values fetched)
                removed[k - 1].append(ticket_id)

    remaining = _fold(_burndown_rows(sprint, boundaries), boundaries, apply, lambda: total[0])
    # Names only for the cards that entered or left during the sprint (none: no query).
    described = {ticket_id for ids in (*added, *removed) for ticket_id in ids}
    titles, gone = {}, {}
    if described:
        titles = dict(Ticket.objects.filter(pk__in=described).values_list("pk", "title"))
        gone = dict(TicketEvent.objects.filter(board_id=board.pk, field="deleted", ticket_id__in=described)
                    .values_list("ticket_id", "old"))

    def describe(ids):
        seen = []
        for ticket_id in dict.fromkeys(ids):
            card = cards[ticket_id]
            seen.append({"id": ticket_id, "key": _ticket_key(board, card.number),
                         "title": titles.get(ticket_id) or gone.get(ticket_id) or "",
                         "deleted": ticket_id not in titles})
        return seen

    scope_start = remaining[0]
    ideal = _ideal_line(sprint.start, sprint.end, scope_start)
    points = [
        {"date": day.isoformat(), "remaining": remaining[i + 1], "ideal": ideal[i]["ideal"],
         "weekend": _is_weekend(day), "added": describe(added[i]), "removed": describe(removed[i])}
        for i, day in enumerate(days)
    ]
    return {
        "sprint": sprint.pk, "name": sprint.name, "unit": unit, "state": sprint.state,
        "start": sprint.start.isoformat(), "end": sprint.end.isoformat(), "time_zone": str(tz),
        "scope_at_start": scope_start, "remaining": remaining[-1] if days else scope_start,
        "ideal_rule": "Straight from the scope at the start to zero at the end, flat over weekends.",
        "points": points, "ideal": ideal, "frozen": False,
    }


def _sprint_remaining_points(sprint: Sprint, now: datetime | None) -> int:
    """What sprint_burndown(unit="points") gives as "remaining", without the
    daily series: the last boundary cuts the events, so the fold's end state
    is the last day's (or, before the first day, the scope at the start)."""
    _, _, boundaries = _burndown_frame(sprint, now)
    sprint_id = sprint.pk
    cards: dict[int, _Card] = {}
    total = 0
    for ticket_id, at, field, new, old, category in _burndown_rows(sprint, boundaries):
        card = cards.get(ticket_id)
        if card is None:
            card = cards[ticket_id] = _Card()
        if card.sprint == sprint_id and card.category != DONE and card.on_board:
            total -= card.points or 0
        card.apply(field, new, old, category, at)
        if card.sprint == sprint_id and card.category != DONE and card.on_board:
            total += card.points or 0
    return total


def _ideal_line(start: date, end: date, scope: int) -> list[dict]:
    """The ideal remaining at the end of each day: down by an equal share each
    working day, flat over weekends (all days count if the sprint has no working day)."""
    days = _days(start, end)
    working = [not _is_weekend(day) for day in days]
    if not any(working):
        working = [True] * len(days)
    total = sum(working)
    done = 0
    line = []
    for day, works in zip(days, working, strict=True):
        done += works
        line.append({"date": day.isoformat(), "ideal": round(scope * (1 - done / total), 2),
                     "weekend": _is_weekend(day)})
    return line


def _stored_burndown(sprint: Sprint, unit: str) -> dict | None:
    """A closed sprint's frozen series (see sprint_frozen_series)."""
    if sprint.state != Sprint.State.CLOSED or not isinstance(sprint.series, dict):
        return None
    series = sprint.series.get("burndown", sprint.series)
    stored = series.get(unit) if isinstance(series, dict) and unit in series else None
    if stored is None and isinstance(series, dict) and series.get("unit") == unit:
        stored = series
    return {**stored, "frozen": True} if isinstance(stored, dict) else None


def sprint_frozen_series(sprint: Sprint, *, now: datetime | None = None) -> dict:
    """What a sprint stores in Sprint.series when it closes: its burndown in
    both units, computed as of now. Call it before setting the state to closed."""
    return {"burndown": {unit: sprint_burndown(sprint, unit=unit, now=now) for unit in ("points", "tickets")}}


# --- velocity ---------------------------------------------------------------------

def velocity(board: Board, *, last: int = 6) -> dict:
    """The last N closed sprints (oldest first), then the active one: points
    committed against completed. Missing figures are computed from the history."""
    if isinstance(last, bool) or not isinstance(last, int) or not 1 <= last <= 50:
        raise ValidationError({"last": "Last is a whole number of sprints from 1 to 50."})
    tz = board_tz(board)
    closed = closed_sprints(board, last=last)[::-1]
    active = Sprint.objects.filter(board=board, state=Sprint.State.ACTIVE).defer("series").first()
    sprints = closed + ([active] if active else [])
    if not sprints:
        return {"sprints": [], "average_completed": None}
    # The figures not recorded (sprints from before they were recorded) are read
    # from the history at their moment; the active sprint's completion is below.
    cutoffs = []
    for sprint in sprints:
        if sprint.committed_points is None:
            cutoffs.append(((sprint.started_at or _midnight(sprint.start, tz)).timestamp(), sprint.pk, "committed"))
        if sprint.state == Sprint.State.CLOSED and sprint.completed_points is None:
            finish_at = (sprint.closed_at or _midnight(sprint.end + timedelta(days=1), tz)).timestamp()
            cutoffs.append((finish_at, sprint.pk, "completed"))
    cutoffs.sort(key=lambda c: c[0])
    cards: dict[int, _Card] = {}

    def apply(row, k):
        ticket_id, at, field, new, old, category = row
        card = cards.get(ticket_id)
        if card is None:
            card = cards[ticket_id] = _Card()
        card.apply(field, new, old, category, at)

    def snapshot():
        sums: dict[int, list[int]] = {}
        for card in cards.values():
            if card.exists and not card.deleted and card.sprint is not None:
                pair = sums.setdefault(card.sprint, [0, 0])
                pair[0] += card.points or 0
                if card.category == DONE:
                    pair[1] += card.points or 0
        return sums

    rows = _events(board, ("created", "column", "category", "points", "sprint", "archived", "deleted"),
                   tickets=_tickets_ever_in(board, sorted({sprint_id for _, sprint_id, _ in cutoffs})),
                   old=False) if cutoffs else []
    snaps = _fold(rows, [c[0] for c in cutoffs], apply, snapshot)
    from_history: dict[tuple, int] = {}
    for (_, sprint_id, what), sums in zip(cutoffs, snaps, strict=True):
        pair = sums.get(sprint_id, [0, 0])
        from_history[(sprint_id, what)] = pair[0] if what == "committed" else pair[1]
    if active is not None:
        # The active sprint's completion now: the history's end is the tickets' current rows
        # (every write records its events in the same transaction), so one sum over them.
        done_now = Ticket.objects.filter(board_id=board.pk, sprint=active, column__category=DONE)
        from_history[(active.pk, "completed")] = done_now.aggregate(points=Sum("points"))["points"] or 0
    out = []
    for sprint in sprints:
        committed = sprint.committed_points
        completed = sprint.completed_points if sprint.state == Sprint.State.CLOSED else None
        out.append({
            "id": sprint.pk, "name": sprint.name, "state": sprint.state, "active": sprint.state == Sprint.State.ACTIVE,
            "start": sprint.start.isoformat(), "end": sprint.end.isoformat(),
            "committed": committed if committed is not None else from_history[(sprint.pk, "committed")],
            "completed": completed if completed is not None else from_history[(sprint.pk, "completed")],
            "committed_from_history": committed is None, "completed_from_history": completed is None,
        })
    finished = [s["completed"] for s in out if not s["active"]]
    return {"sprints": out, "average_completed": round(sum(finished) / len(finished), 1) if finished else None}


# --- cumulative flow ----------------------------------------------------------------

def cfd_range(board: Board, start: date | None, end: date | None, *, now: datetime | None = None) -> tuple[date, date]:
    """Check a date range (default: the last 30 days); an end after today is cut to today."""
    today = today_for(board, now)
    end = end or today
    start = start or end - timedelta(days=29)
    if end < start:
        raise ValidationError({"end": "The range ends before it starts."})
    if start > today:
        raise ValidationError({"start": "The range starts in the future."})
    if start.year < 2000:
        raise ValidationError({"start": "The range starts before the year 2000."})
    end = min(end, today)
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValidationError({"start": f"Choose at most {MAX_RANGE_DAYS} days."})
    return start, end


def cumulative_flow(board: Board, *, start: date | None = None, end: date | None = None,
                    now: datetime | None = None) -> dict:
    """Cards per column at the end of each day, columns in board order. A card
    counts in the column of its last column event if it was created and not
    archived or deleted by then; cards in a column deleted since count apart."""
    start, end = cfd_range(board, start, end, now=now)
    tz = board_tz(board)
    columns = list(Column.objects.filter(board=board).order_by("position", "id").values_list("pk", "name", "category"))
    days = _days(start, end)
    boundaries = _ends_of(days, tz)
    counts: dict = {}
    # Per ticket [column, archived, deleted]: all a _Card would say here, and cheaper.
    # A card counts in its column unless archived or deleted (no column yet: not on the board).
    cards: dict[int, list] = {}

    def apply(row, k):
        ticket_id, _at, field, new, _old, _category = row
        card = cards.get(ticket_id)
        if card is None:
            card = cards[ticket_id] = [None, False, False]
        elif card[0] is not None and not card[1] and not card[2]:
            counts[card[0]] -= 1
        if field == "column":
            card[0] = new
        elif field == "archived":
            card[1] = bool(new)
        else:  # deleted
            card[2] = True
        if card[0] is not None and not card[1] and not card[2]:
            counts[card[0]] = counts.get(card[0], 0) + 1

    # A card exists from its first column event (creation writes one).
    rows = _events(board, ("column", "archived", "deleted"), before=boundaries[-1], old=False)
    snaps = _fold(rows, boundaries, apply, lambda: dict(counts))
    known = {pk for pk, _, _ in columns}
    series = [{"id": pk, "name": name, "category": category, "counts": [snap.get(pk, 0) for snap in snaps]}
              for pk, name, category in columns]
    gone = [sum(n for pk, n in snap.items() if pk not in known) for snap in snaps]
    if any(gone):
        series.append({"id": None, "name": "(deleted columns)", "category": None, "counts": gone})
    return {
        "start": start.isoformat(), "end": end.isoformat(), "time_zone": str(tz),
        "days": [day.isoformat() for day in days], "columns": series,
        "totals": [sum(snap.values()) for snap in snaps],
    }


# --- estimation accuracy ------------------------------------------------------------

def _quartiles(values: list[float]) -> dict:
    if not values:
        return {"median": None, "q1": None, "q3": None, "iqr": None}
    q1, median, q3 = (float(x) for x in np.percentile(values, [25, 50, 75]))
    return {"median": round(median, 3), "q1": round(q1, 3), "q3": round(q3, 3), "iqr": round(q3 - q1, 3)}


_FINISHED_SQL = """
SELECT l.ticket_id, {done_at}, p.new_int, s.new_int, {started}, t.number, t.title, t.kind
FROM (SELECT ticket_id,
             MAX(CASE WHEN field IN ({flow}) THEN board_version END) AS flow_version,
             MAX(CASE WHEN field = 'points' THEN board_version END) AS points_version,
             MAX(CASE WHEN field = 'sprint' THEN board_version END) AS sprint_version,
             MAX(CASE WHEN field = 'deleted' THEN board_version END) AS deleted_version,
             MIN(CASE WHEN field IN ({flow}) AND category = %(in_progress)s THEN at END) AS started
      FROM board_ticketevent
      WHERE board_id = %(board)s AND field IN ({flow}, 'points', 'sprint', 'deleted')
      GROUP BY ticket_id) l
JOIN board_ticketevent f ON f.board_id = %(board)s AND f.ticket_id = l.ticket_id
     AND f.board_version = l.flow_version AND f.field IN ({flow}) AND f.category = %(done)s
LEFT JOIN board_ticketevent p ON p.board_id = %(board)s AND p.ticket_id = l.ticket_id
     AND p.board_version = l.points_version AND p.field = 'points'
LEFT JOIN board_ticketevent s ON s.board_id = %(board)s AND s.ticket_id = l.ticket_id
     AND s.board_version = l.sprint_version AND s.field = 'sprint'
JOIN board_ticket t ON t.id = l.ticket_id AND t.board_id = %(board)s
WHERE l.deleted_version IS NULL
"""


def _finished_tickets(board: Board) -> list[tuple]:
    """The board's tickets that are done now and not deleted, one row each:
    (ticket_id, epoch of entering done, points, sprint id, epoch of the first
    entry into "in progress" or None, number, title, kind). A ticket is done
    when its latest flow event says so; points and sprint are its latest such
    events' values (integers, or None), as a fold of its history would leave them.

    One statement: one pass over the board's chart events (grouped per ticket,
    in the order of the event_chart_history index, so no sort), then a lookup
    of each done ticket's three latest events and its row."""
    epoch = _LEAN_EPOCH.get(connection.vendor)
    sql = _FINISHED_SQL.format(
        done_at=(epoch or "{c}").format(c="f.at"), started=(epoch or "{c}").format(c="l.started"),
        flow=", ".join(f"'{field}'" for field in FLOW_FIELDS))
    with connection.cursor() as cursor:
        cursor.execute(sql, {"board": board.pk, "in_progress": IN_PROGRESS, "done": DONE})
        rows = cursor.fetchall()
    if epoch is None:  # another database: plain times, converted here (slower)
        rows = [(ticket_id, _aware(done_at).timestamp(), points, sprint_id,
                 _aware(started).timestamp() if started is not None else None, *text)
                for ticket_id, done_at, points, sprint_id, started, *text in rows]
    return rows


def _aware(value) -> datetime:
    value = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def estimation_accuracy(board: Board, *, sprint: Sprint | None = None) -> dict:
    """Finished tickets (done now, points > 0): calendar days from the first
    entry into an in-progress column to done, per point, by group and kind.

    Grouped SQL (see _finished_tickets): the latest flow event of each ticket
    (its category now and when it got there), the latest points, sprint and
    deletion events, and the first entry into "in progress"; text values
    (title, kind) from the rows of the tickets, which say what their last
    events say."""
    tickets, skipped = [], 0
    for ticket_id, done_at, points, sprint_id, started, number, title, kind in _finished_tickets(board):
        if not points:
            continue
        if sprint is not None and sprint_id != sprint.pk:
            continue
        if started is None:
            skipped += 1  # went straight to done: no cycle time
            continue
        days = (done_at - started) / 86400
        tickets.append({"id": ticket_id, "key": _ticket_key(board, number), "title": title,
                        "kind": kind, "points": points, "days": round(days, 3), "ratio": round(days / points, 3)})
    tickets.sort(key=lambda t: (t["kind"], t["key"]))
    groups = []
    for slug, name, kinds in GROUPS:
        members = [t for t in tickets if t["kind"] in kinds]
        groups.append({"group": slug, "name": name, "count": len(members),
                       **_quartiles([t["ratio"] for t in members])})
    kinds = [{"kind": value, "name": label, "count": len(members), **_quartiles([t["ratio"] for t in members])}
             for value, label in Ticket.Kind.choices if (members := [t for t in tickets if t["kind"] == value])]
    return {"sprint": sprint.pk if sprint else None, "groups": groups, "kinds": kinds, "tickets": tickets,
            "skipped_never_started": skipped,
            "rule": "Calendar days from first entering an in-progress column to entering done, per story point."}


# --- forecast -------------------------------------------------------------------------

def _working_days(first: date, last: date) -> list[date]:
    return [day for day in _days(first, last) if not _is_weekend(day)] if last >= first else []


def daily_throughput(board: Board, *, first: date, last: date) -> dict[date, int]:
    """Net points that entered done on each day (leaving done takes them back), board time zone."""
    tz = board_tz(board)
    since = _midnight(first, tz)
    recent = TicketEvent.objects.filter(board_id=board.pk, field__in=FLOW_FIELDS, at__gte=since).values("ticket_id")
    rows = _events(board, ("created", "column", "category", "points"), tickets=recent,
                   before=_midnight(last + timedelta(days=1), tz).timestamp(), old=False)
    since = since.timestamp()
    # Only a card's category and points matter here: [category, points] per ticket.
    cards: dict[int, list] = {}
    per_day: dict[date, int] = {}
    for ticket_id, at, field, new, _old, category in rows:
        card = cards.get(ticket_id)
        if card is None:
            card = cards[ticket_id] = [None, None]
        if field == "points":
            card[1] = new
        elif category:  # a flow event (the only other fields read)
            was_done = card[0] == DONE
            card[0] = category
            if at >= since and was_done != (category == DONE):
                day = datetime.fromtimestamp(at, tz).date()
                per_day[day] = per_day.get(day, 0) + (card[1] or 0) * (1 if category == DONE else -1)
    return per_day


def _days_needed(samples: np.ndarray, remaining: int, *, trials: int, horizon: int, seed) -> np.ndarray:
    """For each trial, the number of future working days whose drawn output
    first reaches `remaining` (past the horizon: the largest int64). One day
    at a time for the trials still running, most finish long before the
    horizon; and small arrays, as large ones cost page faults on every call."""
    rng = np.random.default_rng(seed)
    needed = np.full(trials, np.iinfo(np.int64).max, dtype=np.int64)
    running = np.arange(trials)
    totals = np.zeros(trials, dtype=np.int64)
    for day in range(1, horizon + 1):
        totals += samples[rng.integers(0, samples.size, size=totals.size)]
        finished = totals >= remaining
        if finished.any():
            needed[running[finished]] = day
            running, totals = running[~finished], totals[~finished]
            if not running.size:
                break
    return needed


def sprint_forecast(sprint: Sprint, *, trials: int = 10_000, seed: int | None = None,
                    now: datetime | None = None) -> dict:
    """Monte Carlo: draw past working days' throughput at random until the
    remaining points are done, many times over."""
    board = sprint.board
    now = now or timezone.now()
    today = today_for(board, now)
    explanation = ("We replayed the rest of the sprint 10,000 times, each time drawing every future working day's "
                   "output at random from this board's real days of the last weeks, and counted how often the work "
                   "was finished by each date.").replace("10,000", f"{trials:,}")
    base = {"sprint": sprint.pk, "explanation": explanation, "trials": trials}
    if sprint.state == Sprint.State.CLOSED:
        return {**base, "enough_history": False, "reason": "The sprint is closed: there is nothing left to forecast."}
    remaining = _sprint_remaining_points(sprint, now)
    yesterday = today - timedelta(days=1)
    first_event = TicketEvent.objects.filter(board_id=board.pk).order_by("at").values_list("at", flat=True).first()
    window_start = today - timedelta(weeks=FORECAST_WEEKS)
    if first_event is not None:
        window_start = max(window_start, first_event.astimezone(board_tz(board)).date())
    history_days = _working_days(window_start, yesterday)
    per_day = daily_throughput(board, first=window_start, last=yesterday) if history_days else {}
    samples = np.array([max(0, per_day.get(day, 0)) for day in history_days], dtype=np.int64)
    base.update(remaining=remaining, history_days=len(history_days), end=sprint.end.isoformat())
    if len(history_days) < FORECAST_MIN_DAYS:
        return {**base, "enough_history": False,
                "reason": f"Only {len(history_days)} working days of history; a forecast needs at least "
                          f"{FORECAST_MIN_DAYS}."}
    if not samples.any():
        return {**base, "enough_history": False,
                "reason": f"No points were finished in the last {len(history_days)} working days."}
    future = _working_days(today + timedelta(days=1), today + timedelta(days=FORECAST_HORIZON_DAYS * 2))
    future = future[:FORECAST_HORIZON_DAYS]
    left_in_sprint = sum(1 for day in future if day <= sprint.end)
    if remaining <= 0:
        return {**base, "enough_history": True, "probability_by_end": 1.0,
                "dates": {"50": today.isoformat(), "85": today.isoformat(), "95": today.isoformat()},
                "working_days_left": left_in_sprint}
    needed = _days_needed(samples, remaining, trials=trials, horizon=len(future), seed=seed)
    probability = float(np.mean(needed <= left_in_sprint))
    dates = {}
    in_order = np.sort(needed)
    for pct in (50, 85, 95):
        k = int(in_order[math.ceil(pct / 100 * trials) - 1])
        dates[str(pct)] = future[k - 1].isoformat() if k <= len(future) else None
    return {**base, "enough_history": True, "probability_by_end": round(probability, 4), "dates": dates,
            "working_days_left": left_in_sprint, "mean_daily_points": round(float(samples.mean()), 2)}


__all__ = ["cfd_range", "cumulative_flow", "daily_throughput", "estimation_accuracy", "sprint_burndown",
           "sprint_forecast", "sprint_frozen_series", "velocity"]
