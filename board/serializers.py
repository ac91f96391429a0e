import functools

from django.contrib.auth import get_user_model
from django.db.models import Q
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from .models import Board, Column, Hypothesis, Ticket

User = get_user_model()


class ColumnSerializer(serializers.ModelSerializer):
    class Meta:
        model = Column
        fields = ["id", "name", "position", "category", "wip_limit"]


class BoardSerializer(serializers.ModelSerializer):
    columns = ColumnSerializer(many=True, read_only=True)

    class Meta:
        model = Board
        fields = ["id", "name", "key", "template", "wip_mode", "version", "columns"]


class TicketSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True,
                                            help_text="The assignee's username; null when no one is assigned.")
    labels = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id", "key", "number", "column", "rank", "title", "description", "kind", "points", "assignee",
            "labels", "epic", "sprint", "timebox_days", "blocked", "blocked_reason", "entered_column_at",
            "started_at", "done_at", "version",
        ]


_TICKET_ROW_FIELDS = [name for name in TicketSerializer.Meta.fields if name not in ("key", "assignee", "labels")]


@functools.cache
def _ticket_converters() -> tuple[list, list]:
    """TicketSerializer's fields' to_representation for the plain row values, and
    the relations, whose row value is already the primary key PrimaryKeyRelatedField
    gives. Built once: the fields keep no state between calls (DateTimeField reads
    the current time zone on each)."""
    fields = TicketSerializer().fields
    keys = [name for name in _TICKET_ROW_FIELDS if isinstance(fields[name], serializers.PrimaryKeyRelatedField)]
    return [(name, fields[name].to_representation) for name in _TICKET_ROW_FIELDS if name not in keys], keys


def ticket_rows(queryset):
    """The tickets of `queryset` as plain rows for ticket_representations (slice it to paginate)."""
    return queryset.values(*_TICKET_ROW_FIELDS, "assignee__username")


def ticket_representations(rows, board: Board) -> list[dict]:
    """What TicketSerializer(many=True) gives for the board's tickets, built
    from ticket_rows(): one more query for the label names, and no model
    instances. Building a model object, and running DRF's per-field machinery,
    per ticket cost ten times the queries on a page of 100. Each value still
    goes through TicketSerializer's own field, so the output is the
    serializer's (tests compare the two)."""
    converters, keys = _ticket_converters()
    labels: dict[int, list[str]] = {row["id"]: [] for row in rows}
    if labels:
        through = Ticket.labels.through.objects.filter(ticket_id__in=labels).order_by("label__name")
        for ticket_id, name in through.values_list("ticket_id", "label__name"):
            labels[ticket_id].append(name)
    out = []
    for row in rows:
        item = {"key": f"{board.key}-{row['number']}", "assignee": row["assignee__username"],
                "labels": labels[row["id"]], **{name: row[name] for name in keys}}
        for name, convert in converters:
            value = row[name]
            item[name] = None if value is None else convert(value)
        out.append({name: item[name] for name in TicketSerializer.Meta.fields})
    return out


class MoveResultSerializer(TicketSerializer):
    """The moved ticket, and a warning when the move went over a soft WIP limit."""

    warning = serializers.CharField(read_only=True, allow_null=True,
                                    help_text="Set when the move took a column over its WIP limit (soft limits).")

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "warning"]


class MoveSerializer(serializers.Serializer):
    """Where the ticket goes: a column, and either neighbours (`after`/`before`,
    ticket ids in that column) or a `position`; neither puts it at the top."""

    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    column = serializers.IntegerField(min_value=1, max_value=2**62)
    after = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62)
    before = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62)
    position = serializers.ChoiceField(required=False, allow_blank=True, choices=["top", "bottom", "up", "down"])


