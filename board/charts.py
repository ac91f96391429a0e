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
from django.db.models import BigIntegerField, Case, F, FloatField, Min, Q, Value, When, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber
from django.utils import timezone

from .models import Board, Column, ColumnCategory, Sprint, Ticket, TicketEvent
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
# with new/old as integers (ids, points; booleans as 1/0) or None (text values).
# The database turns times and JSON into numbers: the ORM's per-row converters
# cost more than the charts' whole fold.
_T = '"board_ticketevent"'
_LEAN_SQL = {
    "postgresql": (
        f"EXTRACT(EPOCH FROM {_T}.\"at\")::float8",
        "CASE jsonb_typeof({c}) WHEN 'number' THEN ({c} #>> '{{}}')::numeric::bigint "
        "WHEN 'boolean' THEN CASE WHEN {c}::text = 'true' THEN 1 ELSE 0 END END",
    ),
    "sqlite": (
        f"(julianday({_T}.\"at\") - 2440587.5) * 86400.0",
        "CASE json_type({c}) WHEN 'integer' THEN json_extract({c}, '$') WHEN 'true' THEN 1 WHEN 'false' THEN 0 END",
    ),
}


def _number(value):
    if isinstance(value, bool):
        return int(value)
    return value if isinstance(value, int) else None


def _events(board: Board, fields, *, tickets=None, before: float | None = None, old: bool = True,
            latest_of=None) -> list[tuple]:
    """Lean event rows in board-version order (see above); `old` False leaves
    old values out (None), `latest_of` keeps only the events whose board
    version is in that subquery."""
    qs = TicketEvent.objects.filter(board_id=board.pk)
    if fields is not None:
        qs = qs.filter(field__in=fields)
    if tickets is not None:
        qs = qs.filter(ticket_id__in=tickets)
    if before is not None:
        qs = qs.filter(at__lt=datetime.fromtimestamp(before, tz=UTC))
    if latest_of is not None:
        qs = qs.filter(latest_of)
    qs = qs.order_by("board_version")
    lean = _LEAN_SQL.get(connection.vendor)
    if lean is None:  # another database: the ORM converts, slower
        return [(ticket_id, at.timestamp(), field, _number(new), _number(was) if old else None, category)
                for ticket_id, at, field, new, was, category
                in qs.values_list("ticket_id", "at", "field", "new", "old", "category")]
    epoch, number = lean
    rows = qs.annotate(
        t=RawSQL(epoch, [], output_field=FloatField()),
        n=RawSQL(number.format(c=f'{_T}."new"'), [], output_field=BigIntegerField()),
        o=RawSQL(number.format(c=f'{_T}."old"') if old else "NULL", [], output_field=BigIntegerField()),
    ).values_list("ticket_id", "t", "field", "n", "o", "category")
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:  # plain rows: no per-row converters
        cursor.execute(sql, params)
        return cursor.fetchall()


def _tickets_ever_in(board: Board, sprint_ids):
    """Ids of the tickets that ever entered one of the sprints (a subquery):
    every entry into a sprint, creation included, is a "sprint" event."""
    entered = reduce(or_, (Q(new=sprint_id) for sprint_id in sprint_ids))
    return TicketEvent.objects.filter(entered, board_id=board.pk, field="sprint").values("ticket_id")


# --- burndown ---------------------------------------------------------------------

