"""Tickets: create, edit, move, comment."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone
from fractional_indexing import generate_key_between, generate_n_keys_between

from board.models import Board, Column, Comment, Epic, Membership, Sprint, Ticket, TicketEvent

from .common import (
    TRACKED_FIELDS, Conflict, MoveRefused, bump_version, enter_column, field_value, key_after_last, lock_board,
    new_event,
)

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
    board = lock_board(board.pk)
    _check_belongs(board, data)
    if column is None:
        column = board.columns.order_by("position", "id").first()
    elif column.board_id != board.pk:
        raise ValidationError({"column": "That column belongs to another board."})
    now = at or timezone.now()
    board.ticket_seq += 1
    Board.objects.filter(pk=board.pk).update(ticket_seq=board.ticket_seq)
    version = bump_version(board)
    ticket = Ticket(
        board=board, number=board.ticket_seq, rank=key_after_last(column.pk), created_by=actor,
        created_at=now, updated_at=now, board_version=version,
        **{f: getattr(data, f) for f in TRACKED_FIELDS if f != "labels"},
    )
    ticket.title = ticket.title.strip()
    if not ticket.blocked:
        ticket.blocked_reason = ""
    enter_column(ticket, column, now)
    ticket.save()
    if data.labels:
        ticket.labels.set(data.labels)
    events = [new_event(ticket, actor, "created", None, None, "", "", at=now, board_version=version),
              new_event(ticket, actor, "column", None, str(column.pk), "", column.name, at=now, board_version=version)]
    for field in TRACKED_FIELDS:
        new, new_display = field_value(ticket, field)
        if new not in (None, ""):
            events.append(new_event(ticket, actor, field, None, new, "", new_display, at=now, board_version=version))
    TicketEvent.objects.bulk_create(events)
    return ticket


@transaction.atomic
def ticket_update(*, ticket_id: int, board: Board, actor, expected_version: int, data: TicketInput) -> Ticket:
    """Apply an edit; one event per field that really changed."""
    board = lock_board(board.pk)
    ticket = Ticket.objects.select_related("assignee", "epic", "sprint").get(pk=ticket_id, board=board)
    if ticket.version != expected_version:
        raise Conflict("Someone else changed this card while you were editing it. Your edit was not saved; the card now shows their version.")
    _check_belongs(board, data)
    before = {field: field_value(ticket, field) for field in TRACKED_FIELDS}
    for field in TRACKED_FIELDS:
        if field != "labels":
            setattr(ticket, field, getattr(data, field))
    ticket.title = ticket.title.strip()
    if not ticket.blocked:
        ticket.blocked_reason = ""
    labels_before = set(ticket.labels.values_list("pk", flat=True))
    if labels_before != {label.pk for label in data.labels}:
        ticket.labels.set(data.labels)
    # field_value reads labels through the manager: drop its cache after set().
    ticket._prefetched_objects_cache = {}
    now = timezone.now()
    changes = []
    for field in TRACKED_FIELDS:
        after = field_value(ticket, field)
        if after[0] != before[field][0]:
            changes.append((field, before[field], after))
    if not changes:
        return ticket
    version = bump_version(board)
    ticket.version += 1
    ticket.board_version = version
    ticket.updated_at = now
    ticket.save()
    TicketEvent.objects.bulk_create(
        new_event(ticket, actor, field, old[0], new[0], old[1], new[1], at=now, board_version=version)
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
        board = target.board if target is not None else lock_board(board.pk)
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
        version = bump_version(board, layout=rows > 0)
        now = timezone.now()
        old_column, old_rank = ticket.column, ticket.rank
        if changes_column:
            enter_column(ticket, target, now)
            event = new_event(ticket, actor, "column", str(old_column.pk), str(target.pk), old_column.name, target.name,
                           at=now, board_version=version)
        else:
            event = new_event(ticket, actor, "rank", old_rank, new_rank, "", "", at=now, board_version=version)
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
    board = lock_board(board.pk)
    ticket = Ticket.objects.get(pk=ticket_id, board=board)
    comment = Comment.objects.create(ticket=ticket, author=author, body=body)
    version = bump_version(board)
    Ticket.objects.filter(pk=ticket.pk).update(board_version=version)
    excerpt = body if len(body) <= 120 else body[:120] + "…"
    new_event(ticket, author, "comment", None, str(comment.pk), "", excerpt, board_version=version).save()
    return comment
