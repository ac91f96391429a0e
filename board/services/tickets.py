"""Tickets: create, edit, move, comment, archive, delete."""

from __future__ import annotations

from dataclasses import dataclass, fields

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from fractional_indexing import generate_key_between, generate_n_keys_between

from board.models import Board, Column, Comment, Epic, Membership, Sprint, Ticket

from .common import (
    RELATIONS,
    TRACKED_FIELDS,
    Conflict,
    History,
    MoveRefused,
    column_event,
    display,
    enter_column,
    key_after_last,
    lock_board,
    relation_display,
)
from .move_sql import read_move, take_board, write_ticket


@dataclass
class TicketInput:
    """Values for a ticket's editable fields (a form's cleaned_data, or a
    ticket's current values from `from_ticket`)."""

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

    @classmethod
    def from_ticket(cls, ticket: Ticket) -> TicketInput:
        """The ticket as it is: the one place that reads a ticket into an input."""
        return cls(**{f.name: getattr(ticket, f.name) for f in fields(cls) if f.name != "labels"},
                   labels=tuple(ticket.labels.all()))

    def as_changes(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


LIMITS = {"title": 200, "description": 50_000, "blocked_reason": 200}
NUMBER_RANGES = {"points": (0, 100), "timebox_days": (1, 30)}


def _clean_changes(board: Board, ticket: Ticket | None, changes: dict) -> dict:
    """Validate the fields that change, and only those: a ticket whose
    assignee left the board stays editable. Returns the changes that really
    differ from the ticket, normalised (titles stripped, an unblocked ticket
    loses its reason). Raises one ValidationError naming every bad field."""
    unknown = sorted(set(changes) - set(TRACKED_FIELDS))
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in unknown})
    current = TicketInput.from_ticket(ticket).as_changes() if ticket is not None else TicketInput(title="").as_changes()
    errors: dict[str, str] = {}
    clean: dict = {}
    for name, value in changes.items():
        if name in LIMITS:
            value = "" if value is None else value
            if not isinstance(value, str):
                errors[name] = "Enter text."
                continue
            value = value.strip() if name != "description" else value
            if len(value) > LIMITS[name]:
                errors[name] = f"At most {LIMITS[name]:,} characters."
                continue
            if name == "title" and not value:
                errors[name] = "A ticket needs a title."
                continue
        elif name in NUMBER_RANGES:
            low, high = NUMBER_RANGES[name]
            if value is None and name == "points":
                pass
            elif isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors[name] = f"Enter a whole number from {low} to {high}."
                continue
        elif name == "kind":
            if value not in Ticket.Kind.values:
                errors[name] = "Choose story, bug, research, experiment or chore."
                continue
        elif name == "blocked":
            if not isinstance(value, bool):
                errors[name] = "Blocked is yes or no."
                continue
        elif name == "labels":
            value = tuple(sorted(set(value or ()), key=lambda label: label.pk))
            if any(label.board_id != board.pk for label in value):
                errors[name] = "A label belongs to another board."
                continue
        elif name in ("epic", "sprint"):
            if value is not None and value.board_id != board.pk:
                errors[name] = f"That {name} belongs to another board."
                continue
        clean[name] = value
    # Relations are checked only when they change (a departed assignee may stay).
    if "assignee" in clean:
        person = clean["assignee"]
        if person is not None and getattr(person, "pk", None) != getattr(current["assignee"], "pk", None):
            if not Membership.objects.filter(board=board, user=person).exists():
                errors["assignee"] = "The assignee must be a member of this board."
    blocked = clean.get("blocked", current["blocked"])
    reason = clean.get("blocked_reason", current["blocked_reason"])
    if not blocked and reason:
        clean["blocked_reason"] = ""
    elif blocked and not reason and ("blocked" in clean or "blocked_reason" in clean):
        errors["blocked_reason"] = "Say what blocks the ticket."
    if errors:
        raise ValidationError(errors)
    if ticket is None:
        return clean  # a new ticket: every value is new
    return {name: value for name, value in clean.items() if not _same(name, value, current[name])}


def ticket_changes_check(*, ticket: Ticket, changes: dict) -> None:
    """Validate changes without writing them (the admin's form uses it)."""
    _clean_changes(ticket.board, Ticket.objects.get(pk=ticket.pk), changes)


def _same(name: str, new, old) -> bool:
    if name == "labels":
        return {label.pk for label in new} == {label.pk for label in old}
    if name in RELATIONS:
        return getattr(new, "pk", None) == getattr(old, "pk", None)
    return new == old


