"""Every write on a board: one function per user intention.

Each service runs in one transaction, takes the board row lock first (so all
writes on one board are serialised and ranks can never collide), records a
TicketEvent for each ticket field it changes and bumps Board.version, which
open boards poll to pick up changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Subquery
from django.utils import timezone
from fractional_indexing import generate_key_between, generate_n_keys_between

from .models import Board, Column, Comment, Epic, Label, Membership, Sprint, Ticket, TicketEvent

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

# Ticket fields whose changes are recorded; relations are recorded by id.
TRACKED_FIELDS = (
    "title", "description", "kind", "points", "assignee", "labels", "epic", "sprint",
    "timebox_days", "blocked", "blocked_reason",
)


class Conflict(Exception):
    """The ticket changed since the client read it (stale version)."""


class MoveRefused(Exception):
    """A move that the board's rules refuse (e.g. a hard WIP limit)."""


# --- helpers ---------------------------------------------------------------

def _lock_board(board_id: int) -> Board:
    return Board.objects.select_for_update().get(pk=board_id)


def _bump(board: Board, *, layout: bool = False) -> int:
    board.version += 1
    fields = {"version": board.version}
    if layout:
        board.layout_version += 1
        fields["layout_version"] = board.layout_version
    Board.objects.filter(pk=board.pk).update(**fields)
    return board.version


def _value(ticket: Ticket, field: str):
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


def _event(ticket, actor, field, old, new, old_display="", new_display="", at=None, board_version=0):
    return TicketEvent(
        ticket=ticket, actor=actor, field=field, old=old, new=new,
        old_display=old_display, new_display=new_display,
        at=at or timezone.now(), board_version=board_version,
    )


def _key_after_last(column_id: int) -> str:
    last = Ticket.objects.filter(column_id=column_id).order_by("-rank").values_list("rank", flat=True).first()
    return generate_key_between(last, None)


def _enter_column(ticket: Ticket, column: Column, now) -> None:
    """Flow timestamps follow the column's category."""
    ticket.column = column
    ticket.entered_column_at = now
    if column.category == Column.Category.IN_PROGRESS and ticket.started_at is None:
        ticket.started_at = now
    ticket.done_at = now if column.category == Column.Category.DONE else None


# --- boards ----------------------------------------------------------------

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


def _clean_key(key: str) -> str:
    key = (key or "").strip().upper()
    if not key.isalnum() or not (1 <= len(key) <= 8):
        raise ValidationError({"key": "Use 1 to 8 letters or digits, e.g. MLK."})
    return key


@transaction.atomic
def board_update(*, board: Board, name: str, wip_mode: str, key: str) -> Board:
    board = _lock_board(board.pk)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A board needs a name."})
    if wip_mode not in Board.WipMode.values:
        raise ValidationError({"wip_mode": "Choose warn or hard."})
    board.name, board.wip_mode, board.key = name[:120], wip_mode, _clean_key(key)
    board.save(update_fields=["name", "wip_mode", "key"])
    _bump(board, layout=True)
    return board


# --- members ---------------------------------------------------------------

@transaction.atomic
def membership_add(*, board: Board, identifier: str, role: str) -> Membership:
    identifier = (identifier or "").strip()
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose owner, member or viewer."})
    if not identifier:
        raise ValidationError({"identifier": "Enter a username or an email address."})
    user = User.objects.filter(Q(username__iexact=identifier) | Q(email__iexact=identifier)).order_by("id").first()
    if user is None:
        raise ValidationError({"identifier": f"No account with the username or email “{identifier}”."})
    board = _lock_board(board.pk)
    if Membership.objects.filter(board=board, user=user).exists():
        raise ValidationError({"identifier": f"{user.get_username()} is already on this board."})
    membership = Membership.objects.create(board=board, user=user, role=role)
    _bump(board, layout=True)
    return membership


def _owner_count(board: Board) -> int:
    return Membership.objects.filter(board=board, role=Membership.Role.OWNER).count()


