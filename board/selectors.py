"""Reads for pages: each runs a fixed number of queries, whatever the board size."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from urllib.parse import urlencode

import django_filters
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Prefetch, Q, Sum, Window
from django.db.models.functions import RowNumber

from . import live
from .models import (
    Board,
    BoardPulse,
    Column,
    ColumnCategory,
    Comment,
    EventSource,
    Hypothesis,
    Invitation,
    Label,
    Membership,
    Sprint,
    Ticket,
    TicketEvent,
)
from .services.common import TRACKED_FIELDS

User = get_user_model()

SWIMLANES = ("", "assignee", "epic")
# Cards a column holds for its WIP limit: archived cards are off the board.
ON_BOARD_COUNT = Count("tickets", filter=Q(tickets__archived_at__isnull=True))


def shown_points(filters: TicketFilter, prefix: str = ""):
    """The story points of the cards the filters show, as an aggregate that
    rides along in a query the page runs anyway (the column counts)."""
    return Sum(f"{prefix}points", filter=Q(**{f"{prefix}id__in": filters.qs.order_by().values("id")}))


def board_list_for_user(user):
    return (
        Board.objects.filter(memberships__user=user)
        .annotate(
            my_role=F("memberships__role"),
            ticket_count=Count("tickets", distinct=True),
        )
        .order_by("name", "id")
    )


def invitations_for_user(user):
    """The invitations waiting for the user's answer, with their board and who invited (one query)."""
    return Invitation.objects.filter(user=user).select_related("board", "invited_by").order_by("created_at", "id")


def board_invitations(board: Board):
    """A board's pending invitations for its owners (one query). They show
    what the owner typed, never the invited account: it is not on the board yet."""
    return Invitation.objects.filter(board=board).select_related("invited_by").order_by("created_at", "id")


ALL_SPRINTS = "all"


class TicketFilter(django_filters.FilterSet):
    """The board's filters; they live in the URL so a filtered board can be shared."""

    q = django_filters.CharFilter(method="search", label="Search")
    assignee = django_filters.CharFilter(method="by_assignee", label="Assignee")
    label = django_filters.CharFilter(method="by_label", label="Label")
    kind = django_filters.ChoiceFilter(choices=Ticket.Kind.choices, label="Kind")
    # Bounded: an id out of the database's range is an invalid filter, not an OverflowError.
    epic = django_filters.NumberFilter(field_name="epic_id", label="Epic", min_value=1, max_value=2**63 - 1)
    blocked = django_filters.BooleanFilter(field_name="blocked", label="Blocked only")
    # A sprint id, "none" for the backlog (cards in no sprint), or "all"
    # (every card, also on a board whose active sprint is the default).
    sprint = django_filters.CharFilter(method="by_sprint", label="Sprint")

    class Meta:
        model = Ticket
        fields = []

    def search(self, queryset, name, value):
        value = value.strip()[:200]
        if not value:
            return queryset
        condition = Q(title__icontains=value) | Q(description__icontains=value)
        number = value.rpartition("-")[2]
        # ASCII digits only: "²" and "①" are digits to isdigit() but not to int().
        if number.isascii() and number.isdigit() and len(number) < 10:
            condition |= Q(number=int(number))
        return queryset.filter(condition)

    def by_assignee(self, queryset, name, value):
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee__username=value)

    def by_label(self, queryset, name, value):
        return queryset.filter(labels__name=value)

    def by_sprint(self, queryset, name, value):
        if value == ALL_SPRINTS:
            return queryset
        if value == "none":
            return queryset.filter(sprint__isnull=True)
        if value.isascii() and value.isdigit() and len(value) < 19:
            return queryset.filter(sprint_id=int(value))
        return queryset.none()  # not a sprint id: nothing matches


def board_params(params, open_sprints):
    """The board's filters, where a board with an active sprint shows that
    sprint unless the URL names one (`?sprint=all`, or the older empty
    `?sprint=`, means every card)."""
    if "sprint" in params:
        return params
    active = next((s for s in open_sprints if s.state == Sprint.State.ACTIVE), None)
    if active is None:
        return params
    params = params.copy()
    params["sprint"] = str(active.pk)
    return params


def pulse_version(board: Board) -> int:
    """How often running jobs' progress moved on this board (0 before the first tick)."""
    try:
        return board.pulse.version
    except BoardPulse.DoesNotExist:
        return 0


def open_sprints(board: Board) -> list:
    """The board's planned and active sprints (one query)."""
    return list(board.sprints.exclude(state=Sprint.State.CLOSED))


def ticket_filter(board: Board, params) -> TicketFilter:
    """The board's cards (archived ones are off the board) through its filters."""
    return TicketFilter(params, queryset=Ticket.objects.filter(board=board, archived_at__isnull=True))


