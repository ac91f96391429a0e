"""Boards, members, columns, tickets and their history.

Every write goes through board.services; models hold data and invariants only.
"""

from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


def one_of(field: str, choices, name: str) -> models.CheckConstraint:
    """The database refuses a value the code never writes (a choice field's values)."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": [value for value, _ in choices]}), name=name)


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


class BoardTemplate(models.TextChoices):
    ML_SPRINT = "ml_sprint", "ML sprint"
    SIMPLE = "simple", "Simple"


class WipMode(models.TextChoices):
    WARN = "warn", "Warn when a column is over its limit"
    HARD = "hard", "Refuse moves into a full column"


class Board(models.Model):
    Template = BoardTemplate
    WipMode = WipMode

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
    # IANA name ("Europe/Berlin"); empty means the server's TIME_ZONE. Charts
    # and the standup count days in it.
    time_zone = models.CharField(max_length=64, blank=True, default="")
    # Where a card goes when a training run on it ends (None: it stays put);
    # only cards in an "in progress" column move.
    move_on_success = models.ForeignKey(
        "Column", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    move_on_failure = models.ForeignKey(
        "Column", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            one_of("template", BoardTemplate.choices, "board_template_valid"),
            one_of("wip_mode", WipMode.choices, "board_wip_mode_valid"),
        ]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    Role = Role

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["board", "user"], name="membership_unique_user"),
            one_of("role", Role.choices, "membership_role_valid"),
        ]
        # Orderings name columns, not relations: "board" would join the board
        # table into every query to sort by its name.
        ordering = ["board_id", "user_id"]

    def __str__(self):
        return f"{self.user} ({self.role}) on {self.board}"


class ColumnCategory(models.TextChoices):
    TODO = "todo", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"


class Column(models.Model):
    Category = ColumnCategory

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=60)
    position = models.PositiveIntegerField(default=0)
    # Where the column sits in the flow: timeboxes run in "in progress",
    # cycle time ends in "done".
    category = models.CharField(max_length=12, choices=Category.choices, default=Category.IN_PROGRESS)
    wip_limit = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["board_id", "position", "id"]
        constraints = [one_of("category", ColumnCategory.choices, "column_category_valid")]

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
        constraints = [models.UniqueConstraint("board", Lower("name"), name="label_unique_name_any_case")]

    def __str__(self):
        return self.name


class Epic(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="epics")
    name = models.CharField(max_length=80)
    color = models.CharField(max_length=7, default="#7c3aed", validators=[hex_color])

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint("board", Lower("name"), name="epic_unique_name_any_case")]

    def __str__(self):
        return self.name


class SprintState(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class Sprint(models.Model):
    State = SprintState

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="sprints")
    name = models.CharField(max_length=80)
    goal = models.TextField(blank=True)
    start = models.DateField()
    end = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PLANNED)
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Recorded when the sprint starts: the scope the team committed to.
    committed_points = models.PositiveIntegerField(null=True, blank=True)
    committed_tickets = models.JSONField(default=list, blank=True)
    # Recorded when the sprint closes; `series` freezes its charts.
    completed_points = models.PositiveIntegerField(null=True, blank=True)
    series = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="sprint_end_after_start"),
            one_of("state", SprintState.choices, "sprint_state_valid"),
            models.UniqueConstraint(fields=["board"], condition=Q(state="active"), name="sprint_one_active_per_board"),
        ]

    def __str__(self):
        return self.name


class TicketKind(models.TextChoices):
    STORY = "story", "Story"
    BUG = "bug", "Bug"
    RESEARCH = "research", "Research"
    EXPERIMENT = "experiment", "Experiment"
    CHORE = "chore", "Chore"


class Ticket(models.Model):
    Kind = TicketKind

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
    # Archived cards leave the board (and its WIP counts) but keep their history.
    archived_at = models.DateTimeField(null=True, blank=True)
    # Written by training runs through board.services.results only: the last
    # run, run counts, final metrics, sweeps and each hypothesis's standing,
    # so the card shows them without another query (see results.py).
    results = models.JSONField(default=dict, blank=True)
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
            one_of("kind", TicketKind.choices, "ticket_kind_valid"),
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


class HistoryIsAppendOnly(Exception):
    """Raised on any attempt to change or delete a TicketEvent."""


class TicketEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise HistoryIsAppendOnly("Ticket history cannot be changed.")

    def delete(self):
        raise HistoryIsAppendOnly("Ticket history cannot be deleted.")


class EventSource(models.TextChoices):
    PERSON = "person", "Person"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    IMPORT = "import", "Import"
    COMMAND = "command", "Command"
    RUN = "run", "Training run"
    SYSTEM = "system", "System"


class JsonInteger(models.Func):
    """A JSON column's value as an integer, computed by the database: a number
    (rounded on PostgreSQL), a boolean as 1/0, anything else NULL. Stored as
    generated columns on TicketEvent so that the charts read plain integers:
    converting JSON per row cost more than the rest of a chart's query."""

    output_field = models.BigIntegerField(null=True)
    arity = 1
    _TEMPLATES = {
        "postgresql": "CASE jsonb_typeof({c}) WHEN 'number' THEN ({c} #>> '{{}}')::numeric::bigint "
                      "WHEN 'boolean' THEN CASE WHEN {c}::text = 'true' THEN 1 ELSE 0 END END",
        "sqlite": "CASE json_type({c}) WHEN 'integer' THEN json_extract({c}, '$') "
                  "WHEN 'true' THEN 1 WHEN 'false' THEN 0 END",
    }

    def as_sql(self, compiler, connection, **extra):
        template = self._TEMPLATES.get(connection.vendor)
        if template is None:
            raise NotImplementedError(f"JsonInteger has no SQL for {connection.vendor}.")
        column, params = compiler.compile(self.source_expressions[0])
        return template.format(c=column), tuple(params) * template.count("{c}")