@transaction.atomic
def membership_change_role(*, board: Board, membership_id: int, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose owner, member or viewer."})
    board = _lock_board(board.pk)
    membership = Membership.objects.get(pk=membership_id, board=board)
    if membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER and _owner_count(board) == 1:
        raise ValidationError({"role": "A board needs at least one owner: make someone else owner first."})
    membership.role = role
    membership.save(update_fields=["role"])
    _bump(board, layout=True)
    return membership


@transaction.atomic
def membership_remove(*, board: Board, membership_id: int) -> None:
    board = _lock_board(board.pk)
    membership = Membership.objects.get(pk=membership_id, board=board)
    if membership.role == Membership.Role.OWNER and _owner_count(board) == 1:
        raise ValidationError({"membership": "The last owner cannot be removed."})
    membership.delete()
    _bump(board, layout=True)


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
    board = _lock_board(board.pk)
    last = board.columns.order_by("-position").values_list("position", flat=True).first()
    column = Column.objects.create(
        board=board, name=name, wip_limit=wip_limit, category=category, position=(last or 0) + 1
    )
    _bump(board, layout=True)
    return column


@transaction.atomic
def column_update(*, board: Board, column_id: int, name: str, wip_limit, category: str) -> Column:
    name, wip_limit, category = _clean_column_fields(name, wip_limit, category)
    board = _lock_board(board.pk)
    column = Column.objects.get(pk=column_id, board=board)
    column.name, column.wip_limit, column.category = name, wip_limit, category
    column.save(update_fields=["name", "wip_limit", "category"])
    _bump(board, layout=True)
    return column


@transaction.atomic
def column_shift(*, board: Board, column_id: int, offset: int) -> None:
    """Move a column left (-1) or right (+1) in the board's order."""
    if offset not in (-1, 1):
        raise ValidationError({"position": "A column moves one place left or right."})
    board = _lock_board(board.pk)
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
    _bump(board, layout=True)


@transaction.atomic
def column_delete(*, board: Board, column_id: int, actor=None, move_to_id=None) -> None:
    """Delete a column; its cards go to another column first (appended in order)."""
    board = _lock_board(board.pk)
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
        version = _bump(board)
        last = Ticket.objects.filter(column=target).order_by("-rank").values_list("rank", flat=True).first()
        keys = generate_n_keys_between(last, None, len(tickets))
        now = timezone.now()
        events = []
        for ticket, key in zip(tickets, keys):
            events.append(_event(ticket, actor, "column", str(column.pk), str(target.pk), column.name, target.name,
                                 at=now, board_version=version))
            _enter_column(ticket, target, now)
            ticket.rank = key
            ticket.version += 1
            ticket.board_version = version
            ticket.updated_at = now
        Ticket.objects.bulk_update(
            tickets, ["column", "rank", "entered_column_at", "started_at", "done_at", "version", "board_version", "updated_at"]
        )
        TicketEvent.objects.bulk_create(events)
    column.delete()
    _bump(board, layout=True)


# --- labels, epics, sprints -------------------------------------------------

@transaction.atomic
def label_create(*, board: Board, name: str, color: str = "#6b7280") -> Label:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A label needs a name."})
    board = _lock_board(board.pk)
    if board.labels.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"The label “{name}” exists already."})
    label = Label.objects.create(board=board, name=name[:40], color=_clean_color(color))
    _bump(board, layout=True)
    return label


@transaction.atomic
def label_delete(*, board: Board, label_id: int, actor=None) -> None:
    """Delete a label; the tickets that carried it record a "labels" event,
    so that their history still replays to their current labels."""
    board = _lock_board(board.pk)
    label = Label.objects.get(pk=label_id, board=board)
    tickets = list(label.tickets.prefetch_related("labels"))
    before = {t.pk: _value(t, "labels") for t in tickets}
    label.delete()
    version = _bump(board, layout=True)
    now = timezone.now()
    events = []
    for ticket in tickets:
        ticket._prefetched_objects_cache = {}
        after = _value(ticket, "labels")
        events.append(_event(ticket, actor, "labels", before[ticket.pk][0], after[0], before[ticket.pk][1], after[1],
                             at=now, board_version=version))
    TicketEvent.objects.bulk_create(events)
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(board_version=version)


@transaction.atomic
def epic_create(*, board: Board, name: str, color: str = "#7c3aed") -> Epic:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "An epic needs a name."})
    board = _lock_board(board.pk)
    if board.epics.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"The epic “{name}” exists already."})
    epic = Epic.objects.create(board=board, name=name[:80], color=_clean_color(color))
    _bump(board, layout=True)
    return epic


