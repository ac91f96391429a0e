"""REST API: the same selectors, services and access policy as the pages."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .hypothesis_views import check_baseline_run, hypothesis_or_404
from .models import Board, EventSource, Hypothesis, Ticket
from .permissions import READ, WRITE_CARDS, board_for
from .serializers import (
    BoardSerializer,
    ErrorSerializer,
    HypothesisCreateSerializer,
    HypothesisPatchSerializer,
    HypothesisSerializer,
    MoveResultSerializer,
    MoveSerializer,
    RefusalSerializer,
    TicketPatchSerializer,
    TicketSerializer,
    TicketWriteSerializer,
    ValidationErrorSerializer,
    ticket_representations,
    ticket_rows,
)
from .services import results


def _writer(request) -> services.Writer:
    """Changes made through the API say so in the history."""
    return services.Writer(request.user, EventSource.API)


def _refused(error: ValidationError) -> Response:
    body = error.message_dict if hasattr(error, "message_dict") else {"detail": error.messages}
    return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)


# --- what the schema says (drf-spectacular) -------------------------------------

_ERRORS = {
    400: OpenApiResponse(ValidationErrorSerializer, "The body could not be read, or fields are invalid."),
    401: OpenApiResponse(ErrorSerializer, "No credentials, or a wrong token (`Authorization: Token <key>`)."),
    403: OpenApiResponse(ErrorSerializer, "Your role on this board is too low (viewers cannot write), "
                                          "or a session request without its CSRF token."),
    404: OpenApiResponse(ErrorSerializer, "No such board for you (boards you are not on are 404 too), "
                                          "or no such ticket on it."),
    409: OpenApiResponse(ErrorSerializer, "Someone changed the ticket since the version you sent, "
                                          "or a hard WIP limit refused it."),
    422: OpenApiResponse(RefusalSerializer, "Well-formed, but refused by a board rule."),
    429: OpenApiResponse(ErrorSerializer, "Too many wrong tokens from your address: wait for Retry-After."),
}


def _responses(ok: dict, *codes: int) -> dict:
    return {**ok, **{code: _ERRORS[code] for code in (*codes, 401, 429)}}


def _id(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "integer", "minimum": 1}, OpenApiParameter.PATH, description=what)


BOARD_ID = _id("board_id", "The board's id.")
TICKET_ID = _id("ticket_id", "The ticket's id (`id`, not its number).")
HYPOTHESIS_ID = _id("hypothesis_id", "The hypothesis's id.")
TICKET_FILTERS = [
    OpenApiParameter("q", str, description="Words in the title or description, or a ticket number (`MLK-12`, `12`)."),
    OpenApiParameter("assignee", str, description="A member's username, or `none` for unassigned tickets."),
    OpenApiParameter("label", str, description="A label's name."),
    OpenApiParameter("kind", str, enum=[value for value, _ in Ticket.Kind.choices]),
    OpenApiParameter("epic", OpenApiTypes.INT, description="An epic's id."),
    OpenApiParameter("blocked", OpenApiTypes.BOOL, description="Only blocked (true) or unblocked (false) tickets."),
]


@extend_schema_view(get=extend_schema(
    operation_id="boards_list", tags=["boards"], summary="Your boards",
    responses=_responses({200: BoardSerializer(many=True)}),
))
class BoardListApi(ListAPIView):
    serializer_class = BoardSerializer
    queryset = Board.objects.none()  # for the schema; get_queryset() is what runs

    def get_queryset(self):
        return selectors.board_list_for_user(self.request.user).prefetch_related("columns")


@extend_schema_view(get=extend_schema(
    operation_id="boards_retrieve", tags=["boards"], summary="A board with its columns", parameters=[BOARD_ID],
    responses=_responses({200: BoardSerializer}, 404),
))
class BoardDetailApi(RetrieveAPIView):
    serializer_class = BoardSerializer

    def get_object(self):
        board, _ = board_for(self.request.user, self.kwargs["board_id"], needs=READ)
        return board


@extend_schema_view(
    get=extend_schema(
        operation_id="tickets_list", tags=["tickets"], summary="A board's tickets, filtered",
        description="The tickets of a board in board order (column, then rank); the board page's filters apply.",
        parameters=[BOARD_ID, *TICKET_FILTERS], responses=_responses({200: TicketSerializer(many=True)}, 404),
    ),
    post=extend_schema(
        operation_id="tickets_create", tags=["tickets"], summary="Create a ticket", parameters=[BOARD_ID],
        description="Members and owners: a new ticket at the bottom of `column` (or of the first column). "
                    "People and labels are named by username and label name.",
        request=TicketWriteSerializer(board=None),  # the schema needs no board
        responses=_responses({201: TicketSerializer}, 400, 403, 404, 409, 422),
    ),
)
class TicketListApi(ListAPIView):
    """GET: tickets of a board in board order; the board page's filters apply
    (?q=, ?assignee=, ?label=, ?kind=, ?epic=, ?blocked=).
    POST: create a ticket (members), at the bottom of `column` or the first column."""

    serializer_class = TicketSerializer
    queryset = Ticket.objects.none()  # for the schema; get_queryset() is what runs
    filter_backends = []

    def get_queryset(self):
        self.board, _ = board_for(self.request.user, self.kwargs["board_id"], needs=READ)
        return selectors.ticket_filter(self.board, self.request.query_params).qs.order_by("column__position", "rank")

    def list(self, request, *args, **kwargs):
        # TicketSerializer's output, read as plain rows (see ticket_representations).
        page = self.paginate_queryset(ticket_rows(self.get_queryset()))
        return self.get_paginated_response(ticket_representations(page, self.board))

    def post(self, request, board_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        serializer = TicketWriteSerializer(data=request.data, board=board)
        serializer.is_valid(raise_exception=True)
        d = dict(serializer.validated_data)
        d.pop("version", None)
        column = d.pop("column", None)
        try:
            ticket = services.ticket_create(board=board, actor=_writer(request), data=services.TicketInput(**d),
                                            column=column)
        except services.MoveRefused as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except ValidationError as error:
            return _refused(error)
        return Response(TicketSerializer(ticket).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        operation_id="tickets_retrieve", tags=["tickets"], summary="One ticket", parameters=[BOARD_ID, TICKET_ID],
        description="One ticket of the board.",
        responses=_responses({200: TicketSerializer}, 404),
    ),
    patch=extend_schema(
        operation_id="tickets_partial_update", tags=["tickets"], summary="Change some fields of a ticket",
        description="Members and owners: send the `version` you read and the fields to change; the others keep "
                    "their values. A stale version answers 409 and changes nothing.",
        parameters=[BOARD_ID, TICKET_ID], request=TicketPatchSerializer(board=None),
        responses=_responses({200: TicketSerializer}, 400, 403, 404, 409, 422),
    ),
)
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
        serializer = TicketWriteSerializer(data=request.data, board=board, ticket=ticket, partial=True)
        serializer.is_valid(raise_exception=True)
        d = dict(serializer.validated_data)
        if "version" not in d:
            return Response({"version": ["Send the version you read, so that no one's edit is lost."]},
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        if "column" in d:
            return Response({"column": ["Moves go through …/move/ (with neighbours or a position)."]},
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        version = d.pop("version")
        try:
            updated = services.ticket_patch(
                board=board, ticket_id=ticket.pk, actor=_writer(request),
                changes=d, expected_version=version,
            )
        except services.Conflict as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except ValidationError as error:
            return _refused(error)
        return Response(TicketSerializer(updated).data)


@extend_schema_view(post=extend_schema(
    operation_id="tickets_move", tags=["tickets"], summary="Move a ticket", parameters=[BOARD_ID, TICKET_ID],
    request=MoveSerializer, responses=_responses({200: MoveResultSerializer}, 400, 403, 404, 409, 422),
))
class TicketMoveApi(APIView):
    """Move a ticket to a column (the same or another), naming the version you
    read; a soft WIP limit lets it through with a `warning`, a hard one answers 409."""

    def post(self, request, board_id, ticket_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        serializer = MoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        try:
            result = services.ticket_move(
                board=board, actor=_writer(request), ticket_id=ticket_id, expected_version=d["version"],
                to_column_id=d["column"], after_id=d.get("after"), before_id=d.get("before"),
                position=d.get("position") or None,
            )
        except (services.Conflict, services.MoveRefused) as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except ValidationError as error:
            return _refused(error)
        return Response({**TicketSerializer(result.ticket).data, "warning": result.warning})


def _ticket_or_404(board, ticket_id) -> Ticket:
    ticket = Ticket.objects.filter(pk=ticket_id, board=board).first() if 0 < int(ticket_id) < 2**63 else None
    if ticket is None:
        raise Http404("No such ticket on this board.")
    return ticket


@extend_schema_view(
    get=extend_schema(
        operation_id="hypotheses_list", tags=["hypotheses"], summary="A ticket's hypotheses",
        parameters=[BOARD_ID, TICKET_ID], responses=_responses({200: HypothesisSerializer(many=True)}, 404),
    ),
    post=extend_schema(
        operation_id="hypotheses_create", tags=["hypotheses"], summary="Add a hypothesis to a ticket",
        description="Members and owners: a claim the ticket's runs test (`metric` reaches `target`, higher or "
                    "lower being better), open until a run decides it.",
        parameters=[BOARD_ID, TICKET_ID], request=HypothesisCreateSerializer,
        responses=_responses({201: HypothesisSerializer}, 400, 403, 404, 422),
    ),
)
class HypothesisListApi(ListAPIView):
    """GET: a ticket's hypotheses, oldest first. POST: add one (members)."""

    serializer_class = HypothesisSerializer
    queryset = Hypothesis.objects.none()  # for the schema; get_queryset() is what runs
    filter_backends = []

    def get_queryset(self):
        board, _ = board_for(self.request.user, self.kwargs["board_id"], needs=READ)
        ticket = _ticket_or_404(board, self.kwargs["ticket_id"])
        return Hypothesis.objects.filter(ticket=ticket).select_related("overridden_by").order_by("id")

    def post(self, request, board_id, ticket_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        ticket = _ticket_or_404(board, ticket_id)
        serializer = HypothesisCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        try:
            check_baseline_run(ticket, d.get("baseline_run"), d.get("baseline"))
            h = results.hypothesis_create(
                board=board, ticket_id=ticket.pk, actor=_writer(request), statement=d["statement"],
                metric=d["metric"], direction=d["direction"], target=d["target"], baseline=d.get("baseline"),
                baseline_run=d.get("baseline_run"),
            )
        except ValidationError as error:
            return _refused(error)
        return Response(HypothesisSerializer(h).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        operation_id="hypotheses_retrieve", tags=["hypotheses"], summary="One hypothesis",
        parameters=[BOARD_ID, HYPOTHESIS_ID], responses=_responses({200: HypothesisSerializer}, 404),
    ),
    patch=extend_schema(
        operation_id="hypotheses_partial_update", tags=["hypotheses"], summary="Override the status, or set the "
                                                                              "baseline",
        description="Members and owners: `status` with a `reason` overrides what the runs say (`status` \"\" "
                    "hands the decision back to the runs); `baseline` (null clears it, `baseline_run` names the "
                    "run it was read from) re-decides the verdict. Each change of status is recorded in the "
                    "ticket's history.",
        parameters=[BOARD_ID, HYPOTHESIS_ID], request=HypothesisPatchSerializer,
        responses=_responses({200: HypothesisSerializer}, 400, 403, 404, 422),
    ),
    delete=extend_schema(
        operation_id="hypotheses_destroy", tags=["hypotheses"], summary="Remove a hypothesis",
        description="Members and owners. Its runs keep their results; the ticket's history records the removal.",
        parameters=[BOARD_ID, HYPOTHESIS_ID], responses=_responses({204: None}, 403, 404),
    ),
)
class HypothesisDetailApi(APIView):
    """GET one hypothesis; PATCH its status (override) or baseline; DELETE it."""

    def get(self, request, board_id, hypothesis_id):
        board, _ = board_for(request.user, board_id, needs=READ)
        return Response(HypothesisSerializer(hypothesis_or_404(board, hypothesis_id)).data)

    def patch(self, request, board_id, hypothesis_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        h = hypothesis_or_404(board, hypothesis_id)
        serializer = HypothesisPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        if "reason" in d and "status" not in d:
            return Response({"status": ["Send the status the reason is for (\"\" lets the runs decide)."]},
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        if "status" not in d and "baseline" not in d:
            return Response({"detail": ["Send `status` (with a `reason`) to override, or `baseline` to set it."]},
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        writer = _writer(request)
        try:
            with transaction.atomic():  # both or neither
                if "baseline" in d:
                    check_baseline_run(h.ticket, d.get("baseline_run"), d["baseline"])
                    results.hypothesis_set_baseline(board=board, hypothesis_id=h.pk, actor=writer,
                                                             baseline=d["baseline"],
                                                             baseline_run=d.get("baseline_run"))
                if "status" in d:
                    results.hypothesis_override(board=board, hypothesis_id=h.pk, actor=writer,
                                                         status=d["status"], reason=d.get("reason", ""))
        except ValidationError as error:
            return _refused(error)
        return Response(HypothesisSerializer(hypothesis_or_404(board, h.pk)).data)

    def delete(self, request, board_id, hypothesis_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        h = hypothesis_or_404(board, hypothesis_id)
        results.hypothesis_delete(board=board, hypothesis_id=h.pk, actor=_writer(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SchemaApi(SpectacularAPIView):
    """GET /api/schema/: the OpenAPI schema of this API (signed-in users).

    The API has one version, so ?version= is ignored: drf-spectacular would
    copy it into the schema and into the Content-Disposition header, where a
    newline in it raised BadHeaderError (a 500)."""

    def _get_version_parameter(self, request):
        return None