def sprint_burndown(sprint: Sprint, *, unit: str = "points", now: datetime | None = None) -> dict:
    """Remaining work at the end of each day of the sprint, the ideal line and
    the scope changes. A closed sprint with stored series answers from them."""
    if unit not in ("points", "tickets"):
        raise ValidationError({"unit": "Unit is points or tickets."})
    stored = _stored_burndown(sprint, unit)
    if stored is not None:
        return stored
    board = sprint.board
    tz = board_tz(board)
    # A closing sprint (closed_at set) ends at its close: what happens to its
    # cards at and after that moment (unfinished ones leaving) is not its story.
    closed_at = sprint.closed_at
    last = min(sprint.end, closed_at.astimezone(tz).date() if closed_at else today_for(board, now))
    days = _days(sprint.start, last) if last >= sprint.start else []
    # Boundary 0 is the start of the sprint: the scope the ideal line starts from.
    boundaries = [_midnight(sprint.start, tz).timestamp(), *_ends_of(days, tz)]
    if closed_at is not None and days and closed_at.timestamp() < boundaries[-1]:
        boundaries[-1] = closed_at.timestamp()
    cards: dict[int, _Card] = {}
    total = [0]
    added: list[list[int]] = [[] for _ in days]
    removed: list[list[int]] = [[] for _ in days]

    def weight(card: _Card) -> int:
        if card.sprint != sprint.pk or not card.on_board or card.category == DONE:
            return 0
        return 1 if unit == "tickets" else (card.points or 0)

    def apply(row, k):
        ticket_id, at, field, new, old, category = row
        card = cards.get(ticket_id)
        if card is None:
            card = cards[ticket_id] = _Card()
        before = weight(card)
        card.apply(field, new, old, category, at)
        total[0] += weight(card) - before
        if field == "sprint" and 1 <= k <= len(days):
            if new == sprint.pk:
                added[k - 1].append(ticket_id)
            elif old == sprint.pk:
                removed[k - 1].append(ticket_id)

    rows = _events(board, ("created", "column", "category", "points", "sprint", "archived", "deleted"),
                   tickets=_tickets_ever_in(board, [sprint.pk]), before=boundaries[-1])
    remaining = _fold(rows, boundaries, apply, lambda: total[0])
    ever_in = _tickets_ever_in(board, [sprint.pk])
    titles = dict(Ticket.objects.filter(pk__in=ever_in).values_list("pk", "title"))
    gone = dict(TicketEvent.objects.filter(board_id=board.pk, field="deleted").values_list("ticket_id", "old"))

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

def velocity(board: Board, *, last: int = 6, now: datetime | None = None) -> dict:
    """The last N closed sprints (oldest first), then the active one: points
    committed against completed. Missing figures are computed from the history."""
    if isinstance(last, bool) or not isinstance(last, int) or not 1 <= last <= 50:
        raise ValidationError({"last": "Last is a whole number of sprints from 1 to 50."})
    now = now or timezone.now()
    tz = board_tz(board)
    closed = list(Sprint.objects.filter(board=board, state=Sprint.State.CLOSED).order_by("-end", "-id")[:last])
    closed.reverse()
    active = Sprint.objects.filter(board=board, state=Sprint.State.ACTIVE).first()
    sprints = closed + ([active] if active else [])
    if not sprints:
        return {"sprints": [], "average_completed": None}
    # The figures not recorded (an active sprint's completion, sprints from before
    # they were recorded) are read from the history at their moment.
    cutoffs = []
    for sprint in sprints:
        if sprint.committed_points is None:
            cutoffs.append(((sprint.started_at or _midnight(sprint.start, tz)).timestamp(), sprint.pk, "committed"))
        if sprint.state != Sprint.State.CLOSED:
            cutoffs.append((now.timestamp(), sprint.pk, "completed"))
        elif sprint.completed_points is None:
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
    cards: dict[int, _Card] = {}

    def apply(row, k):
        ticket_id, at, field, new, old, category = row
        card = cards.get(ticket_id)
        if card is None:
            card = cards[ticket_id] = _Card()
        if card.on_board and card.column is not None:
            counts[card.column] -= 1
        card.apply(field, new, old, category, at)
        if card.on_board and card.column is not None:
            counts[card.column] = counts.get(card.column, 0) + 1

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