@transaction.atomic
def sprint_create(*, board: Board, name: str, start, end, goal: str = "") -> Sprint:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A sprint needs a name."})
    if not start or not end:
        raise ValidationError({"start": "A sprint needs a start and an end date."})
    if end < start:
        raise ValidationError({"end": "The sprint ends before it starts."})
    board = _lock_board(board.pk)
    sprint = Sprint.objects.create(board=board, name=name[:80], start=start, end=end, goal=goal or "")
    _bump(board, layout=True)
    return sprint


def _clean_color(color: str) -> str:
    color = (color or "").strip()
    if len(color) == 7 and color.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in color[1:]):
        return color.lower()
    raise ValidationError({"color": "Use a colour like #1f7a8c."})


# --- tickets ---------------------------------------------------------------

@dataclass
class TicketInput:
    """Validated values for a ticket's editable fields (a form's cleaned_data)."""

    title: str
    description: str = ""
    kind: str = Ticket.Kind.STORY
    points: int | None = None
    assignee: object = None
    labels: tuple = ()
    epic: Epic | None = None
    sprint: Sprint | None = None
    timebox_days: int = 3
    blocked: bool = False
    blocked_reason: str = ""


def _check_belongs(board: Board, data: TicketInput) -> None:
    """Relations must belong to the same board: forms check, services insist."""
    if data.assignee is not None and not Membership.objects.filter(board=board, user=data.assignee).exists():
        raise ValidationError({"assignee": "The assignee must be a member of this board."})
    for name in ("epic", "sprint"):
        obj = getattr(data, name)
        if obj is not None and obj.board_id != board.pk:
            raise ValidationError({name: f"That {name} belongs to another board."})
    if any(label.board_id != board.pk for label in data.labels):
        raise ValidationError({"labels": "A label belongs to another board."})
    if not (data.title or "").strip():
        raise ValidationError({"title": "A ticket needs a title."})
    if data.blocked and not (data.blocked_reason or "").strip():
        raise ValidationError({"blocked_reason": "Say what blocks the ticket."})


@transaction.atomic
def ticket_create(*, board: Board, actor, data: TicketInput, column: Column | None = None, at=None) -> Ticket:
    """Create a ticket at the bottom of a column (the first column by default)."""
    board = _lock_board(board.pk)
    _check_belongs(board, data)
    if column is None:
        column = board.columns.order_by("position", "id").first()
    elif column.board_id != board.pk:
        raise ValidationError({"column": "That column belongs to another board."})
    now = at or timezone.now()
    board.ticket_seq += 1
    Board.objects.filter(pk=board.pk).update(ticket_seq=board.ticket_seq)
    version = _bump(board)
    ticket = Ticket(
        board=board, number=board.ticket_seq, rank=_key_after_last(column.pk), created_by=actor,
        created_at=now, updated_at=now, board_version=version,
        **{f: getattr(data, f) for f in TRACKED_FIELDS if f != "labels"},
    )
    ticket.title = ticket.title.strip()
    if not ticket.blocked:
        ticket.blocked_reason = ""
    _enter_column(ticket, column, now)
    ticket.save()
    if data.labels:
        ticket.labels.set(data.labels)
    events = [_event(ticket, actor, "created", None, None, "", "", at=now, board_version=version),
              _event(ticket, actor, "column", None, str(column.pk), "", column.name, at=now, board_version=version)]
    for field in TRACKED_FIELDS:
        new, new_display = _value(ticket, field)
        if new not in (None, ""):
            events.append(_event(ticket, actor, field, None, new, "", new_display, at=now, board_version=version))
    TicketEvent.objects.bulk_create(events)
    return ticket


