"""Chart data as JSON (the charts on the pages draw from these): burndown,
velocity, cumulative flow, estimation accuracy and the sprint forecast.

Reads, so viewers may call them. Query values are parsed strictly (ASCII
digits, ISO dates); anything else is a 400 with a message, a sprint of
another board a 404.
"""

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from . import charts
from .models import Sprint
from .permissions import READ, board_for
from .serializers import ErrorSerializer

DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class BadQuery(Exception):
    """A query parameter that cannot be read: answered with 400 and the message."""


def _text(request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadQuery(f"Give {name} once.")
    return values[0]


def _whole(request, name: str, *, default: int, low: int, high: int) -> int:
    value = _text(request, name)
    if value in (None, ""):
        return default
    if not DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise BadQuery(f"{name} is a whole number from {low} to {high}.")
    return int(value)


def _date(request, name: str) -> date | None:
    value = _text(request, name)
    if value in (None, ""):
        return None
    if not ISO_DATE.fullmatch(value):
        raise BadQuery(f"{name} is a date like 2026-03-01.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadQuery(f"{name} is not a real date.") from None


def _sprint(board, sprint_id) -> Sprint:
    """The board's sprint, or 404 (another board's sprint is no sprint here)."""
    try:
        sprint_id = int(sprint_id)
    except (TypeError, ValueError):
        raise Http404("No such sprint on this board.") from None
    if not 0 < sprint_id < 2**63:
        raise Http404("No such sprint on this board.")
    sprint = Sprint.objects.filter(pk=sprint_id, board=board).first()
    if sprint is None:
        raise Http404("No such sprint on this board.")
    sprint.board = board
    return sprint


class ChartApi(APIView):
    """Check the role (READ), read the query, compute, answer; bad query values are 400."""

    def get(self, request, board_id, **kwargs):
        board, _ = board_for(request.user, board_id, needs=READ)
        try:
            return Response(self.compute(request, board, **kwargs))
        except BadQuery as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        except ValidationError as error:
            return Response({"detail": " ".join(error.messages)}, status=status.HTTP_400_BAD_REQUEST)

    def compute(self, request, board, **kwargs) -> dict:
        raise NotImplementedError


# --- what the schema says -------------------------------------------------------

class CardRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    title = serializers.CharField()
    deleted = serializers.BooleanField(help_text="Deleted for good since (the history keeps it).")


class BurndownDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    remaining = serializers.IntegerField(help_text="Points (or cards) not done at the end of the day.")
    ideal = serializers.FloatField()
    weekend = serializers.BooleanField()
    added = CardRefSerializer(many=True, help_text="Cards that entered the sprint that day.")
    removed = CardRefSerializer(many=True, help_text="Cards that left the sprint that day.")


class IdealDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    ideal = serializers.FloatField()
    weekend = serializers.BooleanField()


class BurndownSerializer(serializers.Serializer):
    sprint = serializers.IntegerField()
    name = serializers.CharField()
    unit = serializers.ChoiceField(choices=["points", "tickets"])
    state = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    time_zone = serializers.CharField()
    scope_at_start = serializers.IntegerField()
    remaining = serializers.IntegerField()
    ideal_rule = serializers.CharField()
    points = BurndownDaySerializer(many=True, help_text="One per day from the start to the end or today.")
    ideal = IdealDaySerializer(many=True, help_text="The ideal line over the whole sprint.")
    frozen = serializers.BooleanField(help_text="Served from the series stored when the sprint closed.")


class VelocitySprintSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    state = serializers.CharField()
    active = serializers.BooleanField()
    start = serializers.DateField()
    end = serializers.DateField()
    committed = serializers.IntegerField()
    completed = serializers.IntegerField()
    committed_from_history = serializers.BooleanField()
    completed_from_history = serializers.BooleanField()


class VelocitySerializer(serializers.Serializer):
    sprints = VelocitySprintSerializer(many=True, help_text="Closed sprints, oldest first, then the active one.")
    average_completed = serializers.FloatField(allow_null=True)


class FlowColumnSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="Null for cards in columns deleted since.")
    name = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    counts = serializers.ListField(child=serializers.IntegerField(), help_text="Cards at the end of each day.")


class FlowSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    time_zone = serializers.CharField()
    days = serializers.ListField(child=serializers.DateField())
    columns = FlowColumnSerializer(many=True)
    totals = serializers.ListField(child=serializers.IntegerField())


class SpreadMixin(serializers.Serializer):
    count = serializers.IntegerField()
    median = serializers.FloatField(allow_null=True, help_text="Median days per point.")
    q1 = serializers.FloatField(allow_null=True)
    q3 = serializers.FloatField(allow_null=True)
    iqr = serializers.FloatField(allow_null=True, help_text="Interquartile range of days per point.")


class AccuracyGroupSerializer(SpreadMixin):
    group = serializers.ChoiceField(choices=["research", "delivery"])
    name = serializers.CharField()


class AccuracyKindSerializer(SpreadMixin):
    kind = serializers.CharField()
    name = serializers.CharField()


class AccuracyTicketSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.CharField()
    points = serializers.IntegerField()
    days = serializers.FloatField()
    ratio = serializers.FloatField(help_text="Days per point.")


class AccuracySerializer(serializers.Serializer):
    sprint = serializers.IntegerField(allow_null=True)
    groups = AccuracyGroupSerializer(many=True)
    kinds = AccuracyKindSerializer(many=True)
    tickets = AccuracyTicketSerializer(many=True)
    skipped_never_started = serializers.IntegerField()
    rule = serializers.CharField()


class ForecastSerializer(serializers.Serializer):
    sprint = serializers.IntegerField()
    enough_history = serializers.BooleanField()
    reason = serializers.CharField(required=False, help_text="Why there is no forecast.")
    explanation = serializers.CharField()
    trials = serializers.IntegerField()
    remaining = serializers.IntegerField(required=False)
    history_days = serializers.IntegerField(required=False)
    end = serializers.DateField(required=False)
    probability_by_end = serializers.FloatField(required=False)
    dates = serializers.DictField(child=serializers.DateField(allow_null=True), required=False,
                                  help_text='"50", "85", "95": the date by which that share of trials finished.')
    working_days_left = serializers.IntegerField(required=False)
    mean_daily_points = serializers.FloatField(required=False)


def _id(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "integer", "minimum": 1}, OpenApiParameter.PATH, description=what)


