"""Reads for pages: each runs a fixed number of queries, whatever the board size."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from urllib.parse import urlencode

import django_filters
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Prefetch, Q, Window
from django.db.models.functions import RowNumber

from .models import Board, Column, Comment, Label, Membership, Sprint, Ticket, TicketEvent

User = get_user_model()

SWIMLANES = ("", "assignee", "epic")


def board_list_for_user(user):
    return (
        Board.objects.filter(memberships__user=user)
        .annotate(
            my_role=F("memberships__role"),
            ticket_count=Count("tickets", distinct=True),
        )
        .order_by("name", "id")
    )


class TicketFilter(django_filters.FilterSet):
    """The board's filters; they live in the URL so a filtered board can be shared."""

    q = django_filters.CharFilter(method="search", label="Search")
    assignee = django_filters.CharFilter(method="by_assignee", label="Assignee")
    label = django_filters.CharFilter(method="by_label", label="Label")
    kind = django_filters.ChoiceFilter(choices=Ticket.Kind.choices, label="Kind")
    # Bounded: an id out of the database's range is an invalid filter, not an OverflowError.
    epic = django_filters.NumberFilter(field_name="epic_id", label="Epic", min_value=1, max_value=2**63 - 1)
    blocked = django_filters.BooleanFilter(field_name="blocked", label="Blocked only")

    class Meta:
        model = Ticket
        fields = []

    def search(self, queryset, name, value):
        value = value.strip()[:200]
        if not value:
            return queryset
        condition = Q(title__icontains=value) | Q(description__icontains=value)
        head, _, number = value.rpartition("-")
        if number.isdigit() and len(number) < 10:
            condition |= Q(number=int(number))
        return queryset.filter(condition)

    def by_assignee(self, queryset, name, value):
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee__username=value)

    def by_label(self, queryset, name, value):
        return queryset.filter(labels__name=value)


def ticket_filter(board: Board, params) -> TicketFilter:
    return TicketFilter(params, queryset=Ticket.objects.filter(board=board))


def filter_querystring(params) -> str:
    """The filter and swimlane parameters, to carry into partial URLs."""
    keep = {k: v for k, v in params.items() if k in (*TicketFilter.base_filters, "lanes") and v}
    return urlencode(keep)


def _card_queryset(queryset):
    return queryset.select_related("assignee", "epic", "board").prefetch_related(
        Prefetch("labels", queryset=Label.objects.order_by("name"))
    )


def _lane_field(lanes: str) -> str | None:
    return {"assignee": "assignee_id", "epic": "epic_id"}.get(lanes)


@dataclass
class Cell:
    column: Column
    cards: list = dc_field(default_factory=list)
    has_more: bool = False
    lane_key: str = ""

    @property
    def last_rank(self) -> str:
        return self.cards[-1].rank if self.cards else ""


@dataclass
class Lane:
    key: str  # "" when there are no swimlanes; "none" for the unassigned lane
    title: str
    cells: list


@dataclass
class BoardPage:
    board: Board
    columns: list
    lanes: list
    counts: dict
    members: list
    labels: list
    epics: list
    sprints: list
    filtered: bool
    total_matching: int


def board_page(board: Board, filters: TicketFilter, lanes: str = "") -> BoardPage:
    """The board's first page: columns, and up to BOARD_PAGE_SIZE cards per
    column (per lane and column with swimlanes). Seven queries, for 10 cards
    or 10,000: columns, column counts, cards (ranked with a window function),
    their labels, members, labels, epics and sprints."""
    page_size = settings.BOARD_PAGE_SIZE
    columns = list(board.columns.all())  # 1
    counts = dict(  # 2: every card per column, for WIP limits (unfiltered)
        Ticket.objects.filter(board=board).values("column_id").annotate(n=Count("id")).values_list("column_id", "n")
    )
    lane_field = _lane_field(lanes)
    partition = [F("column_id")] + ([F(lane_field)] if lane_field else [])
    matching = filters.qs
    cards = list(  # 3 + 4 (labels)
        _card_queryset(
            matching.annotate(
                row=Window(RowNumber(), partition_by=partition, order_by=[F("rank").asc()])
            ).filter(row__lte=page_size + 1)
        ).order_by("column__position", "rank")
    )
    members = list(  # 5
        Membership.objects.filter(board=board).select_related("user").order_by("user__username")
    )
    labels = list(board.labels.all())  # 6
    epics = list(board.epics.all())  # 7
    sprints = list(board.sprints.exclude(state=Sprint.State.CLOSED))  # 8

    lane_defs = _lanes(lanes, cards, members, epics)
    grid = {(lane.key, col.pk): Cell(column=col, lane_key=lane.key) for lane in lane_defs for col in columns}
    for card in cards:
        lane_key = _lane_key(card, lane_field)
        cell = grid.get((lane_key, card.column_id))
        if cell is None:
            continue
        if len(cell.cards) < page_size:
            cell.cards.append(card)
        else:
            cell.has_more = True
    for lane in lane_defs:
        lane.cells = [grid[(lane.key, col.pk)] for col in columns]
    return BoardPage(
        board=board, columns=columns, lanes=lane_defs, counts=counts, members=members,
        labels=labels, epics=epics, sprints=sprints,
        filtered=bool(filters.form.is_bound and any(filters.form.data.get(k) for k in TicketFilter.base_filters)),
        total_matching=len(cards),
    )