@transaction.atomic
def ticket_update(*, ticket_id: int, board: Board, actor, expected_version: int, data: TicketInput) -> Ticket:
    """Apply an edit; one event per field that really changed."""
    board = _lock_board(board.pk)
    ticket = Ticket.objects.select_related("assignee", "epic", "sprint").get(pk=ticket_id, board=board)
    if ticket.version != expected_version:
        raise Conflict("Someone else changed this card while you were editing it. Your edit was not saved; the card now shows their version.")
    _check_belongs(board, data)
    before = {field: _value(ticket, field) for field in TRACKED_FIELDS}
    for field in TRACKED_FIELDS:
        if field != "labels":
            setattr(ticket, field, getattr(data, field))
    ticket.title = ticket.title.strip()
    if not ticket.blocked:
        ticket.blocked_reason = ""
    labels_before = set(ticket.labels.values_list("pk", flat=True))
    if labels_before != {label.pk for label in data.labels}:
        ticket.labels.set(data.labels)
    # _value reads labels through the manager: drop its cache after set().
    ticket._prefetched_objects_cache = {}
    now = timezone.now()
    changes = []
    for field in TRACKED_FIELDS:
        after = _value(ticket, field)
        if after[0] != before[field][0]:
            changes.append((field, before[field], after))
    if not changes:
        return ticket
    version = _bump(board)
    ticket.version += 1
    ticket.board_version = version
    ticket.updated_at = now
    ticket.save()
    TicketEvent.objects.bulk_create(
        _event(ticket, actor, field, old[0], new[0], old[1], new[1], at=now, board_version=version)
        for field, old, new in changes
    )
    return ticket


@dataclass(frozen=True)
class MoveResult:
    ticket: Ticket
    rows_written: int
    warning: str = ""


def ticket_move(
    *, board: Board, actor, ticket_id: int, expected_version: int, to_column_id: int,
    after_id: int | None = None, before_id: int | None = None, position: str | None = None,
) -> MoveResult:
    """Move a card to a column, between two neighbours or to one end.

    `after_id` is the card that should end up right above the moved one,
    `before_id` the card right below it; the client's view may be filtered or
    stale, so the true neighbours are looked up around the anchor and the new
    rank is one key between them: a move writes the ticket, one event and the
    board version. `position` ("top", "bottom", "up", "down") serves the
    keyboard menu. Refusals raise Conflict, MoveRefused or ValidationError.
    """
    with transaction.atomic():
        # One query takes the board lock and reads the target column.
        target = (
            Column.objects.select_related("board").select_for_update(of=("board",))
            .filter(pk=to_column_id, board_id=board.pk).first()
        )
        board = target.board if target is not None else _lock_board(board.pk)
        try:
            # assignee and epic come along for the card the view renders next
            ticket = Ticket.objects.select_related("column", "assignee", "epic").get(pk=ticket_id, board=board)
        except Ticket.DoesNotExist:
            raise ValidationError({"ticket": "That card is not on this board (it may have been deleted)."}) from None
        if ticket.version != expected_version:
            raise Conflict("Someone else changed this card a moment ago; it has been refreshed. Try again.")
        if target is None:
            raise ValidationError({"column": "That column is not on this board (it may have been deleted)."})
        if target.pk == ticket.column_id:
            target = ticket.column
        changes_column = target.pk != ticket.column_id
        warning = ""
        if changes_column and target.wip_limit:
            # counted only for columns with a limit: those hold few cards
            count = Ticket.objects.filter(column=target).count()
            if count >= target.wip_limit:
                if board.wip_mode == Board.WipMode.HARD:
                    raise MoveRefused(f"“{target.name}” is at its WIP limit ({count}/{target.wip_limit}). Finish something there first.")
                warning = f"“{target.name}” is now over its WIP limit ({count + 1}/{target.wip_limit})."
        prev_key, next_key = _neighbour_keys(ticket, target, after_id, before_id, position)
        if not changes_column and (prev_key is None or prev_key < ticket.rank) and (
            next_key is None or ticket.rank < next_key
        ):
            return MoveResult(ticket, 0)  # dropped where it was: nothing to record
        rows = 0
        new_rank = generate_key_between(prev_key, next_key)
        if len(new_rank) > settings.RANK_MAX_LENGTH:
            new_rank, rows = _rebalance(target, ticket, prev_key)
        # Re-keyed cards change place on every open board, and "load more"
        # pages by rank: a rebalance (rare) makes open boards reload.
        version = _bump(board, layout=rows > 0)
        now = timezone.now()
        old_column, old_rank = ticket.column, ticket.rank
        if changes_column:
            _enter_column(ticket, target, now)
            event = _event(ticket, actor, "column", str(old_column.pk), str(target.pk), old_column.name, target.name,
                           at=now, board_version=version)
        else:
            event = _event(ticket, actor, "rank", old_rank, new_rank, "", "", at=now, board_version=version)
        ticket.rank = new_rank
        ticket.version += 1
        ticket.board_version = version
        ticket.updated_at = now
        ticket.save(update_fields=[
            "column", "rank", "entered_column_at", "started_at", "done_at", "version", "board_version", "updated_at",
        ])
        event.save()
        return MoveResult(ticket, rows + 3, warning)


