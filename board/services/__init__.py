"""Every write on a board: one function per user intention.

Each service runs in one transaction, takes the board row lock first (so all
writes on one board are serialised and ranks can never collide), records a
TicketEvent for each ticket field it changes and bumps Board.version, which
open boards poll to pick up changes. Views, the API, the admin, tasks and
commands call these; nothing else writes board data. Deletions that reach
tickets from elsewhere (a cascade, the shell) are caught by board.signals,
which call the same functions.

`actor=` is the person who acts, or a `Writer` for system writers (a training
run, the API, an import, the admin), which history names instead.
"""

from .boards import (
    WORKFLOW_TEMPLATES,
    board_create,
    board_purge,
    board_update,
    column_create,
    column_delete,
    column_shift,
    column_update,
    epic_create,
    epic_delete,
    label_create,
    label_delete,
)
from .common import TRACKED_FIELDS, Conflict, MoveRefused, Writer, writing_as
from .members import (
    NO_ACCOUNT_FOR_EMAIL,
    invitation_accept,
    invitation_cancel,
    invitation_create,
    invitation_decline,
    membership_change_role,
    membership_grant,
    membership_remove,
)
from .sprints import (
    sprint_close,
    sprint_create,
    sprint_default_dates,
    sprint_delete,
    sprint_plan,
    sprint_start,
    sprint_update,
)
from .tickets import (
    MoveResult,
    TicketInput,
    comment_add,
    ticket_archive,
    ticket_changes_check,
    ticket_create,
    ticket_delete,
    ticket_move,
    ticket_patch,
    ticket_restore,
    ticket_update,
    tickets_drop_label,
    tickets_note_member_left,
    tickets_unlink,
)

__all__ = [
    "TRACKED_FIELDS", "WORKFLOW_TEMPLATES", "Conflict", "MoveRefused", "MoveResult", "TicketInput", "Writer",
    "board_create", "board_purge", "board_update", "column_create", "column_delete", "column_shift", "column_update",
    "NO_ACCOUNT_FOR_EMAIL", "comment_add", "epic_create", "epic_delete", "invitation_accept", "invitation_cancel",
    "invitation_create", "invitation_decline", "label_create", "label_delete", "membership_change_role",
    "membership_grant", "membership_remove", "sprint_create", "sprint_delete", "ticket_archive",
    "ticket_changes_check", "ticket_create", "ticket_delete", "ticket_move", "ticket_patch", "ticket_restore",
    "ticket_update",
    "tickets_drop_label", "tickets_note_member_left", "tickets_unlink", "writing_as",
    "sprint_close", "sprint_default_dates", "sprint_plan", "sprint_start", "sprint_update",
]