def _lane_key(card, lane_field):
    if not lane_field:
        return ""
    value = getattr(card, lane_field)
    return str(value) if value is not None else "none"


def _lanes(lanes, cards, members, epics) -> list[Lane]:
    if lanes == "assignee":
        result = [Lane(str(m.user_id), m.user.get_full_name() or m.user.get_username(), []) for m in members]
        return result + [Lane("none", "Unassigned", [])]
    if lanes == "epic":
        return [Lane(str(e.pk), e.name, []) for e in epics] + [Lane("none", "No epic", [])]
    return [Lane("", "", [])]


def column_cards_after(board: Board, filters: TicketFilter, column_id: int, after_rank: str, lanes: str = "", lane_key: str = ""):
    """The next page of one column (or one lane's cell), after a rank."""
    page_size = settings.BOARD_PAGE_SIZE
    qs = filters.qs.filter(column_id=column_id, rank__gt=after_rank)
    lane_field = _lane_field(lanes)
    if lane_field and lane_key:
        qs = qs.filter(**({f"{lane_field}__isnull": True} if lane_key == "none" else {lane_field: lane_key}))
    cards = list(_card_queryset(qs).order_by("rank")[: page_size + 1])
    return cards[:page_size], len(cards) > page_size


@dataclass
class BoardChanges:
    version: int
    layout_version: int
    cards: list  # changed cards that match the filters
    gone: list  # ids of changed cards that no longer match the filters
    counts: dict


def board_changes(board: Board, since: int, filters: TicketFilter) -> BoardChanges:
    """What changed on a board since a version a client holds: the changed
    cards (to re-render), the ones that left the filtered view, and counts."""
    changed_ids = list(Ticket.objects.filter(board=board, board_version__gt=since).values_list("id", flat=True)[:500])
    cards = list(_card_queryset(filters.qs.filter(id__in=changed_ids)).order_by("rank"))
    shown = {card.pk for card in cards}
    counts = dict(
        Ticket.objects.filter(board=board).values("column_id").annotate(n=Count("id")).values_list("column_id", "n")
    )
    return BoardChanges(
        version=board.version, layout_version=board.layout_version, cards=cards,
        gone=[pk for pk in changed_ids if pk not in shown], counts=counts,
    )


def ticket_detail(board: Board, number: int) -> Ticket:
    return (
        Ticket.objects.select_related("assignee", "epic", "sprint", "column", "board")
        .prefetch_related(
            Prefetch("labels", queryset=Label.objects.order_by("name")),
            Prefetch("comments", queryset=Comment.objects.select_related("author")),
            Prefetch("events", queryset=TicketEvent.objects.select_related("actor").order_by("-at", "-id")),
        )
        .get(board=board, number=number)
    )


FIELD_NAMES = {
    "title": "title", "description": "description", "kind": "kind", "points": "points",
    "assignee": "assignee", "labels": "labels", "epic": "epic", "sprint": "sprint",
    "timebox_days": "timebox", "blocked": "blocked", "blocked_reason": "blocked reason", "column": "column",
}


@dataclass
class HistoryEntry:
    actor: object
    at: object
    kind: str  # created | column | rank | comment | change
    field: str = ""
    old: str = ""
    new: str = ""
    details: list = dc_field(default_factory=list)


def ticket_history(ticket: Ticket) -> list[HistoryEntry]:
    """The card's history, newest first, for people: the values a ticket was
    created with fold into its "created" line (they are separate events so
    that replaying the history rebuilds the ticket)."""
    events = sorted(ticket.events.all(), key=lambda e: (e.at, e.pk))
    entries: list[HistoryEntry] = []
    created = None
    for e in events:
        if e.field == "created":
            created = HistoryEntry(e.actor, e.at, "created")
            entries.append(created)
            continue
        if created is not None and e.at == created.at and e.old is None:
            if e.field == "column":
                created.new = e.new_display
            elif e.field not in ("title", "description") and (e.field, e.new) not in (("blocked", "False"), ("timebox_days", "3")):
                created.details.append(f"{FIELD_NAMES.get(e.field, e.field)}: {e.new_display}")
            continue
        created = None
        if e.field in ("column", "rank", "comment"):
            entries.append(HistoryEntry(e.actor, e.at, e.field, old=e.old_display, new=e.new_display))
        else:
            entries.append(HistoryEntry(e.actor, e.at, "change", FIELD_NAMES.get(e.field, e.field),
                                        e.old_display, e.new_display))
    return entries[::-1]


def ticket_state_from_events(ticket_id: int) -> dict:
    """Replay a ticket's history from nothing: the fields as of the last event.

    Values come back as stored in events (text ids for relations); the test
    suite compares this with the live ticket to prove the history complete."""
    state: dict = {}
    for field_name, new in TicketEvent.objects.filter(ticket_id=ticket_id).order_by("at", "id").values_list("field", "new"):
        if field_name in ("created", "comment", "rank"):
            continue
        state[field_name] = new
    return state