class TicketEvent(models.Model):
    """Append-only history of a board's tickets: the single source for replay,
    burndown, flow charts and the standup.

    Each event has its own `board_version`, unique within the board: the total
    order replay follows. Values are typed JSON: numbers, booleans, strings,
    ids for relations; a label change is one event per label (`new` the id
    added, or `old` the id removed). Column and rank events carry the rank the
    card got and the category of its column at that moment, so flow times
    ("started", "done on day d") can be rebuilt after a column is renamed,
    re-categorised or deleted. The *_display texts keep what people saw.

    The ticket and actor are plain ids without database constraints: a
    hard-deleted ticket or a deleted user keeps its history.
    """

    Source = EventSource

    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="events")
    ticket = models.ForeignKey(
        Ticket, on_delete=models.DO_NOTHING, db_constraint=False, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PERSON)
    # Who the system writer was, in words: "run 12", "seed_demo".
    source_detail = models.CharField(max_length=80, blank=True)
    at = models.DateTimeField(default=timezone.now)
    board_version = models.BigIntegerField()
    field = models.CharField(max_length=30)
    old = models.JSONField(null=True, blank=True)
    new = models.JSONField(null=True, blank=True)
    old_display = models.TextField(blank=True)
    new_display = models.TextField(blank=True)
    # new and old as integers (ids, points, booleans as 1/0) or NULL: what the charts read.
    new_int = models.GeneratedField(expression=JsonInteger("new"), output_field=models.BigIntegerField(null=True),
                                    db_persist=True)
    old_int = models.GeneratedField(expression=JsonInteger("old"), output_field=models.BigIntegerField(null=True),
                                    db_persist=True)
    # On column, category and creation events: the card's column category afterwards.
    # NULL, not "", on other events: "no category" is not an empty category.
    category = models.CharField(  # noqa: DJ001
        max_length=12, choices=ColumnCategory.choices, null=True, blank=True
    )
    # On column and rank events: the card's rank afterwards.
    rank = RankField(max_length=64, null=True, blank=True)

    objects = TicketEventQuerySet.as_manager()

    class Meta:
        ordering = ["board_version", "id"]
        constraints = [
            models.UniqueConstraint(fields=["board", "board_version"], name="event_unique_board_version"),
            one_of("source", EventSource.choices, "event_source_valid"),
            models.CheckConstraint(
                condition=Q(category__isnull=True) | Q(category__in=ColumnCategory.values),
                name="event_category_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["board", "at"], name="event_board_at"),
            models.Index(fields=["board", "field", "at"], name="event_board_field_at"),
            models.Index(fields=["ticket", "board_version"], name="event_ticket_version"),
            # The charts (board/charts.py) read only these fields: a covering index for them, so that
            # PostgreSQL answers from the index alone (about a third of the events, without the
            # scattered table rows). Key columns rather than INCLUDE, which SQLite cannot build.
            models.Index(
                fields=["board", "ticket", "board_version", "at", "field", "category", "new_int", "old_int"],
                condition=Q(field__in=["created", "column", "category", "points", "sprint", "archived", "deleted"]),
                name="event_chart_history",
            ),
        ]

    def __str__(self):
        return f"{self.ticket_id} {self.field}: {self.old_display} → {self.new_display}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise HistoryIsAppendOnly("Ticket history cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise HistoryIsAppendOnly("Ticket history cannot be deleted.")


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Comment by {self.author} on {self.ticket_id}"


class Invitation(models.Model):
    """An owner's offer of a role on a board; the person accepts or declines it.

    Nobody becomes a member of a board (and sees its cards and people) without
    saying yes."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the owner typed (a username or an email address): the board shows
    # this, not the account's name, until the person accepts.
    identifier = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["board_id", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["board", "user"], name="invitation_unique_user"),
            one_of("role", Role.choices, "invitation_role_valid"),
        ]

    def __str__(self):
        return f"{self.user} invited to {self.board} as {self.role}"


class BoardPulse(models.Model):
    """A counter bumped by progress ticks of running jobs, apart from the
    board row: ticks never take the board's lock, and the poll reads it in its
    one query (joined to the membership and board)."""

    board = models.OneToOneField(Board, on_delete=models.CASCADE, primary_key=True, related_name="pulse")
    version = models.BigIntegerField(default=0)

    def __str__(self):
        return f"pulse of {self.board_id}: {self.version}"


class HypothesisStatus(models.TextChoices):
    OPEN = "open", "Open"
    SUPPORTED = "supported", "Supported"
    REFUTED = "refuted", "Refuted"
    INCONCLUSIVE = "inconclusive", "Inconclusive"


class Direction(models.TextChoices):
    HIGHER = "higher", "Higher is better"
    LOWER = "lower", "Lower is better"


class Hypothesis(models.Model):
    """A measurable claim a ticket tests: "metric reaches target". Its status
    follows from the runs that test it (see services.results.verdict) unless a
    person overrides it with a reason."""

    Status = HypothesisStatus
    Direction = Direction

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="hypotheses")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="hypotheses")
    statement = models.CharField(max_length=300)
    metric = models.CharField(max_length=100)
    direction = models.CharField(max_length=6, choices=Direction.choices, default=Direction.HIGHER)
    target = models.FloatField()
    baseline = models.FloatField(null=True, blank=True)
    # The earlier run the baseline was taken from, by id and in words ("run 7").
    baseline_run = models.PositiveBigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    # What the runs say, kept apart so that clearing an override restores it.
    status_from_runs = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    override_reason = models.CharField(max_length=500, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    best_value = models.FloatField(null=True, blank=True)
    best_run = models.PositiveBigIntegerField(null=True, blank=True)
    runs_tested = models.PositiveIntegerField(default=0)
    decided_by_run = models.PositiveBigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["ticket_id", "id"]
        verbose_name_plural = "hypotheses"
        constraints = [
            one_of("status", HypothesisStatus.choices, "hypothesis_status_valid"),
            one_of("status_from_runs", HypothesisStatus.choices, "hypothesis_status_from_runs_valid"),
            one_of("direction", Direction.choices, "hypothesis_direction_valid"),
        ]

    def __str__(self):
        return self.statement

    @property
    def overridden(self) -> bool:
        return bool(self.override_reason)

    def meets(self, value: float) -> bool:
        return value >= self.target if self.direction == Direction.HIGHER else value <= self.target

    def better(self, value: float, than: float | None) -> bool:
        if than is None:
            return True
        return value > than if self.direction == Direction.HIGHER else value < than