def _record_changes(history: History, ticket: Ticket, changes: dict) -> None:
    """Apply changes to the ticket and record one event per field (one per
    label added or removed), in TRACKED_FIELDS order."""
    for name in TRACKED_FIELDS:
        if name not in changes:
            continue
        new = changes[name]
        if name == "labels":
            before = {label.pk: label for label in (ticket.labels.all() if ticket.pk else ())}
            after = {label.pk: label for label in new}
            removed = [before[pk] for pk in sorted(before.keys() - after.keys())]
            added = [after[pk] for pk in sorted(after.keys() - before.keys())]
            if removed:
                ticket.labels.remove(*removed)
            if added:
                ticket.labels.add(*added)
            for label in removed:
                history.add(ticket, "labels", label.pk, None, label.name, "")
            for label in added:
                history.add(ticket, "labels", None, label.pk, "", label.name)
            ticket._prefetched_objects_cache = {}
        elif name in RELATIONS:
            old = getattr(ticket, name) if ticket.pk else None
            setattr(ticket, name, new)
            history.add(ticket, name, getattr(old, "pk", None), getattr(new, "pk", None),
                        relation_display(name, old), relation_display(name, new))
        else:
            old = getattr(ticket, name) if ticket.pk else None
            setattr(ticket, name, new)
            history.add(ticket, name, old, new, display(name, old), display(name, new))


def _check_wip_on_entry(board: Board, column: Column, *, exclude_id=None) -> str:
    """A card is about to enter `column`: refuse it when a hard limit is
    reached, or return a warning when a soft one is passed."""
    if not column.wip_limit:
        return ""
    # counted only for columns with a limit: those hold few cards
    count = Ticket.objects.filter(column=column, archived_at__isnull=True).exclude(pk=exclude_id).count()
    return _wip_verdict(board, column, count)


def _wip_verdict(board: Board, column: Column, count: int | None) -> str:
    """With `count` active cards already in `column`: refuse one more at a hard
    limit, or warn past a soft one."""
    if not column.wip_limit or count is None or count < column.wip_limit:
        return ""
    if board.wip_mode == Board.WipMode.HARD:
        raise MoveRefused(
            f"“{column.name}” is at its WIP limit ({count}/{column.wip_limit}). Finish something there first."
        )
    return f"“{column.name}” is now over its WIP limit ({count + 1}/{column.wip_limit})."


@transaction.atomic
def ticket_create(*, board: Board, actor, data: TicketInput, column: Column | None = None, at=None) -> Ticket:
    """Create a ticket at the bottom of a column (the first column by default).
    Every initial value is an event, so that replay starts from nothing."""
    board = lock_board(board.pk)
    if column is None:
        column = board.columns.order_by("position", "id").first()
    elif column.board_id != board.pk:
        raise ValidationError({"column": "That column belongs to another board."})
    changes = _clean_changes(board, None, data.as_changes())
    _check_wip_on_entry(board, column)
    history = History(board, actor, at=at)
    board.ticket_seq += 1
    Board.objects.filter(pk=board.pk).update(ticket_seq=board.ticket_seq)
    ticket = Ticket(
        board=board, number=board.ticket_seq, rank=key_after_last(column.pk), created_by=history.writer.user,
        created_at=history.at, updated_at=history.at, title=changes["title"],
    )
    enter_column(ticket, column, history.at)
    for name, value in changes.items():
        if name != "labels":
            setattr(ticket, name, value)
    # Events first (each stamps the ticket with its board version), then one
    # INSERT of the ticket with the last of them: no UPDATE afterwards.
    history.add(ticket, "created", None, ticket.number, "", f"{board.key}-{ticket.number}", category=column.category)
    column_event(history, ticket, None, column)
    # Values equal to the model's defaults are recorded too: replay needs no defaults.
    initial = {name: value for name, value in changes.items() if value not in (None, "", ())}
    for name, value in initial.items():
        if name == "labels":
            for label in value:
                history.add(ticket, "labels", None, label.pk, "", label.name)
        elif name in RELATIONS:
            history.add(ticket, name, None, value.pk, "", relation_display(name, value))
        else:
            history.add(ticket, name, None, value, "", display(name, value))
    ticket.save()
    if "labels" in initial:
        ticket.labels.add(*initial["labels"])
    history.save()
    return ticket


