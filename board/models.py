"""Boards, members, columns, tickets and their history.

Every write goes through board.services; models hold data and invariants only.
"""

from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class RankField(models.CharField):
    """A fractional-index key: mixed-case base-62, ordered bytewise.

    PostgreSQL databases with a linguistic locale compare case-insensitively
    first and would scramble 'B0' < 'Zz' < 'a0'; the "C" collation compares
    bytes. SQLite compares bytes already.
    """

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


class Board(models.Model):
    class Template(models.TextChoices):
        ML_SPRINT = "ml_sprint", "ML sprint"
        SIMPLE = "simple", "Simple"

    class WipMode(models.TextChoices):
        WARN = "warn", "Warn when a column is over its limit"
        HARD = "hard", "Refuse moves into a full column"

    name = models.CharField(max_length=120)
    template = models.CharField(max_length=20, choices=Template.choices, default=Template.ML_SPRINT)
    wip_mode = models.CharField(max_length=10, choices=WipMode.choices, default=WipMode.WARN)
    key = models.CharField(
        max_length=8, default="MLK", help_text="Prefix of ticket numbers, e.g. MLK-12."
    )
    # Bumped by every write on the board; open boards poll it (see README).
    version = models.BigIntegerField(default=0)
    # Bumped when columns, members or settings change: clients reload the page.
    layout_version = models.BigIntegerField(default=0)
    ticket_seq = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"
        VIEWER = "viewer", "Viewer"

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["board", "user"], name="membership_unique_user")]
        # Orderings name columns, not relations: "board" would join the board
        # table into every query to sort by its name.
        ordering = ["board_id", "user_id"]

    def __str__(self):
        return f"{self.user} ({self.role}) on {self.board}"


class Column(models.Model):
    class Category(models.TextChoices):
        TODO = "todo", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=60)
    position = models.PositiveIntegerField(default=0)
    # Where the column sits in the flow: timeboxes run in "in progress",
    # cycle time ends in "done".
    category = models.CharField(max_length=12, choices=Category.choices, default=Category.IN_PROGRESS)
    wip_limit = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["board_id", "position", "id"]

    def __str__(self):
        return f"{self.board}: {self.name}"

    @property
    def is_done(self) -> bool:
        return self.category == self.Category.DONE


# Colours end up in a style attribute: only #rrggbb, even through the admin.
hex_color = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1f7a8c.")


class Label(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=40)
    color = models.CharField(max_length=7, default="#6b7280", validators=[hex_color])

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["board", "name"], name="label_unique_name")]

    def __str__(self):
        return self.name


class Epic(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="epics")
    name = models.CharField(max_length=80)
    color = models.CharField(max_length=7, default="#7c3aed", validators=[hex_color])

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["board", "name"], name="epic_unique_name")]

    def __str__(self):
        return self.name


class Sprint(models.Model):
    class State(models.TextChoices):
        PLANNED = "planned", "Planned"
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="sprints")
    name = models.CharField(max_length=80)
    goal = models.TextField(blank=True)
    start = models.DateField()
    end = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PLANNED)

    class Meta:
        ordering = ["-start", "id"]
        constraints = [models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="sprint_end_after_start")]

    def __str__(self):
        return self.name


class Ticket(models.Model):
    class Kind(models.TextChoices):
        STORY = "story", "Story"
        BUG = "bug", "Bug"
        RESEARCH = "research", "Research"
        EXPERIMENT = "experiment", "Experiment"
        CHORE = "chore", "Chore"

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="tickets")
    number = models.PositiveIntegerField()
    column = models.ForeignKey(Column, on_delete=models.PROTECT, related_name="tickets")
    rank = RankField(max_length=64)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.STORY)
    points = models.PositiveSmallIntegerField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="tickets")
    epic = models.ForeignKey(Epic, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    sprint = models.ForeignKey(Sprint, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    timebox_days = models.PositiveSmallIntegerField(default=3)
    blocked = models.BooleanField(default=False)
    blocked_reason = models.CharField(max_length=200, blank=True)
    entered_column_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    # Optimistic lock: a write names the version it saw; a stale one gets 409.
    version = models.PositiveIntegerField(default=1)
    # The board version of this ticket's last change: lets a poll fetch
    # exactly the cards changed since the version a client holds.
    board_version = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["column_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["column", "rank"], name="ticket_unique_rank_in_column"),
            models.UniqueConstraint(fields=["board", "number"], name="ticket_unique_number"),
        ]
        indexes = [models.Index(fields=["board", "board_version"], name="ticket_board_version")]

    def __str__(self):
        return f"{self.key} {self.title}"

    @property
    def key(self) -> str:
        return f"{self.board.key}-{self.number}"

    def age_in_column(self, now=None):
        return (now or timezone.now()) - self.entered_column_at

    def timebox_exceeded(self, now=None) -> bool:
        """In progress (started, not done) for longer than its timebox."""
        if self.started_at is None or self.done_at is not None:
            return False
        return (now or timezone.now()) - self.started_at > timedelta(days=self.timebox_days)


class TicketEvent(models.Model):
    """Append-only history of a ticket; replaying it rebuilds the ticket.

    Values are stored as text: ids for relations (labels as sorted,
    comma-separated ids), numbers and booleans as their str(). The *_display
    columns keep what a person saw at the time, so history still reads right
    after a column or user is renamed or deleted.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    field = models.CharField(max_length=30)
    old = models.TextField(null=True, blank=True)
    new = models.TextField(null=True, blank=True)
    old_display = models.TextField(blank=True)
    new_display = models.TextField(blank=True)
    board_version = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="event_ticket_at")]

    def __str__(self):
        return f"{self.ticket_id} {self.field}: {self.old_display} → {self.new_display}"


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Comment by {self.author} on {self.ticket_id}"