def filter_querystring(params) -> str:
    """The filter and swimlane parameters, to carry into partial URLs."""
    keep = {k: v for k, v in params.items() if k in (*TicketFilter.base_filters, "lanes") and v}
    return urlencode(keep)


# What a card on the board shows; the description stays in the database.
CARD_FIELDS = (
    "id", "board", "number", "column", "rank", "title", "kind", "points", "assignee", "epic",
    "timebox_days", "blocked", "blocked_reason", "entered_column_at", "started_at", "done_at", "version",
    "results",
)


@dataclass
class CardLookups:
    """People, epics and labels of a board by id, for the card renderer:
    cards carry ids, so a page of 1,000 cards builds 1,000 model objects,
    not 4,000 (tickets, users, epics, labels)."""

    people: dict
    epics: dict
    labels: dict
    # ticket id → queued/running jobs (board.live; empty without a provider)
    live: dict = dc_field(default_factory=dict)


def card_lookups(board: Board, members=None, labels=None, epics=None) -> CardLookups:
    """Three small queries, or none when the page has the lists already."""
    if members is None:
        members = Membership.objects.filter(board=board).select_related("user")
    return CardLookups(
        people={m.user_id: m.user for m in members},
        epics={e.pk: e for e in (board.epics.all() if epics is None else epics)},
        labels={lb.pk: lb for lb in (board.labels.all() if labels is None else labels)},
        live=live.jobs_by_ticket(board.pk),
    )


def _cards(queryset, ids_query=None, limit=None) -> list:
    """Cards with `label_ids` set: two queries (cards, their label ids)."""
    queryset = queryset.only(*CARD_FIELDS)
    cards = list(queryset[:limit] if limit is not None else queryset)
    through = Ticket.labels.through
    label_ids: dict[int, list] = {}
    ticket_ids = ids_query if ids_query is not None else [card.pk for card in cards]
    if cards:
        pairs = through.objects.filter(ticket_id__in=ticket_ids).values_list("ticket_id", "label_id")
        for ticket_id, label_id in pairs:
            label_ids.setdefault(ticket_id, []).append(label_id)
    for card in cards:
        card.label_ids = label_ids.get(card.pk, [])
    return cards


def lane_field_for(lanes: str) -> str | None:
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

    @property
    def points(self) -> int:
        """The points of the lane's cards on the page (all of them unless a
        cell holds more than a page): no query of its own."""
        return sum(card.points or 0 for cell in self.cells for card in cell.cards)


@dataclass
class BoardPage:
    board: Board
    columns: list
    lanes: list
    counts: dict
    points: dict  # column id → story points of the cards the filters show
    members: list
    labels: list
    epics: list
    sprints: list
    filtered: bool
    total_matching: int
    lookups: CardLookups


def board_page(board: Board, filters: TicketFilter, lanes: str = "", sprints: list | None = None) -> BoardPage:
    """The board's first page: columns, and up to BOARD_PAGE_SIZE cards per
    column (per lane and column with swimlanes). Seven queries, for 10 cards
    or 10,000: columns with their counts, cards (ranked with a window
    function), their labels, members, labels, epics and sprints."""
    page_size = settings.BOARD_PAGE_SIZE
    # 1: columns with their card counts (all cards, for WIP limits) and the
    # points of the cards shown
    columns = list(
        Column.objects.filter(board=board)
        .annotate(n_cards=ON_BOARD_COUNT, n_points=shown_points(filters, "tickets__"))
        .order_by("position", "id")
    )
    counts = {col.pk: col.n_cards for col in columns}
    points = {col.pk: col.n_points or 0 for col in columns}
    lane_field = lane_field_for(lanes)
    partition = [F("column_id")] + ([F(lane_field)] if lane_field else [])
    # The window ranks only (id, column, rank) of the matching cards; the wide
    # rows are then fetched for the ≤ page_size + 1 per column it keeps, so a
    # 10,000-card board does not sort 10,000 joined rows.
    first_ids = (
        filters.qs.annotate(row=Window(RowNumber(), partition_by=partition, order_by=[F("rank").asc()]))
        .filter(row__lte=page_size + 1)
        .values("id")
    )
    # 2 + 3: the cards, then their label ids
    cards = _cards(Ticket.objects.filter(id__in=first_ids).order_by("rank"), ids_query=first_ids)
    members = list(  # 4
        Membership.objects.filter(board=board).select_related("user").order_by("user__username")
    )
    labels = list(board.labels.all())  # 5
    epics = list(board.epics.all())  # 6
    sprints = open_sprints(board) if sprints is None else sprints  # 7 (or the caller's)

    lane_defs = _lanes(lanes, members, epics)
    grid = {(lane.key, col.pk): Cell(column=col, lane_key=lane.key) for lane in lane_defs for col in columns}
    for card in cards:
        card_lane = lane_key(card, lane_field)
        cell = grid.get((card_lane, card.column_id))
        if cell is None:
            continue
        if len(cell.cards) < page_size:
            cell.cards.append(card)
        else:
            cell.has_more = True
    for lane in lane_defs:
        lane.cells = [grid[(lane.key, col.pk)] for col in columns]
    return BoardPage(
        board=board, columns=columns, lanes=lane_defs, counts=counts, points=points, members=members,
        labels=labels, epics=epics, sprints=sprints,
        filtered=bool(filters.form.is_bound and any(filters.form.data.get(k) for k in TicketFilter.base_filters)),
        total_matching=len(cards), lookups=card_lookups(board, members, labels, epics),
    )


