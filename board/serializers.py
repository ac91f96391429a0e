from rest_framework import serializers

from .models import Board, Column, Ticket


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