def estimation_accuracy(board: Board, *, sprint: Sprint | None = None) -> dict:
    """Finished tickets (done now, points > 0): calendar days from the first
    entry into an in-progress column to done, per point, by group and kind.

    Grouped SQL: the latest flow event of each ticket (its category now and
    when it got there), the latest points, sprint and deletion events, and the
    first entry into "in progress"; text values (title, kind) from the rows
    of the tickets, which say what their last events say."""
    events = TicketEvent.objects.filter(board_id=board.pk)
    # The latest event per ticket and field (the flow fields counting as one), in one scan.
    group = Case(When(field__in=FLOW_FIELDS, then=Value("flow")), default=F("field"))
    latest = (events.filter(field__in=(*FLOW_FIELDS, "points", "sprint", "deleted"))
              .annotate(newest=Window(RowNumber(), partition_by=[F("ticket_id"), group],
                                    order_by=F("board_version").desc()))
              .filter(newest=1).values("board_version"))
    rows = _events(board, None, latest_of=Q(board_version__in=latest), old=False)
    started = dict(events.filter(field__in=FLOW_FIELDS, category=IN_PROGRESS).values("ticket_id")
                   .annotate(first=Min("at")).values_list("ticket_id", "first"))
    cards: dict[int, _Card] = {}
    for ticket_id, at, field, new, old, category in rows:
        card = cards.get(ticket_id)
        if card is None:
            card = cards[ticket_id] = _Card()
        card.apply(field, new, old, category, at)
    done_ids = [pk for pk, card in cards.items() if card.category == DONE and card.points and not card.deleted]
    rows_now = {pk: (number, title, kind) for pk, number, title, kind
                in Ticket.objects.filter(board=board, pk__in=done_ids).values_list("pk", "number", "title", "kind")}
    tickets, skipped = [], 0
    for ticket_id, (number, title, kind) in rows_now.items():
        card = cards[ticket_id]
        if sprint is not None and card.sprint != sprint.pk:
            continue
        if ticket_id not in started:
            skipped += 1  # went straight to done: no cycle time
            continue
        days = (card.done_at - started[ticket_id].timestamp()) / 86400
        tickets.append({"id": ticket_id, "key": _ticket_key(board, number), "title": title,
                        "kind": kind, "points": card.points, "days": round(days, 3),
                        "ratio": round(days / card.points, 3)})
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
    rows = _events(board, ("created", "column", "category", "points", "deleted"), tickets=recent,
                   before=_midnight(last + timedelta(days=1), tz).timestamp(), old=False)
    since = since.timestamp()
    cards: dict[int, _Card] = {}
    per_day: dict[date, int] = {}
    for ticket_id, at, field, new, old, category in rows:
        card = cards.get(ticket_id)
        if card is None:
            card = cards[ticket_id] = _Card()
        was_done = card.category == DONE
        card.apply(field, new, old, category, at)
        if at >= since and field in FLOW_FIELDS and was_done != (card.category == DONE):
            day = datetime.fromtimestamp(at, tz).date()
            per_day[day] = per_day.get(day, 0) + (card.points or 0) * (1 if card.category == DONE else -1)
    return per_day


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
    remaining = sprint_burndown(sprint, unit="points", now=now)["remaining"]
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
    rng = np.random.default_rng(seed)
    draws = rng.choice(samples, size=(trials, len(future)))
    done = np.cumsum(draws, axis=1) >= remaining
    finished = done.any(axis=1)
    # the number of working days each trial needs (past the horizon: never)
    needed = np.where(finished, done.argmax(axis=1) + 1, np.iinfo(np.int64).max)
    probability = float(np.mean(needed <= left_in_sprint))
    dates = {}
    for pct in (50, 85, 95):
        k = int(np.sort(needed)[math.ceil(pct / 100 * trials) - 1])
        dates[str(pct)] = future[k - 1].isoformat() if k <= len(future) else None
    return {**base, "enough_history": True, "probability_by_end": round(probability, 4), "dates": dates,
            "working_days_left": left_in_sprint, "mean_daily_points": round(float(samples.mean()), 2)}


__all__ = ["cfd_range", "cumulative_flow", "daily_throughput", "estimation_accuracy", "sprint_burndown",
           "sprint_forecast", "sprint_frozen_series", "velocity"]
