"""REST API of training runs, their metrics and artifacts, sweeps and trainers.

The same services and access policy as the pages (board.permissions):
viewers read, members start, cancel and retry runs and sweeps. Anything
under a board you are not on is 404, and so is a run, ticket, hypothesis or
sweep of another board named under yours. Invalid input is a 400 naming the
field (a trainer's parameters under `params`, by name), a state that refuses
the action (cancelling a finished run, retrying a running one) a 409.
"""

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from board.api import BOARD_ID, _id, _responses
from board.models import Hypothesis, Ticket
from board.permissions import READ, WRITE_CARDS, board_for
from board.serializers import ErrorSerializer

from . import services, trainers
from .models import Artifact, Metric, Sweep, TrainingJob
from .serializers import (
    ArtifactSerializer,
    MetricSeriesSerializer,
    RunCreateSerializer,
    RunDetailSerializer,
    RunFilterSerializer,
    RunSerializer,
    SweepCreateSerializer,
    SweepSerializer,
    TrainerSerializer,
)

RUN_ID = _id("run_id", "The run's id.")
SWEEP_ID = _id("sweep_id", "The sweep's id.")
REFUSED_BY_STATE = OpenApiResponse(ErrorSerializer, "The run's state refuses it: only queued or running runs can be "
                                                    "cancelled, and only ended runs retried.")
METRIC_KEY_MAX = 100