def lane_key(card, lane_field: str | None) -> str:
    """The swimlane a card sits in: "" without lanes, "none" for no assignee/epic."""
    if not lane_field:
        return ""
    value = getattr(card, lane_field)
    return str(value) if value is not None else "none"


def _lanes(lanes, members, epics) -> list[Lane]:
    if lanes == "assignee":
        result = [Lane(str(m.user_id), m.user.get_full_name() or m.user.get_username(), []) for m in members]
        return result + [Lane("none", "Unassigned", [])]
    if lanes == "epic":
        return [Lane(str(e.pk), e.name, []) for e in epics] + [Lane("none", "No epic", [])]
    return [Lane("", "", [])]


def column_cards_after(
    board: Board, filters: TicketFilter, column_id: int, after_rank: str, lanes: str = "", lane: str = ""
):
    """The next page of one column (or one lane's cell), after a rank."""
    page_size = settings.BOARD_PAGE_SIZE
    qs = filters.qs.filter(column_id=column_id, rank__gt=after_rank)
    lane_field = lane_field_for(lanes)
    if lane_field and lane:
        qs = qs.filter(**({f"{lane_field}__isnull": True} if lane == "none" else {lane_field: lane}))
    cards = _cards(qs.order_by("rank"), limit=page_size + 1)
    return cards[:page_size], len(cards) > page_size


@dataclass
class BoardChanges:
    version: int
    layout_version: int
    cards: list  # changed cards that match the filters
    gone: list  # ids of changed cards that no longer match the filters
    counts: dict
    points: dict  # column id → story points of the cards the filters show


MAX_CHANGES = 500


def board_changes(board: Board, since: int, filters: TicketFilter) -> BoardChanges | None:
    """What changed on a board since a version a client holds: the changed
    cards (to re-render), the ones that left the filtered view, and counts.
    None when more than MAX_CHANGES cards changed: reloading is cheaper."""
    changed_ids = list(
        Ticket.objects.filter(board=board, board_version__gt=since).values_list("id", flat=True)[: MAX_CHANGES + 1]
    )
    if len(changed_ids) > MAX_CHANGES:
        return None
    cards = _cards(filters.qs.filter(id__in=changed_ids).order_by("rank"))
    shown = {card.pk for card in cards}
    per_column = (
        Ticket.objects.filter(board=board, archived_at__isnull=True)
        .values("column_id").annotate(n=Count("id"), p=shown_points(filters)).values_list("column_id", "n", "p")
    )
    counts, points = {}, {}
    for column_id, n, p in per_column:
        counts[column_id], points[column_id] = n, p or 0
    return BoardChanges(
        version=board.version, layout_version=board.layout_version, cards=cards,
        gone=[pk for pk in changed_ids if pk not in shown], counts=counts, points=points,
    )


def ticket_detail(board: Board, number: int) -> Ticket:
    return (
        Ticket.objects.select_related("assignee", "epic", "sprint", "column", "board")
        .prefetch_related(
            Prefetch("labels", queryset=Label.objects.order_by("name")),
            Prefetch("comments", queryset=Comment.objects.select_related("author")),
            Prefetch("events", queryset=TicketEvent.objects.select_related("actor").order_by("-board_version")),
        )
        .get(board=board, number=number)
    )


FIELD_NAMES = {
    "title": "title", "description": "description", "kind": "kind", "points": "points",
    "assignee": "assignee", "labels": "labels", "epic": "epic", "sprint": "sprint",
    "timebox_days": "timebox", "blocked": "blocked", "blocked_reason": "blocked reason", "column": "column",
    "category": "column stage",
}


def writer_name(event: TicketEvent) -> str:
    """Who made a change, in words: a person, or a system writer ("run 12")."""
    if event.actor is not None:
        person = event.actor.get_full_name() or event.actor.get_username()
    else:
        person = "a deleted user" if event.actor_id else ""
    source = event.source
    if source == EventSource.PERSON:
        return person or "—"
    if source in (EventSource.API, EventSource.ADMIN):
        return f"{person} ({EventSource(source).label})" if person else EventSource(source).label
    return event.source_detail or (f"{person} ({EventSource(source).label.lower()})" if person else
                                   EventSource(source).label)