@transaction.atomic
def ticket_patch(*, board: Board, ticket_id: int, actor, changes: dict, expected_version: int | None = None) -> Ticket:
    """The one entry for writers that are not forms (the API, training-run
    write-back, importers): change some fields, validating only those.
    `expected_version` (optional) refuses the write when the ticket moved on."""
    board = lock_board(board.pk)
    ticket = Ticket.objects.select_related("assignee", "epic", "sprint").get(pk=ticket_id, board=board)
    if expected_version is not None and ticket.version != expected_version:
        raise Conflict(
            "Someone else changed this card while you were editing it. Your edit was not saved; "
            "the card now shows their version."
        )
    changes = _clean_changes(board, ticket, changes)
    if not changes:
        return ticket
    history = History(board, actor)
    _record_changes(history, ticket, changes)
    ticket.version += 1
    ticket.updated_at = history.at
    ticket.save()
    history.save()
    return ticket


def ticket_update(*, ticket_id: int, board: Board, actor, expected_version: int, data: TicketInput) -> Ticket:
    """A form's edit: every field as the person left it; one event per field
    that really changed."""
    return ticket_patch(board=board, ticket_id=ticket_id, actor=actor, changes=data.as_changes(),
                        expected_version=expected_version)


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
        # The board's lock and its next version first; then one statement
        # reads the ticket, the target column and, for a drop, the keys
        # around the drop point (move_sql).
        if not take_board(board.pk):
            raise ValidationError({"board": "That board no longer exists."})
        anchored = not position
        read = read_move(board.pk, ticket_id, to_column_id,
                         after_id=after_id if anchored else None, before_id=before_id if anchored else None)
        board, ticket, target = read.board, read.ticket, read.target
        if ticket is None:
            raise ValidationError({"ticket": "That card is not on this board (it may have been deleted)."})
        if ticket.version != expected_version:
            raise Conflict("Someone else changed this card a moment ago; it has been refreshed. Try again.")
        if target is None:
            raise ValidationError({"column": "That column is not on this board (it may have been deleted)."})
        if ticket.archived_at is not None:
            raise ValidationError({"ticket": "This card is archived: restore it before moving it."})
        if target.pk == ticket.column_id:
            target = ticket.column
        changes_column = target.pk != ticket.column_id
        warning = _wip_verdict(board, target, read.wip_count) if changes_column else ""
        if anchored:
            prev_key, next_key = _checked_neighbours(read, after_id, before_id)
        else:
            prev_key, next_key = _neighbour_keys(ticket, target, position)
        if not changes_column and (prev_key is None or prev_key < ticket.rank) and (
            next_key is None or ticket.rank < next_key
        ):
            transaction.set_rollback(True)  # the version taken with the lock goes back
            return MoveResult(ticket, 0)  # dropped where it was: nothing to record
        rows = 0
        new_rank = generate_key_between(prev_key, next_key)
        if len(new_rank) > settings.RANK_MAX_LENGTH:
            new_rank, rows = _rebalance(target, ticket, prev_key)
        # Re-keyed cards change place on every open board, and "load more"
        # pages by rank: a rebalance (rare) makes open boards reload.
        history = History(board, actor, layout=rows > 0, version_taken=True)
        old_column, old_rank = ticket.column, ticket.rank
        ticket.rank = new_rank
        if changes_column:
            enter_column(ticket, target, history.at)
            column_event(history, ticket, old_column, target)
        else:
            history.add(ticket, "rank", old_rank, new_rank, rank=new_rank)
        ticket.version += 1
        ticket.updated_at = history.at
        write_ticket(ticket)
        history.save()
        return MoveResult(ticket, rows + (4 if rows else 3), warning)


def _checked_neighbours(read, after_id, before_id) -> tuple[str | None, str | None]:
    """The keys read_move found around the drop point; an anchor that is no
    longer in the target column (moved, deleted, or the card itself) is refused."""
    if after_id and read.prev_key is None:
        raise ValidationError({"after": "The card above the drop point is no longer in that column."})
    if not after_id and before_id and read.next_key is None:
        raise ValidationError({"before": "The card below the drop point is no longer in that column."})
    return read.prev_key, read.next_key


def _neighbour_keys(ticket, target, position):
    """The keys around a keyboard move: to the top or bottom, one up or down."""
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
    raise ValidationError({"position": "Position is top, bottom, up or down."})


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
    for t, key in zip(others, keys, strict=True):
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
    history = History(board, author)
    comment = Comment.objects.create(ticket=ticket, author=history.writer.user, body=body, created_at=history.at)
    excerpt = body if len(body) <= 120 else body[:120] + "…"
    history.add(ticket, "comment", None, comment.pk, "", excerpt)
    Ticket.objects.filter(pk=ticket.pk).update(board_version=ticket.board_version)
    history.save()
    return comment