def _id_or_404(value, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 0 < number < 2**63:
        raise Http404(f"No such {what} on this board.")
    return number


def _run_or_404(board, run_id) -> TrainingJob:
    job = TrainingJob.objects.filter(pk=_id_or_404(run_id, "run"), board=board).select_related("created_by").first()
    if job is None:
        raise Http404("No such run on this board.")
    return job


def _spec(d: dict) -> tuple[services.JobSpec | None, dict]:
    """The cleaned spec, or the errors: the trainer's parameters under `params`, by name."""
    errors, spec = {}, None
    try:
        spec = services.JobSpec.clean(trainer=d["trainer"], dataset=d["dataset"], params=d["params"],
                                      timeout_s=d.get("timeout_s"), memory_mb=d.get("memory_mb"),
                                      queue=d.get("queue"), check_params=False)
    except ValidationError as error:
        errors.update(error.message_dict)
    if "trainer" not in errors:  # a known trainer: its declared parameters decide
        try:
            params = trainers.validate_params(trainers.resolve(d["trainer"]), d["params"])
        except ValidationError as error:
            by_name = error.message_dict
            errors["params"] = by_name["params"] if set(by_name) == {"params"} else by_name
        else:
            if spec is not None:
                spec.params = params
    return (None if errors else spec), errors


def _named_on_board(board, d: dict) -> None:
    """The ticket and hypothesis a request names must be this board's: 404 otherwise."""
    if not Ticket.objects.filter(pk=d["ticket"], board=board).exists():
        raise Http404("No such ticket on this board.")
    if d.get("hypothesis") and not Hypothesis.objects.filter(pk=d["hypothesis"], board=board).exists():
        raise Http404("No such hypothesis on this board.")


# --- trainers --------------------------------------------------------------------------

@extend_schema_view(get=extend_schema(
    operation_id="trainers_list", tags=["runs"], summary="The trainers a run may use",
    description="Built-in trainers and those of the modules the administrator allows, with the datasets they "
                "take and their declared parameters (kind, range, choices, default).",
    responses=_responses({200: TrainerSerializer(many=True)}),
))
class TrainerListApi(ListAPIView):
    serializer_class = TrainerSerializer
    filter_backends = []

    def get_queryset(self):
        return [info.as_dict() for info in trainers.available()]


# --- runs --------------------------------------------------------------------------------

@extend_schema_view(
    get=extend_schema(
        operation_id="runs_list", tags=["runs"], summary="A board's training runs, newest first",
        parameters=[BOARD_ID, OpenApiParameter("ticket", {"type": "integer", "minimum": 1}, description="Only the "
                    "runs of this ticket (its id)."),
                    OpenApiParameter("state", str, enum=[value for value, _ in TrainingJob.State.choices])],
        responses=_responses({200: RunSerializer(many=True)}, 400, 404),
    ),
    post=extend_schema(
        operation_id="runs_create", tags=["runs"], summary="Start a training run on a ticket",
        description="Members and owners: the run is queued and sent to its queue's workers once saved. Invalid "
                    "input answers 400 naming each field (a trainer's parameters under `params`, by name); a "
                    "ticket or hypothesis of another board 404.",
        parameters=[BOARD_ID], request=RunCreateSerializer,
        responses=_responses({201: RunSerializer}, 400, 403, 404),
    ),
)
class RunListApi(ListAPIView):
    serializer_class = RunSerializer
    queryset = TrainingJob.objects.none()  # for the schema; get_queryset() is what runs
    filter_backends = []

    def get_queryset(self):
        board, _ = board_for(self.request.user, self.kwargs["board_id"], needs=READ)
        query = RunFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        runs = TrainingJob.objects.filter(board=board).select_related("created_by").order_by("-id")
        if "ticket" in query.validated_data:
            runs = runs.filter(ticket_id=query.validated_data["ticket"])
        if "state" in query.validated_data:
            runs = runs.filter(state=query.validated_data["state"])
        return runs

    def post(self, request, board_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        serializer = RunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        _named_on_board(board, d)
        spec, errors = _spec(d)
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        try:
            job = services.job_create(board=board, ticket_id=d["ticket"], actor=request.user, spec=spec,
                                      hypothesis_id=d.get("hypothesis"))
        except ValidationError as error:
            return Response(error.message_dict, status=status.HTTP_400_BAD_REQUEST)
        return Response(RunSerializer(job).data, status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(
    operation_id="runs_retrieve", tags=["runs"], summary="One run, with its log and environment",
    parameters=[BOARD_ID, RUN_ID], responses=_responses({200: RunDetailSerializer}, 404),
))
class RunDetailApi(APIView):
    def get(self, request, board_id, run_id):
        board, _ = board_for(request.user, board_id, needs=READ)
        return Response(RunDetailSerializer(_run_or_404(board, run_id)).data)


@extend_schema_view(post=extend_schema(
    operation_id="runs_cancel", tags=["runs"], summary="Cancel a queued or running run",
    description="Members and owners: the trainer process is terminated; the ticket records it.",
    parameters=[BOARD_ID, RUN_ID], request=None,
    responses=_responses({200: RunSerializer, 409: REFUSED_BY_STATE}, 403, 404),
))
class RunCancelApi(APIView):
    def post(self, request, board_id, run_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        job = _run_or_404(board, run_id)
        try:
            job = services.job_cancel(board=board, job_id=job.pk, actor=request.user)
        except services.JobRefused as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        return Response(RunSerializer(job).data)


@extend_schema_view(post=extend_schema(
    operation_id="runs_retry", tags=["runs"], summary="Run an ended run's spec again",
    description="Members and owners: a new run of the same trainer, dataset, parameters and limits; the old "
                "run keeps its result.",
    parameters=[BOARD_ID, RUN_ID], request=None,
    responses=_responses({201: RunSerializer, 409: REFUSED_BY_STATE}, 403, 404, 422),
))
class RunRetryApi(APIView):
    def post(self, request, board_id, run_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        job = _run_or_404(board, run_id)
        try:
            new = services.job_retry(board=board, job_id=job.pk, actor=request.user)
        except services.JobRefused as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        except ValidationError as error:  # the spec is no longer allowed (a trainer module left the allowlist)
            return Response(error.message_dict, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response(RunSerializer(new).data, status=status.HTTP_201_CREATED)


class MetricQuerySerializer(serializers.Serializer):
    key = serializers.ListField(child=serializers.CharField(max_length=METRIC_KEY_MAX), required=False,
                                max_length=50)


@extend_schema_view(get=extend_schema(
    operation_id="runs_metrics", tags=["runs"], summary="A run's metric series",
    description="Every logged point by metric key and step; `?key=` (repeatable) keeps only those keys.",
    parameters=[BOARD_ID, RUN_ID, OpenApiParameter("key", {"type": "array", "items": {"type": "string",
                                                   "maxLength": METRIC_KEY_MAX}, "maxItems": 50},
                                                   explode=True, description="A metric key, e.g. roc_auc.")],
    responses=_responses({200: MetricSeriesSerializer(many=True)}, 400, 404),
))
class RunMetricsApi(APIView):
    def get(self, request, board_id, run_id):
        board, _ = board_for(request.user, board_id, needs=READ)
        job = _run_or_404(board, run_id)
        query = MetricQuerySerializer(data={"key": request.query_params.getlist("key")})
        query.is_valid(raise_exception=True)
        points = Metric.objects.filter(job=job).order_by("key", "step", "id")
        if query.validated_data.get("key"):
            points = points.filter(key__in=query.validated_data["key"])
        series: dict[str, list] = {}
        for key, step, value, at in points.values_list("key", "step", "value", "at"):
            series.setdefault(key, []).append({"step": step, "value": value, "at": at})
        return Response(MetricSeriesSerializer([{"key": k, "points": v} for k, v in series.items()], many=True).data)


@extend_schema_view(get=extend_schema(
    operation_id="runs_artifacts", tags=["runs"], summary="A run's artifacts, with download links",
    description="Images, models and files a run saved; `url` serves them to members of the board only.",
    parameters=[BOARD_ID, RUN_ID], responses=_responses({200: ArtifactSerializer(many=True)}, 404),
))
class RunArtifactsApi(ListAPIView):
    serializer_class = ArtifactSerializer
    queryset = Artifact.objects.none()  # for the schema; get_queryset() is what runs
    filter_backends = []

    def get_queryset(self):
        board, _ = board_for(self.request.user, self.kwargs["board_id"], needs=READ)
        job = _run_or_404(board, self.kwargs["run_id"])
        return Artifact.objects.filter(job=job).select_related("job").order_by("name")


# --- sweeps --------------------------------------------------------------------------------

@extend_schema_view(
    get=extend_schema(
        operation_id="sweeps_list", tags=["sweeps"], summary="A board's sweeps, newest first",
        parameters=[BOARD_ID, OpenApiParameter("ticket", {"type": "integer", "minimum": 1},
                                               description="Only the sweeps of this ticket (its id).")],
        responses=_responses({200: SweepSerializer(many=True)}, 400, 404),
    ),
    post=extend_schema(
        operation_id="sweeps_create", tags=["sweeps"], summary="Start a sweep: one run per point",
        description="Members and owners: a grid over lists of values, or `samples` random points, each a run "
                    "of the trainer; when the last ends, the best run and a comparison table go onto the ticket.",
        parameters=[BOARD_ID], request=SweepCreateSerializer,
        responses=_responses({201: SweepSerializer}, 400, 403, 404),
    ),
)
class SweepListApi(ListAPIView):
    serializer_class = SweepSerializer
    queryset = Sweep.objects.none()  # for the schema; get_queryset() is what runs
    filter_backends = []

    def get_queryset(self):
        board, _ = board_for(self.request.user, self.kwargs["board_id"], needs=READ)
        query = RunFilterSerializer(data=self.request.query_params, partial=True)
        query.is_valid(raise_exception=True)
        sweeps = Sweep.objects.filter(board=board).select_related("created_by").prefetch_related("jobs")
        if "ticket" in query.validated_data:
            sweeps = sweeps.filter(ticket_id=query.validated_data["ticket"])
        return sweeps.order_by("-id")

    def post(self, request, board_id):
        board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
        serializer = SweepCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        _named_on_board(board, d)
        spec, errors = _spec(d)
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        try:
            sweep = services.sweep_create(
                board=board, ticket_id=d["ticket"], actor=request.user, spec=spec, mode=d["mode"], space=d["space"],
                samples=d.get("samples"), metric=d["metric"], direction=d["direction"],
                hypothesis_id=d.get("hypothesis"),
            )
        except ValidationError as error:
            return Response(error.message_dict, status=status.HTTP_400_BAD_REQUEST)
        return Response(SweepSerializer(sweep).data, status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(
    operation_id="sweeps_retrieve", tags=["sweeps"], summary="One sweep, its runs and its best run",
    parameters=[BOARD_ID, SWEEP_ID], responses=_responses({200: SweepSerializer}, 404),
))
class SweepDetailApi(APIView):
    def get(self, request, board_id, sweep_id):
        board, _ = board_for(request.user, board_id, needs=READ)
        sweep = Sweep.objects.filter(pk=_id_or_404(sweep_id, "sweep"), board=board).prefetch_related("jobs").first()
        if sweep is None:
            raise Http404("No such sweep on this board.")
        return Response(SweepSerializer(sweep).data)
