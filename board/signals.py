"""Deletions that reach tickets, wherever they come from.

Services delete sprints, epics, labels and memberships with the writer set
(services.writing_as); the admin does the same. A deletion from anywhere else
(the shell, a cascade from deleting a user) still lands here, so no ticket
loses a link without an event; its writer is then "system".
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from . import services
from .models import Epic, EventSource, Label, Membership, Sprint, Ticket
from .services.common import current_writer


def _writer() -> services.Writer:
    return current_writer.get() or services.Writer(source=EventSource.SYSTEM)


@receiver(pre_delete, sender=Epic, dispatch_uid="board.epic_deleted")
def epic_deleted(sender, instance, **kwargs):
    services.tickets_unlink(board_id=instance.board_id, field="epic", obj=instance, actor=_writer())


@receiver(pre_delete, sender=Sprint, dispatch_uid="board.sprint_deleted")
def sprint_deleted(sender, instance, **kwargs):
    services.tickets_unlink(board_id=instance.board_id, field="sprint", obj=instance, actor=_writer())


@receiver(pre_delete, sender=Label, dispatch_uid="board.label_deleted")
def label_deleted(sender, instance, **kwargs):
    services.tickets_drop_label(label=instance, actor=_writer())


@receiver(pre_delete, sender=Membership, dispatch_uid="board.member_left")
def member_left(sender, instance, **kwargs):
    services.tickets_note_member_left(membership=instance, actor=_writer())


@receiver(pre_delete, sender=get_user_model(), dispatch_uid="board.user_deleted")
def user_deleted(sender, instance, **kwargs):
    board_ids = Ticket.objects.filter(assignee=instance).values_list("board_id", flat=True).distinct()
    for board_id in sorted(board_ids):
        services.tickets_unlink(board_id=board_id, field="assignee", obj=instance, actor=_writer())
