"""REST API: the same selectors, services and access policy as the pages."""

import dataclasses

from django.core.exceptions import ValidationError
from django.http import Http404
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .models import Ticket
from .permissions import READ, WRITE_CARDS, board_for
from .serializers import BoardSerializer, MoveSerializer, TicketSerializer, TicketWriteSerializer


def _refused(error: ValidationError) -> Response:
    body = error.message_dict if hasattr(error, "message_dict") else {"detail": error.messages}
    return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)


class BoardListApi(ListAPIView):
    serializer_class = BoardSerializer

    def get_queryset(self):
        return selectors.board_list_for_user(self.request.user).prefetch_related("columns")


class BoardDetailApi(RetrieveAPIView):
    serializer_class = BoardSerializer

    def get_object(self):
        board, _ = board_for(self.request.user, self.kwargs["board_id"], needs=READ)
        return board


class TicketListApi(ListAPIView):
    """GET: tickets of a board in board order; the board page's filters apply
    (?q=, ?assignee=, ?label=, ?kind=, ?epic=, ?blocked=).
    POST: create a ticket (members), at the bottom of `column` or the first column."""

    serializer_class = TicketSerializer
    filter_backends = []

    def get_queryset(self):
        board, _ = board_for(self.request.user, self.kwargs["board_id"], needs=READ)
        return (
            selectors.ticket_filter(board, self.request.query_params).qs
            .select_related("assignee", "board").prefetch_related("labels").order_by("column__position", "rank")
        )

    def post(self, request, board_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        serializer = TicketWriteSerializer(data=request.data, board=board)
        serializer.is_valid(raise_exception=True)
        d = dict(serializer.validated_data)
        d.pop("version", None)
        column = d.pop("column", None)
        try:
            ticket = services.ticket_create(board=board, actor=request.user, data=services.TicketInput(**d), column=column)
        except ValidationError as error:
            return _refused(error)
        return Response(TicketSerializer(ticket).data, status=status.HTTP_201_CREATED)


class TicketDetailApi(APIView):
    """GET one ticket; PATCH some of its fields, naming the version you read
    (a stale version answers 409 and nothing changes)."""

    def _ticket(self, board, ticket_id):
        try:
            return Ticket.objects.select_related("assignee", "epic", "sprint", "board").get(pk=ticket_id, board=board)
        except Ticket.DoesNotExist:
            raise Http404("No such ticket on this board.") from None

    def get(self, request, board_id, ticket_id):
        board, _ = board_for(request.user, board_id, needs=READ)
        return Response(TicketSerializer(self._ticket(board, ticket_id)).data)

    def patch(self, request, board_id, ticket_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        ticket = self._ticket(board, ticket_id)
        serializer = TicketWriteSerializer(data=request.data, board=board, partial=True)
        serializer.is_valid(raise_exception=True)
        d = dict(serializer.validated_data)
        if "version" not in d:
            return Response({"version": ["Send the version you read, so that no one's edit is lost."]},
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        if "column" in d:
            return Response({"column": ["Moves go through …/move/ (with neighbours or a position)."]},
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        current = services.TicketInput(
            title=ticket.title, description=ticket.description, kind=ticket.kind, points=ticket.points,
            assignee=ticket.assignee, labels=tuple(ticket.labels.all()), epic=ticket.epic, sprint=ticket.sprint,
            timebox_days=ticket.timebox_days, blocked=ticket.blocked, blocked_reason=ticket.blocked_reason,
        )
        version = d.pop("version")
        try:
            updated = services.ticket_update(
                ticket_id=ticket.pk, board=board, actor=request.user, expected_version=version,
                data=dataclasses.replace(current, **d),
            )
        except services.Conflict as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except ValidationError as error:
            return _refused(error)
        return Response(TicketSerializer(updated).data)


class TicketMoveApi(APIView):
    def post(self, request, board_id, ticket_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        serializer = MoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        try:
            result = services.ticket_move(
                board=board, actor=request.user, ticket_id=ticket_id, expected_version=d["version"],
                to_column_id=d["column"], after_id=d.get("after"), before_id=d.get("before"),
                position=d.get("position") or None,
            )
        except (services.Conflict, services.MoveRefused) as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except ValidationError as error:
            return _refused(error)
        return Response({**TicketSerializer(result.ticket).data, "warning": result.warning})
