"""Every write on a board: one function per user intention.

Each service runs in one transaction, takes the board row lock first (so all
writes on one board are serialised and ranks can never collide), records a
TicketEvent for each ticket field it changes and bumps Board.version, which
open boards poll to pick up changes. Views, the API, tasks and commands call
these; nothing else writes board data.
"""

from .boards import (
    WORKFLOW_TEMPLATES, board_create, board_update, column_create, column_delete, column_shift, column_update,
    epic_create, label_create, label_delete, membership_add, membership_change_role, membership_remove,
    sprint_create,
)
from .common import TRACKED_FIELDS, Conflict, MoveRefused
from .tickets import MoveResult, TicketInput, comment_add, ticket_create, ticket_move, ticket_update

__all__ = [
    "TRACKED_FIELDS", "WORKFLOW_TEMPLATES", "Conflict", "MoveRefused", "MoveResult", "TicketInput",
    "board_create", "board_update", "column_create", "column_delete", "column_shift", "column_update",
    "comment_add", "epic_create", "label_create", "label_delete", "membership_add", "membership_change_role",
    "membership_remove", "sprint_create", "ticket_create", "ticket_move", "ticket_update",
]