@dataclass
class HistoryEntry:
    actor: object
    at: object
    kind: str  # created | column | rank | comment | change | labels | archived | deleted | category | member_left
    field: str = ""
    old: str = ""
    new: str = ""
    details: list = dc_field(default_factory=list)
    who: str = ""


def ticket_hypotheses(ticket: Ticket) -> list:
    return list(Hypothesis.objects.filter(ticket=ticket).order_by("id"))


def ticket_history(ticket: Ticket) -> list[HistoryEntry]:
    """The card's history, newest first, for people: the values a ticket was
    created with fold into its "created" line (they are separate events so
    that replaying the history rebuilds the ticket)."""
    events = sorted(ticket.events.all(), key=lambda e: e.board_version)
    entries: list[HistoryEntry] = []
    created = None
    for e in events:
        who = writer_name(e)
        if e.field == "created":
            created = HistoryEntry(e.actor, e.at, "created", who=who)
            entries.append(created)
            continue
        if created is not None and e.at == created.at and e.old is None and e.field != "comment":
            if e.field == "column":
                created.new = e.new_display
            elif e.field == "labels":
                _append_label(created.details, e.new_display)
            elif e.field not in ("title", "description") and (e.field, e.new) not in (("blocked", False),
                                                                                      ("timebox_days", 3)):
                created.details.append(f"{FIELD_NAMES.get(e.field, e.field)}: {e.new_display}")
            continue
        created = None
        if e.field in ("column", "rank", "comment", "archived", "deleted", "member_left", "run", "sweep",
                       "hypothesis"):
            entries.append(HistoryEntry(e.actor, e.at, e.field, old=e.old_display, new=e.new_display, who=who))
        elif e.field == "labels":
            entries.append(HistoryEntry(e.actor, e.at, "labels", "labels", e.old_display, e.new_display, who=who))
        else:
            entries.append(HistoryEntry(e.actor, e.at, "change", FIELD_NAMES.get(e.field, e.field),
                                        e.old_display, e.new_display, who=who))
    return entries[::-1]


@dataclass
class ActivityItem:
    """One line of a card's activity stream: a comment or a history entry."""

    at: object
    comment: Comment | None = None
    entry: HistoryEntry | None = None


def ticket_activity(ticket: Ticket) -> list[ActivityItem]:
    """Comments and history in one stream, newest first. A comment's own
    history line ("commented") is left out: the comment stands for it. Reads
    only what ticket_detail prefetched, so no query per comment or event."""
    items = [ActivityItem(e.at, entry=e) for e in ticket_history(ticket) if e.kind != "comment"]
    items += [ActivityItem(c.created_at, comment=c)
              for c in sorted(ticket.comments.all(), key=lambda c: (c.created_at, c.pk), reverse=True)]
    # Stable: history keeps its board-version order among equal times.
    return sorted(items, key=lambda item: item.at, reverse=True)


def _append_label(details: list, name: str) -> None:
    for i, item in enumerate(details):
        if item.startswith("labels: "):
            details[i] = f"{item}, {name}"
            return
    details.append(f"labels: {name}")


def replay(events) -> dict:
    """Rebuild a ticket from its events alone, in board-version order.

    Returns every tracked field (typed: ids for relations, a set of label
    ids), the column and its category, rank, the flow times (entered_column_at,
    started_at, done_at), archived and deleted. The same rules as the
    services: started on first entering "in progress", done while in "done"."""
    # A ticket starts blank; creation records every value that is not empty.
    state = {
        "description": "", "blocked_reason": "", "points": None, "assignee": None, "epic": None, "sprint": None,
        "labels": set(), "started_at": None, "done_at": None, "entered_column_at": None, "category": None,
        "archived": False, "deleted": False,
    }
    for e in sorted(events, key=lambda e: e.board_version):
        field = e.field
        if field in ("column", "category"):
            if field == "column":
                state["column"] = e.new
                state["entered_column_at"] = e.at
            state["category"] = e.category
            if e.category == ColumnCategory.IN_PROGRESS and state["started_at"] is None:
                state["started_at"] = e.at
            state["done_at"] = e.at if e.category == ColumnCategory.DONE else None
        elif field == "labels":
            if e.old is not None:
                state["labels"].discard(e.old)
            if e.new is not None:
                state["labels"].add(e.new)
        elif field == "archived":
            state["archived"] = e.new
        elif field == "deleted":
            state["deleted"] = True
        elif field in TRACKED_FIELDS:
            state[field] = e.new
        if e.rank is not None:
            state["rank"] = e.rank
    return state


def ticket_replay(ticket_id: int) -> dict:
    return replay(TicketEvent.objects.filter(ticket_id=ticket_id))
