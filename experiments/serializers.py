"""What the experiments API reads and answers. Requests are checked for shape
here; the rules (trainers, datasets, parameters, limits, queues) live in
experiments.trainers and services.JobSpec.clean, used by the pages alike."""

import math

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from board.models import Hypothesis

from . import trainers
from .models import Artifact, JobState, Sweep, TrainingJob

ID = {"min_value": 1, "max_value": 2**62}
# A sweep's space: at most this many values per parameter, each a short scalar.
SPACE_VALUES_MAX = 1000


def web_url(name: str, *args) -> str | None:
    """A page of the experiments app (another module builds them), or None if it is missing."""
    try:
        return reverse(f"experiments:{name}", args=args)
    except NoReverseMatch:
        return None


# --- trainers ----------------------------------------------------------------------

class ParamSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=trainers.PARAM_KINDS)
    default = serializers.JSONField(help_text="The value used when the request leaves the parameter out.")
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    choices = serializers.ListField(child=serializers.CharField(), help_text="For kind `choice`: the values.")
    help = serializers.CharField(allow_blank=True)
    log = serializers.BooleanField(help_text="Random sweeps sample it on a log scale.")


class TrainerSerializer(serializers.Serializer):
    ref = serializers.CharField(help_text="`package.module:function`: what `trainer` names in a run.")
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    datasets = serializers.ListField(child=serializers.CharField())
    params = ParamSerializer(many=True)


# --- runs ----------------------------------------------------------------------------

class RunSerializer(serializers.ModelSerializer):
    """A training run (a job): its spec, its state and, once it ended, its result."""

    label = serializers.CharField(read_only=True, help_text="“run N”, as the ticket's history names it.")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    url = serializers.SerializerMethodField(help_text="The run's page.")

    class Meta:
        model = TrainingJob
        fields = [
            "id", "label", "ticket", "hypothesis", "sweep", "retry_of", "trainer", "dataset", "params", "queue",
            "timeout_s", "memory_mb", "state", "attempts", "max_attempts", "progress", "progress_message",
            "latest_metric", "final_metrics", "params_logged", "error", "worker", "exit_code", "created_by",
            "created_at", "dispatched_at", "started_at", "finished_at", "url",
        ]
        read_only_fields = fields

    def get_url(self, job) -> str | None:
        return web_url("run", job.board_id, job.pk)


class RunDetailSerializer(RunSerializer):
    """A run with its log, traceback, code version and environment."""

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "log", "log_skipped_bytes", "traceback", "code_version",
                  "environment", "dispatch_error"]
        read_only_fields = fields


class _SpecSerializer(serializers.Serializer):
    """What runs and sweeps have in common: the ticket, the trainer and its inputs, the limits."""

    ticket = serializers.IntegerField(**ID, help_text="The ticket's id.")
    trainer = serializers.CharField(max_length=200, help_text="A trainer's `ref` (see /api/trainers/).")
    dataset = serializers.CharField(max_length=40)
    params = serializers.DictField(required=False, default=dict, help_text="Parameter name → value; the "
                                   "trainer's defaults fill in what is left out.")
    timeout_s = serializers.IntegerField(required=False, allow_null=True, help_text="Seconds before the run is "
                                         "killed (timed_out); the default when left out.")
    memory_mb = serializers.IntegerField(required=False, allow_null=True, help_text="Memory cap in MiB.")
    queue = serializers.CharField(max_length=40, required=False, allow_blank=True, help_text="`train` by default.")
    hypothesis = serializers.IntegerField(**ID, required=False, allow_null=True,
                                          help_text="The ticket's hypothesis this run tests.")


class RunCreateSerializer(_SpecSerializer):
    """Start a run: the ticket it belongs to, a trainer, its dataset and parameters, limits and queue."""


class RunFilterSerializer(serializers.Serializer):
    ticket = serializers.IntegerField(**ID, required=False)
    state = serializers.ChoiceField(choices=JobState.choices, required=False)


class MetricPointSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    value = serializers.FloatField()
    at = serializers.DateTimeField()


class MetricSeriesSerializer(serializers.Serializer):
    key = serializers.CharField()
    points = MetricPointSerializer(many=True)


class ArtifactSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Where members of the board download it.")

    class Meta:
        model = Artifact
        fields = ["id", "name", "kind", "size", "created_at", "url"]
        read_only_fields = fields

    def get_url(self, artifact) -> str | None:
        return web_url("artifact", artifact.job.board_id, artifact.job_id, artifact.pk)


# --- sweeps ----------------------------------------------------------------------------

def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class SweepCreateSerializer(_SpecSerializer):
    """A sweep: a grid over lists of values, or `samples` random points over
    lists or ranges ({"min": …, "max": …}), one run per point; `params` holds
    the values of the parameters not swept. The runs are ranked by `metric`."""

    mode = serializers.ChoiceField(choices=Sweep.Mode.choices)
    space = serializers.DictField(help_text="Parameter name → list of values (grid or random), or "
                                  "{\"min\": number, \"max\": number} (random).")
    samples = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                       max_value=settings.JOB_SWEEP_MAX_POINTS, help_text="For random sweeps.")
    metric = serializers.CharField(max_length=100, help_text="What ranks the runs, e.g. roc_auc.")
    direction = serializers.ChoiceField(choices=Hypothesis.Direction.choices, default=Hypothesis.Direction.HIGHER)

    def validate_space(self, space):
        """Scalars and ranges only, so that sampling never compares text with numbers."""
        for name, values in space.items():
            if isinstance(values, list):
                if len(values) > SPACE_VALUES_MAX:
                    raise serializers.ValidationError(f"At most {SPACE_VALUES_MAX} values for {name[:50]}.")
                if not all(isinstance(v, str | bool) or _number(v) for v in values):
                    raise serializers.ValidationError(f"The values of {name[:50]} must be numbers, text or "
                                                      "true/false.")
            elif isinstance(values, dict):
                if set(values) - {"min", "max"} or not all(_number(v) for v in values.values()):
                    raise serializers.ValidationError(f"A range for {name[:50]} is {{\"min\": number, "
                                                      f"\"max\": number}}.")
            else:
                raise serializers.ValidationError(f"Give {name[:50]} a list of values or a range.")
        return space

    def validate(self, data):
        if data["mode"] == Sweep.Mode.RANDOM and not data.get("samples"):
            raise serializers.ValidationError({"samples": "Say how many random points to run."})
        return data


class SweepRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=JobState.choices)


class SweepSerializer(serializers.ModelSerializer):
    best_run = serializers.IntegerField(source="best_job_id", read_only=True, allow_null=True)
    runs = serializers.SerializerMethodField(help_text="The sweep's runs: id and state.")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    url = serializers.SerializerMethodField(help_text="The sweep's page.")

    class Meta:
        model = Sweep
        fields = ["id", "ticket", "hypothesis", "mode", "space", "samples", "metric", "direction", "best_run",
                  "runs", "created_by", "created_at", "finished_at", "url"]
        read_only_fields = fields

    @extend_schema_field(SweepRunSerializer(many=True))
    def get_runs(self, sweep):
        return [{"id": job.pk, "state": job.state} for job in sorted(sweep.jobs.all(), key=lambda job: job.pk)]

    def get_url(self, sweep) -> str | None:
        return web_url("sweep", sweep.board_id, sweep.pk)
