"""The one access policy for boards, used by views and the API alike.

A non-member gets 404 for a board and everything under it (no leak that it
exists); a member whose role is too low for a write gets 403.
"""

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404

from . import rows
from .models import Board, BoardPulse, Membership

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
    with connection.cursor() as cursor:
        cursor.execute(_MEMBERSHIP_SQL, [board_id, user.pk])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such board.")
    values = iter(row)
    membership = rows.instance(Membership, rows.take(values, Membership))
    membership.board = rows.instance(Board, rows.take(values, Board))
    membership.user = user
    # the board's pulse (running jobs' progress) comes along: the poll needs no other query
    _PULSE.set_cached_value(membership.board, rows.instance(BoardPulse, rows.take(values, BoardPulse)))
    return membership


# Every request on a board runs this: written by hand, as the ORM's
# select_related("board", "board__pulse") cost three times as much to compile
# as to run. board.rows builds the same instances.
_MEMBERSHIP_SQL = (
    f"SELECT {rows.select_list(Membership, 'm')}, {rows.select_list(Board, 'b')}, {rows.select_list(BoardPulse, 'p')} "
    "FROM board_membership m JOIN board_board b ON b.id = m.board_id "
    "LEFT JOIN board_boardpulse p ON p.board_id = b.id "
    "WHERE m.board_id = %s AND m.user_id = %s"
)
_PULSE = Board._meta.get_field("pulse")  # the reverse one-to-one, whose cache select_related fills


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