# --- archive, restore, delete -----------------------------------------------

def _locked_ticket(board: Board, ticket_id: int, expected_version: int | None) -> tuple[Board, Ticket]:
    board = lock_board(board.pk)
    ticket = Ticket.objects.select_related("column").get(pk=ticket_id, board=board)
    if expected_version is not None and ticket.version != expected_version:
        raise Conflict("Someone else changed this card a moment ago; it has been refreshed. Try again.")
    return board, ticket


def ticket_archive(*, board: Board, ticket_id: int, actor, expected_version: int | None = None) -> Ticket:
    """Take a card off the board: hidden from columns and WIP counts, kept in
    its history and in every chart of the past."""
    return _set_archived(board, ticket_id, actor, expected_version, archived=True)


def ticket_restore(*, board: Board, ticket_id: int, actor, expected_version: int | None = None) -> Ticket:
    """Put an archived card back in its column (a hard WIP limit applies)."""
    return _set_archived(board, ticket_id, actor, expected_version, archived=False)


@transaction.atomic
def _set_archived(board: Board, ticket_id: int, actor, expected_version: int | None, *, archived: bool) -> Ticket:
    board, ticket = _locked_ticket(board, ticket_id, expected_version)
    if (ticket.archived_at is not None) == archived:
        return ticket
    if not archived:
        _check_wip_on_entry(board, ticket.column, exclude_id=ticket.pk)
    history = History(board, actor)
    ticket.archived_at = history.at if archived else None
    history.add(ticket, "archived", not archived, archived, display("archived", not archived),
                display("archived", archived))
    ticket.version += 1
    ticket.updated_at = history.at
    ticket.save(update_fields=["archived_at", "version", "board_version", "updated_at"])
    history.save()
    return ticket


@transaction.atomic
def ticket_delete(*, board: Board, ticket_id: int, actor, confirm: str) -> None:
    """Delete a card for good (owners, after typing its key). Its comments go;
    its history stays, ending in a "deleted" event, so charts of the past
    still count it."""
    board, ticket = _locked_ticket(board, ticket_id, None)
    key = f"{board.key}-{ticket.number}"
    if (confirm or "").strip().upper() != key.upper():
        raise ValidationError({"confirm": f"Type {key} to confirm that this card and its comments go for good."})
    history = History(board, actor)
    history.add(ticket, "deleted", ticket.title, None, ticket.title, "")
    history.save()
    ticket.delete()


# --- deletions elsewhere that reach tickets ------------------------------------

def tickets_unlink(*, board_id: int, field: str, obj, actor) -> int:
    """Clear a relation (assignee, epic or sprint) on every ticket of a board
    that holds it, with an event each: the deletion of a sprint, an epic or a
    user. Called from services and from pre_delete signals."""
    board = lock_board(board_id)
    tickets = list(Ticket.objects.filter(board=board, **{field: obj}))
    if not tickets:
        return 0
    history = History(board, actor, layout=field != "assignee")
    for ticket in tickets:
        history.add(ticket, field, obj.pk, None, relation_display(field, obj), "—")
        ticket.version += 1
        ticket.updated_at = history.at
    Ticket.objects.bulk_update(tickets, ["version", "board_version", "updated_at"])
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(**{field: None})
    history.save()
    return len(tickets)


def tickets_drop_label(*, label, actor) -> int:
    """A label is being deleted: every ticket that carries it records its removal."""
    board = lock_board(label.board_id)
    tickets = list(label.tickets.all())
    history = History(board, actor, layout=True)
    for ticket in tickets:
        history.add(ticket, "labels", label.pk, None, label.name, "")
        ticket.version += 1
        ticket.updated_at = history.at
    if tickets:
        Ticket.objects.bulk_update(tickets, ["version", "board_version", "updated_at"])
        label.tickets.clear()
    history.save()
    return len(tickets)


def tickets_note_member_left(*, membership, actor) -> int:
    """A member is leaving: their cards keep them as assignee (the work was
    theirs), and each records that they left, so the history explains why the
    name is no longer on the board's list."""
    board = lock_board(membership.board_id)
    tickets = list(Ticket.objects.filter(board=board, assignee_id=membership.user_id))
    if not tickets:
        return 0
    name = relation_display("assignee", membership.user)
    history = History(board, actor)
    for ticket in tickets:
        history.add(ticket, "member_left", membership.user_id, None, name, "")
    Ticket.objects.bulk_update(tickets, ["board_version"])
    history.save()
    return len(tickets)
