from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import Board, Column, Ticket

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
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True)
    labels = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id", "key", "number", "column", "rank", "title", "description", "kind", "points", "assignee",
            "labels", "epic", "sprint", "timebox_days", "blocked", "blocked_reason", "entered_column_at",
            "started_at", "done_at", "version",
        ]


class MoveSerializer(serializers.Serializer):
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

    def __init__(self, *args, board, **kwargs):
        super().__init__(*args, **kwargs)
        self.board = board

    def validate_assignee(self, value):
        if not value:
            return None
        user = User.objects.filter(username=value, memberships__board=self.board).first()
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
