"""The one access policy for boards, used by views and the API alike.

A non-member gets 404 for a board and everything under it (no leak that it
exists); a member whose role is too low for a write gets 403.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Board, Membership

ROLE_RANK = {Membership.Role.VIEWER: 0, Membership.Role.MEMBER: 1, Membership.Role.OWNER: 2}

READ = Membership.Role.VIEWER
WRITE_CARDS = Membership.Role.MEMBER
ADMIN = Membership.Role.OWNER


def membership_for(user, board_id) -> Membership:
    """The user's membership with its board (one query), or 404."""
    if not user.is_authenticated:
        raise Http404("No such board.")
    try:
        board_id = int(board_id)
    except (TypeError, ValueError):
        raise Http404("No such board.") from None
    if not 0 < board_id < 2**63:  # out of range for the database (SQLite raises OverflowError)
        raise Http404("No such board.")
    try:
        # the board's pulse (running jobs' progress) comes along: the poll needs no other query
        return Membership.objects.select_related("board", "board__pulse").get(board_id=board_id, user=user)
    except Membership.DoesNotExist:
        raise Http404("No such board.") from None


def board_for(user, board_id, *, needs: str = READ) -> tuple[Board, Membership]:
    membership = membership_for(user, board_id)
    if ROLE_RANK[membership.role] < ROLE_RANK[needs]:
        raise PermissionDenied(
            "Viewers can look but not change this board." if needs == WRITE_CARDS
            else "Only the board's owners can do that."
        )
    return membership.board, membership


def can(membership: Membership | None, needs: str) -> bool:
    return membership is not None and ROLE_RANK[membership.role] >= ROLE_RANK[needs]