def _neighbour_keys(ticket, target, after_id, before_id, position):
    others = Ticket.objects.filter(column=target).exclude(pk=ticket.pk)
    ranks = others.order_by("rank").values_list("rank", flat=True)
    desc = others.order_by("-rank").values_list("rank", flat=True)
    if position == "top":
        return None, ranks.first()
    if position == "bottom":
        return desc.first(), None
    if position in ("up", "down"):
        if target.pk != ticket.column_id:
            raise ValidationError({"position": "Up and down move a card within its column."})
        if position == "up":
            above = list(desc.filter(rank__lt=ticket.rank)[:2])
            if not above:
                return None, ranks.first()  # already on top: stays
            return (above[1] if len(above) > 1 else None), above[0]
        below = list(ranks.filter(rank__gt=ticket.rank)[:2])
        if not below:
            return desc.first(), None
        return below[0], (below[1] if len(below) > 1 else None)
    if position not in (None, ""):
        raise ValidationError({"position": "Position is top, bottom, up or down."})
    # One query for the anchor and its true neighbour: the anchor's key comes
    # from a subquery, so a missing anchor gives no rows or another card.
    if after_id:
        anchor = others.filter(pk=after_id).values("rank")[:1]
        rows = list(others.filter(rank__gte=Subquery(anchor)).order_by("rank").values_list("pk", "rank")[:2])
        if not rows or rows[0][0] != after_id:
            raise ValidationError({"after": "The card above the drop point is no longer in that column."})
        return rows[0][1], (rows[1][1] if len(rows) > 1 else None)
    if before_id:
        anchor = others.filter(pk=before_id).values("rank")[:1]
        rows = list(others.filter(rank__lte=Subquery(anchor)).order_by("-rank").values_list("pk", "rank")[:2])
        if not rows or rows[0][0] != before_id:
            raise ValidationError({"before": "The card below the drop point is no longer in that column."})
        return (rows[1][1] if len(rows) > 1 else None), rows[0][1]
    return None, ranks.first()


def _rebalance(column: Column, moving: Ticket, prev_key: str | None) -> tuple[str, int]:
    """Re-key one column evenly, keeping its order and inserting `moving` after
    prev_key. Runs under the board lock. Two passes through temporary keys
    (“~” sorts after every base-62 digit) keep (column, rank) unique at
    every statement. Returns the moving card's new key and rows written."""
    others = list(Ticket.objects.filter(column=column).exclude(pk=moving.pk).order_by("rank").only("id", "rank"))
    insert_at = 0 if prev_key is None else next(i + 1 for i, t in enumerate(others) if t.rank == prev_key)
    keys = generate_n_keys_between(None, None, len(others) + 1)
    new_key = keys.pop(insert_at)
    # A card moving within the column still holds its old key, which may be
    # one of the new keys: park it too (it gets new_key when it is saved).
    parked = Ticket.objects.filter(pk=moving.pk, column=column).update(rank="~")
    for i, t in enumerate(others):
        t.rank = f"~{i}"
    Ticket.objects.bulk_update(others, ["rank"], batch_size=500)
    for t, key in zip(others, keys):
        t.rank = key
    Ticket.objects.bulk_update(others, ["rank"], batch_size=500)
    return new_key, 2 * len(others) + parked


@transaction.atomic
def comment_add(*, board: Board, ticket_id: int, author, body: str) -> Comment:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "A comment cannot be empty."})
    if len(body) > 20_000:
        raise ValidationError({"body": "A comment is at most 20,000 characters."})
    board = _lock_board(board.pk)
    ticket = Ticket.objects.get(pk=ticket_id, board=board)
    comment = Comment.objects.create(ticket=ticket, author=author, body=body)
    version = _bump(board)
    Ticket.objects.filter(pk=ticket.pk).update(board_version=version)
    excerpt = body if len(body) <= 120 else body[:120] + "…"
    _event(ticket, author, "comment", None, str(comment.pk), "", excerpt, board_version=version).save()
    return comment
