"""REST API: the same selectors, services and access policy as the pages."""

from django.core.exceptions import ValidationError
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .permissions import READ, WRITE_CARDS, board_for
from .serializers import BoardSerializer, MoveSerializer, TicketSerializer


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
    """Tickets of a board in board order; the board page's filters apply (?q=, ?assignee=, ...)."""

    serializer_class = TicketSerializer
    filter_backends = []

    def get_queryset(self):
        board, _ = board_for(self.request.user, self.kwargs["board_id"], needs=READ)
        return (
            selectors.ticket_filter(board, self.request.query_params).qs
            .select_related("assignee", "board").prefetch_related("labels").order_by("column__position", "rank")
        )


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
            return Response(error.message_dict, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response({**TicketSerializer(result.ticket).data, "warning": result.warning})
