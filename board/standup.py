"""The standup: what each person did since the previous working day, from the history.

`standup_window` turns the `since` of the URL into a time window in the
board's time zone; `standup_for` reads, for that window, the cards each person
moved and what they commented (TicketEvent), and the cards assigned to them
that are blocked or past their timebox now. It runs a fixed number of queries
(six) whatever the number of events, people or cards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from django.contrib.auth import get_user_model
from django.db.models import Q, Subquery

from .models import Board, Membership, Ticket, TicketEvent

User = get_user_model()

MAX_DAYS = 31
PREVIOUS_WORKING_DAY = "prev"
PRESETS = {PREVIOUS_WORKING_DAY: "Since the previous working day", "3d": "Last 3 days", "week": "Last week"}
PRESET_DAYS = {"3d": 3, "week": 7}
# The section of people who are not (or no longer) on the board, the system
# writers and unassigned cards. "~" cannot be part of a username.
OTHERS = "~others"
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_PERSON = re.compile(r"^[\w.@+-]{1,150}$")


class BadStandupRequest(ValueError):
    """A `since` or `person` the standup cannot show: the message says why."""


@dataclass(frozen=True)
class Window:
    start: datetime  # 00:00 of the first day, in the board's time zone
    end: datetime  # now
    since: str  # as the URL says it: a preset key or a date (YYYY-MM-DD)
    first_day: date
    label: str  # "since Friday", "since Mon 2 Nov"


def previous_working_day(today: date) -> date:
    """Monday looks back to Friday, and so do Saturday and Sunday."""
    day = today - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _since_label(first_day: date, today: date) -> str:
    if first_day == today:
        return "since this morning"
    if (today - first_day).days < 7:
        return f"since {first_day:%A}"
    return f"since {first_day:%a} {first_day.day} {first_day:%b}"


def standup_window(since: str | None, *, tz: tzinfo, now: datetime) -> Window:
    """The window a `since` value names: a preset ("prev", the default; "3d";
    "week") or a date at most MAX_DAYS back. Anything else raises BadStandupRequest."""
    today = now.astimezone(tz).date()
    since = (since or PREVIOUS_WORKING_DAY).strip()
    if since == PREVIOUS_WORKING_DAY:
        first_day = previous_working_day(today)
    elif since in PRESET_DAYS:
        first_day = today - timedelta(days=PRESET_DAYS[since])
    elif _ISO_DATE.match(since):
        try:
            first_day = date.fromisoformat(since)
        except ValueError:
            raise BadStandupRequest(f"“{since}” is not a date of the calendar.") from None
        if first_day > today:
            raise BadStandupRequest("The standup looks back: choose today or a day before it.")
        if (today - first_day).days > MAX_DAYS:
            raise BadStandupRequest(f"The standup looks back at most {MAX_DAYS} days: choose a later date.")
    else:
        raise BadStandupRequest(
            "“since” is a date (YYYY-MM-DD) or one of: " + ", ".join(f"{k} ({v.lower()})" for k, v in PRESETS.items())
            + "."
        )
    start = datetime.combine(first_day, time(0), tzinfo=tz)
    return Window(start=start, end=now, since=since, first_day=first_day, label=_since_label(first_day, today))


def clean_person(person: str | None) -> str:
    """A person key from the URL: a username or OTHERS; "" for none."""
    person = (person or "").strip()
    if person and person != OTHERS and not _PERSON.match(person):
        raise BadStandupRequest("“person” is the username of someone on this board.")
    return person


@dataclass(frozen=True)
class CardRef:
    number: int | None  # None: the card was deleted
    key: str
    title: str
    archived: bool = False


@dataclass(frozen=True)
class Move:
    ticket_id: int
    card: CardRef
    from_column: str  # "" when the card was created in to_column
    to_column: str
    at: datetime
    by: str  # who moved it (shown in the "others" section)


@dataclass(frozen=True)
class CommentItem:
    card: CardRef
    excerpt: str
    at: datetime
    by: str


@dataclass(frozen=True)
class CardNow:
    card: CardRef
    column: str
    blocked_reason: str = ""
    days_in_progress: int = 0
    timebox_days: int = 0
    assignee: str = ""  # shown in the "others" section (someone who left the board)


@dataclass(frozen=True)
class RunItem:
    """A training run or sweep that ended in the window, with its verdict in words."""

    card: CardRef
    words: str  # "run 12 succeeded: roc_auc 0.962 ≥ 0.93, hypothesis supported"
    state: str  # succeeded, failed, timed_out, cancelled, or "sweep"
    at: datetime


@dataclass
class PersonSection:
    key: str  # the username, or OTHERS
    name: str
    role: str = ""
    moves: list[Move] = field(default_factory=list)
    comments: list[CommentItem] = field(default_factory=list)
    blocked: list[CardNow] = field(default_factory=list)
    overdue: list[CardNow] = field(default_factory=list)
    runs: list[RunItem] = field(default_factory=list)

    @property
    def is_others(self) -> bool:
        return self.key == OTHERS

    @property
    def moves_by_card(self) -> list[tuple[CardRef, list[Move]]]:
        """The moves grouped by card (a card moved back and forth is one item), in order of first move."""
        groups: dict[int, list[Move]] = {}
        for m in self.moves:
            groups.setdefault(m.ticket_id, []).append(m)
        return [(moves[0].card, moves) for moves in groups.values()]

    @property
    def has_anything(self) -> bool:
        return bool(self.moves or self.comments or self.blocked or self.overdue or self.runs)


@dataclass(frozen=True)
class Standup:
    window: Window
    people: list[PersonSection]
    # Whether any training run ended in the window: the runs block shows only then.
    has_runs: bool = False

    def index_of(self, key: str) -> int | None:
        return next((i for i, p in enumerate(self.people) if p.key == key), None)


def _name(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


def standup_for(board: Board, *, window: Window) -> Standup:
    """Person by person: moves and comments in the window (by who made them),
    blocked and overdue cards now (by assignee). Owners and members always
    have a section, viewers only when there is something under their name;
    "Unassigned/others" gathers the rest, when there is any.

    Queries (always six): members, events in the window, their cards, the
    titles of deleted ones, the names of writers who are not members, the
    cards in progress or blocked now."""
    # 1. members, with their names
    memberships = list(Membership.objects.filter(board=board).select_related("user"))
    # 2. the window's moves and comments, in the board's order
    in_window = TicketEvent.objects.filter(
        board=board, at__gte=window.start, at__lte=window.end, field__in=("column", "comment", "run", "sweep")
    )
    events = list(in_window.order_by("board_version").values(
        "ticket_id", "actor_id", "source", "source_detail", "at", "field", "old_display", "new_display", "new"
    ))
    ticket_ids = Subquery(in_window.values("ticket_id"))
    # 3. the cards those events are about (still on the board or archived)
    cards = {
        row["pk"]: CardRef(row["number"], f"{board.key}-{row['number']}", row["title"], row["archived_at"] is not None)
        for row in Ticket.objects.filter(board=board, pk__in=ticket_ids).values("pk", "number", "title", "archived_at")
    }
    # 4. the titles of those that were deleted since (their "deleted" event keeps it)
    deleted = {
        row["ticket_id"]: CardRef(None, "deleted", row["old_display"])
        for row in TicketEvent.objects.filter(board=board, field="deleted", ticket_id__in=ticket_ids)
        .values("ticket_id", "old_display")
    }
    # 5. writers in the window who are not on the board (any more)
    member_ids = {m.user_id for m in memberships}
    outsiders = {
        row["pk"]: _name(row["first_name"], row["last_name"], row["username"]) + " (not on the board)"
        for row in User.objects.filter(pk__in=Subquery(in_window.values("actor_id")))
        .exclude(pk__in=Subquery(Membership.objects.filter(board=board).values("user_id")))
        .values("pk", "first_name", "last_name", "username")
    }
    # 6. cards on the board now that are blocked or in progress (timeboxes run there)
    now_cards = list(
        Ticket.objects.filter(board=board, archived_at__isnull=True)
        .filter(Q(blocked=True) | Q(started_at__isnull=False, done_at__isnull=True))
        .select_related("column", "assignee")
        .only("pk", "number", "title", "blocked", "blocked_reason", "started_at", "done_at", "timebox_days",
              "assignee_id", "column__name", "assignee__username", "assignee__first_name", "assignee__last_name")
        .order_by("number")
    )

    sections: dict[int, PersonSection] = {}
    for m in sorted(memberships, key=lambda m: (_name(m.user.first_name, m.user.last_name, m.user.username).lower(),
                                                  m.user.username)):
        u = m.user
        sections[u.pk] = PersonSection(key=u.get_username(), name=_name(u.first_name, u.last_name, u.username),
                                       role=m.role)
    others = PersonSection(key=OTHERS, name="Unassigned/others")
    member_names = {pk: s.name for pk, s in sections.items()}

    def who(event) -> str:
        actor_id = event["actor_id"]
        if actor_id in member_ids:
            return member_names[actor_id]
        if actor_id in outsiders:
            return outsiders[actor_id]
        source = event["source_detail"] or TicketEvent.Source(event["source"]).label
        return f"{source} (automatic)" if actor_id is None else "someone who was deleted"

    for event in events:
        card = cards.get(event["ticket_id"]) or deleted.get(event["ticket_id"]) or CardRef(None, "deleted", "")
        section = sections.get(event["actor_id"], others)
        if event["field"] in ("run", "sweep"):
            # the writer of a run's events is the person who started it
            state = (event["new"] or {}).get("state", "sweep") if isinstance(event["new"], dict) else "sweep"
            section.runs.append(RunItem(card, event["new_display"], state, event["at"]))
        elif event["field"] == "column":
            # from_column "" is the card's creation: it was added to the column
            section.moves.append(Move(event["ticket_id"], card, event["old_display"], event["new_display"], event["at"],
                                      who(event)))
        else:
            section.comments.append(CommentItem(card, event["new_display"], event["at"], who(event)))

    for ticket in now_cards:
        card = CardRef(ticket.number, f"{board.key}-{ticket.number}", ticket.title)
        section = sections.get(ticket.assignee_id, others)
        assignee = ""
        if ticket.assignee_id is not None and ticket.assignee_id not in member_ids:
            a = ticket.assignee
            assignee = _name(a.first_name, a.last_name, a.username) + " (left the board)"
        if ticket.blocked:
            section.blocked.append(CardNow(card, ticket.column.name, blocked_reason=ticket.blocked_reason,
                                           assignee=assignee))
        if ticket.timebox_exceeded(window.end):
            section.overdue.append(CardNow(
                card, ticket.column.name, days_in_progress=(window.end - ticket.started_at).days,
                timebox_days=ticket.timebox_days, assignee=assignee,
            ))

    people = [s for s in sections.values() if s.role != Membership.Role.VIEWER or s.has_anything]
    if others.has_anything:
        people.append(others)
    return Standup(window=window, people=people, has_runs=any(e["field"] in ("run", "sweep") for e in events))