BOARD_ID = _id("board_id", "The board's id.")
SPRINT_ID = _id("sprint_id", "The sprint's id (a sprint of this board).")


def _schema(operation_id: str, summary: str, ok, *, parameters=(), description=""):
    return extend_schema(
        operation_id=operation_id, tags=["charts"], summary=summary, description=description,
        parameters=[BOARD_ID, *parameters], responses={
            200: ok,
            400: OpenApiResponse(ErrorSerializer, "A query value that cannot be read, or a range that is refused."),
            401: OpenApiResponse(ErrorSerializer, "No credentials, or a wrong token."),
            404: OpenApiResponse(ErrorSerializer, "No such board for you, or no such sprint on it."),
            429: OpenApiResponse(ErrorSerializer, "Too many wrong tokens from your address."),
        },
    )


# --- the endpoints ------------------------------------------------------------------

class SprintBurndownApi(ChartApi):
    @_schema("charts_burndown", "A sprint's burndown", BurndownSerializer, parameters=[
        SPRINT_ID, OpenApiParameter("unit", str, enum=["points", "tickets"], description="Default: points.")],
        description="Remaining work at the end of each day (board time zone), the ideal line, weekends and "
                    "scope changes. A closed sprint answers from the series stored at its close.")
    def get(self, request, board_id, sprint_id):
        return super().get(request, board_id, sprint_id=sprint_id)

    def compute(self, request, board, sprint_id):
        unit = _text(request, "unit") or "points"
        if unit not in ("points", "tickets"):
            raise BadQuery("unit is points or tickets.")
        return charts.sprint_burndown(_sprint(board, sprint_id), unit=unit)


class VelocityApi(ChartApi):
    @_schema("charts_velocity", "Velocity over the last sprints", VelocitySerializer, parameters=[
        OpenApiParameter("last", OpenApiTypes.INT, description="How many closed sprints (1–50, default 6).")])
    def get(self, request, board_id):
        return super().get(request, board_id)

    def compute(self, request, board):
        return charts.velocity(board, last=_whole(request, "last", default=6, low=1, high=50))


class CumulativeFlowApi(ChartApi):
    @_schema("charts_cfd", "Cumulative flow", FlowSerializer, parameters=[
        OpenApiParameter("start", OpenApiTypes.DATE, description="First day (default: 29 days before the end)."),
        OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (default and at most: today)."),
    ], description="Cards per column at the end of each day, columns in board order; at most 366 days.")
    def get(self, request, board_id):
        return super().get(request, board_id)

    def compute(self, request, board):
        return charts.cumulative_flow(board, start=_date(request, "start"), end=_date(request, "end"))


class AccuracyApi(ChartApi):
    @_schema("charts_accuracy", "Estimation accuracy", AccuracySerializer, parameters=[
        OpenApiParameter("sprint", OpenApiTypes.INT, description="Only this sprint's tickets (default: all).")],
        description="Finished tickets: days from first in progress to done, per point, by group and kind.")
    def get(self, request, board_id):
        return super().get(request, board_id)

    def compute(self, request, board):
        value = _text(request, "sprint")
        sprint = None
        if value not in (None, ""):
            if not DIGITS.fullmatch(value):
                raise BadQuery("sprint is a sprint's id.")
            sprint = _sprint(board, value)
        return charts.estimation_accuracy(board, sprint=sprint)


class SprintForecastApi(ChartApi):
    @_schema("charts_forecast", "A Monte Carlo forecast for a sprint", ForecastSerializer, parameters=[SPRINT_ID],
             description="10,000 simulated futures drawn from the board's past daily throughput; with too little "
                         "history, `enough_history` is false and `reason` says why.")
    def get(self, request, board_id, sprint_id):
        return super().get(request, board_id, sprint_id=sprint_id)

    def compute(self, request, board, sprint_id):
        return charts.sprint_forecast(_sprint(board, sprint_id))