class TicketWriteSerializer(serializers.Serializer):
    """Create or edit a ticket. Relations are named the way people name them
    (usernames, label names) and must belong to the board; on an edit the
    client sends the version it read, and fields it leaves out keep their values."""

    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=50_000, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=Ticket.Kind.choices, required=False)
    points = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    assignee = serializers.CharField(max_length=150, required=False, allow_null=True, allow_blank=True)
    labels = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=50)
    epic = serializers.IntegerField(min_value=1, max_value=2**62, required=False, allow_null=True)
    sprint = serializers.IntegerField(min_value=1, max_value=2**62, required=False, allow_null=True)
    column = serializers.IntegerField(min_value=1, max_value=2**62, required=False)
    timebox_days = serializers.IntegerField(min_value=1, max_value=30, required=False)
    blocked = serializers.BooleanField(required=False)
    blocked_reason = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def __init__(self, *args, board, ticket=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.board = board
        self.ticket = ticket

    def validate_assignee(self, value):
        if not value:
            return None
        # A member, or the ticket's current assignee (who may have left the
        # board: sending the card back unchanged must not be refused).
        people = Q(memberships__board=self.board)
        if self.ticket is not None and self.ticket.assignee_id:
            people |= Q(pk=self.ticket.assignee_id)
        user = User.objects.filter(people, username=value).first()
        if user is None:
            raise serializers.ValidationError("The assignee must be a member of this board (give their username).")
        return user

    def validate_labels(self, value):
        labels = list(self.board.labels.filter(name__in=value))
        missing = sorted(set(value) - {label.name for label in labels})
        if missing:
            raise serializers.ValidationError(f"No such label on this board: {', '.join(missing)}.")
        return tuple(labels)

    def validate_epic(self, value):
        return self._board_item(self.board.epics, value, "epic")

    def validate_sprint(self, value):
        return self._board_item(self.board.sprints, value, "sprint")

    def validate_column(self, value):
        return self._board_item(self.board.columns, value, "column")

    @staticmethod
    def _board_item(manager, value, name):
        if value is None:
            return None
        item = manager.filter(pk=value).first()
        if item is None:
            raise serializers.ValidationError(f"No such {name} on this board.")
        return item


class TicketPatchSerializer(TicketWriteSerializer):
    """Change some fields of a ticket: send the `version` you read; fields you
    leave out keep their values. Moves go through the move endpoint."""

    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    title = serializers.CharField(max_length=200, required=False)
    column = None  # not editable here: see the move endpoint


class TicketPatchExtension(OpenApiSerializerExtension):
    """drf-spectacular marks every field of a PATCH body optional; this one needs `version`."""

    target_class = TicketPatchSerializer

    def get_name(self, auto_schema, direction):
        return "Ticket"  # drf-spectacular prefixes "Patched"

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["required"] = ["version"]
        return schema


# --- hypotheses -----------------------------------------------------------------

class HypothesisSerializer(serializers.ModelSerializer):
    """A claim a ticket tests, and what its runs say so far."""

    overridden = serializers.BooleanField(read_only=True, help_text="True when a person set the status by hand.")
    overridden_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Hypothesis
        fields = [
            "id", "ticket", "statement", "metric", "direction", "target", "baseline", "baseline_run", "status",
            "status_from_runs", "overridden", "override_reason", "overridden_by", "best_value", "best_run",
            "runs_tested", "decided_by_run", "created_at",
        ]
        read_only_fields = fields


class HypothesisCreateSerializer(serializers.Serializer):
    """A new hypothesis: the metric must reach the target (higher or lower is better);
    optionally a baseline to beat, and the run it was read from."""

    statement = serializers.CharField(max_length=300)
    metric = serializers.CharField(max_length=100, help_text="The metric key runs log, e.g. roc_auc.")
    direction = serializers.ChoiceField(choices=Hypothesis.Direction.choices, default=Hypothesis.Direction.HIGHER)
    target = serializers.FloatField()
    baseline = serializers.FloatField(required=False, allow_null=True)
    baseline_run = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62,
                                            help_text="The run (id) the baseline was read from; it must have "
                                                      "ended on this ticket.")


class HypothesisPatchSerializer(serializers.Serializer):
    """Override the status with a reason (`status` "" hands it back to the runs),
    and/or set the baseline (null clears it)."""

    status = serializers.ChoiceField(choices=Hypothesis.Status.choices, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)
    baseline = serializers.FloatField(required=False, allow_null=True)
    baseline_run = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62)


# --- error bodies (for the schema: the views build them) ------------------------

_MESSAGES = {"type": "array", "items": {"type": "string"}}
_FIELD_MESSAGES = {
    "oneOf": [_MESSAGES, {"type": "object", "additionalProperties": _MESSAGES}],
    "description": "Messages about one field; for a list field, possibly keyed by the index of each bad item.",
}


class ErrorSerializer(serializers.Serializer):
    """The request was refused as a whole (not signed in, not allowed, not found, a conflict, throttled)."""

    detail = serializers.CharField(help_text="Why, in words for people.")


class FieldErrors(serializers.Serializer):
    """Base of error bodies with one key per invalid field (see FieldErrorsExtension)."""


class FieldErrorsExtension(OpenApiSerializerExtension):
    """Error bodies keyed by field names: any other key holds that field's messages."""

    target_class = FieldErrors
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = _FIELD_MESSAGES
        return schema


class ValidationErrorSerializer(FieldErrors):
    """400: the body could not be read (`detail`) or some fields are invalid: each
    invalid field's name maps to its messages; `non_field_errors` is about the body as a whole."""

    detail = serializers.CharField(required=False, help_text="Set when the body is not valid JSON or form data.")
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)


class RefusalSerializer(FieldErrors):
    """422: well-formed, but a board rule refuses it (a non-member assignee, a
    column of another board, a missing version...): messages per field, or in `detail`."""

    detail = serializers.ListField(child=serializers.CharField(), required=False,
                                   help_text="Messages about the request as a whole.")
