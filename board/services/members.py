"""Who is on a board: invitations people accept, roles, removal.

Nobody joins a board without saying yes. An owner invites one account
(`invitation_create`): an identifier with an "@" names an account's email
address, anything else a username, both ignoring case, and never one for the
other (a username that looks like someone's email must not catch their
invitation). The invitee accepts (`invitation_accept`, which makes the
membership) or declines; an owner can cancel. Until the invitee accepts, the
board's owners see only what they typed, never the account's name.

`membership_grant` skips the question: it is for trusted setup code only
(seed_demo, run by the installation's operator), never for a request.

Every write runs in one transaction under the board lock and bumps
Board.version; a change of members bumps layout_version too.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from board.models import Board, Invitation, Membership

from .boards import _bump_layout
from .common import Writer, bump_version, lock_board, writing_as

User = get_user_model()

NO_ACCOUNT_FOR_EMAIL = "No account uses that email address yet: ask them to sign up first, then invite them again."


def _clean_role(role: str) -> None:
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose owner, member or viewer."})


def _invitee(identifier: str):
    """The one active account an identifier names: an email address matches
    only accounts' emails, anything else only usernames (ignoring case)."""
    people = User.objects.filter(is_active=True)
    if "@" in identifier:
        matches = list(people.filter(email__iexact=identifier).order_by("id")[:2])
        if not matches:
            raise ValidationError({"identifier": NO_ACCOUNT_FOR_EMAIL})
        if len(matches) > 1:
            # Sign-up refuses a second account per email; the admin does not.
            raise ValidationError({"identifier": "Several accounts use that email address: invite them by username."})
        return matches[0]
    matches = list(people.filter(username__iexact=identifier).order_by("id")[:2])
    exact = [user for user in matches if user.get_username() == identifier]
    if len(matches) == 1 or len(exact) == 1:
        return exact[0] if exact else matches[0]
    if not matches:
        raise ValidationError({"identifier": f"No account with the username “{identifier}”."})
    raise ValidationError({"identifier": f"Several usernames read “{identifier}” in some case: type it exactly."})


def _object_id(value, model) -> int:
    """An id the database can look up; anything else is an object that does not exist."""
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise model.DoesNotExist from None
    if not 0 < value < 2**63:
        raise model.DoesNotExist
    return value


# --- invitations -------------------------------------------------------------

@transaction.atomic
def invitation_create(*, board: Board, identifier: str, role: str, invited_by) -> Invitation:
    """An owner invites the account `identifier` names to `board` as `role`."""
    identifier = (identifier or "").strip()
    _clean_role(role)
    if not identifier:
        raise ValidationError({"identifier": "Enter a username or an email address."})
    if len(identifier) > Invitation._meta.get_field("identifier").max_length:
        raise ValidationError({"identifier": "That is too long for a username or an email address."})
    board = lock_board(board.pk)
    if not Membership.objects.filter(board=board, user=invited_by, role=Membership.Role.OWNER).exists():
        raise PermissionDenied("Only the board's owners can invite people.")
    user = _invitee(identifier)
    # The messages repeat what the owner typed and nothing of the account.
    if Membership.objects.filter(board=board, user=user).exists():
        raise ValidationError({"identifier": f"“{identifier}” is already on this board."})
    if Invitation.objects.filter(board=board, user=user).exists():
        raise ValidationError({"identifier": f"“{identifier}” has been invited already: the invitation is pending."})
    invitation = Invitation.objects.create(
        board=board, user=user, role=role, invited_by=invited_by, identifier=identifier
    )
    bump_version(board)
    return invitation


def _pending_for(invitation_id, user) -> Invitation:
    invitation_id = _object_id(invitation_id, Invitation)
    if user is None or not user.is_authenticated:
        raise Invitation.DoesNotExist
    return Invitation.objects.get(pk=invitation_id, user=user)


@transaction.atomic
def invitation_accept(*, invitation_id: int, user) -> Membership:
    """The invitee says yes: they join the board with the invited role.

    Raises Invitation.DoesNotExist for an invitation that is not theirs or
    not open any more (cancelled, answered, its board deleted)."""
    board = lock_board(_pending_for(invitation_id, user).board_id)
    invitation = _pending_for(invitation_id, user)  # again, under the lock: cancelled meanwhile?
    membership, _ = Membership.objects.get_or_create(board=board, user=user, defaults={"role": invitation.role})
    invitation.delete()
    bump_version(board, layout=True)
    return membership


@transaction.atomic
def invitation_decline(*, invitation_id: int, user) -> None:
    """The invitee says no: the invitation goes, and the owners can invite them again."""
    board = lock_board(_pending_for(invitation_id, user).board_id)
    _pending_for(invitation_id, user).delete()
    bump_version(board)


@transaction.atomic
def invitation_cancel(*, board: Board, invitation_id: int) -> None:
    """An owner withdraws a pending invitation."""
    invitation_id = _object_id(invitation_id, Invitation)
    board = lock_board(board.pk)
    Invitation.objects.get(pk=invitation_id, board=board).delete()
    bump_version(board)


# --- members -------------------------------------------------------------------

@transaction.atomic
def membership_grant(*, board: Board, user, role: str) -> Membership:
    """Put `user` on `board` without asking them.

    For trusted setup code only (seed_demo, run by the installation's
    operator): people who use the site join by accepting an invitation."""
    _clean_role(role)
    board = lock_board(board.pk)
    if Membership.objects.filter(board=board, user=user).exists():
        raise ValidationError({"user": f"{user.get_username()} is already on this board."})
    membership = Membership.objects.create(board=board, user=user, role=role)
    Invitation.objects.filter(board=board, user=user).delete()
    bump_version(board, layout=True)
    return membership


def _owner_count(board: Board) -> int:
    return Membership.objects.filter(board=board, role=Membership.Role.OWNER).count()


@transaction.atomic
def membership_change_role(*, board: Board, membership_id: int, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose owner, member or viewer."})
    board = lock_board(board.pk)
    membership = Membership.objects.get(pk=membership_id, board=board)
    if membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER and _owner_count(board) == 1:
        raise ValidationError({"role": "A board needs at least one owner: make someone else owner first."})
    membership.role = role
    membership.save(update_fields=["role"])
    bump_version(board, layout=True)
    return membership


@transaction.atomic
def membership_remove(*, board: Board, membership_id: int, actor=None) -> None:
    """Remove a member. Their cards keep them as assignee and record that
    they left (board.signals, which also catches deletions elsewhere)."""
    board = lock_board(board.pk)
    membership = Membership.objects.get(pk=membership_id, board=board)
    if membership.role == Membership.Role.OWNER and _owner_count(board) == 1:
        raise ValidationError({"membership": "The last owner cannot be removed."})
    with writing_as(Writer.of(actor)):
        membership.delete()
    _bump_layout(board)
