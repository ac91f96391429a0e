"""Training jobs, their metrics and artifacts, and sweeps.

A job is one run of a trainer on a ticket. Its life: queued → running →
succeeded / failed / timed_out / cancelled / lost (lost is passing: the
reaper re-queues a lost job while attempts remain, else fails it). Writes go
through experiments.services; results reach the ticket through
board.services.results.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from board.models import Board, Hypothesis, Ticket


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    CANCELLED = "cancelled", "Cancelled"
    LOST = "lost", "Lost"


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)
FINAL_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.TIMED_OUT, JobState.CANCELLED)


def _one_of(field: str, choices, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": [v for v, _ in choices]}), name=name)


class SweepMode(models.TextChoices):
    GRID = "grid", "Grid"
    RANDOM = "random", "Random samples"


class ArtifactKind(models.TextChoices):
    IMAGE = "image", "Image"
    MODEL = "model", "Model"
    FILE = "file", "File"


class Sweep(models.Model):
    """A grid, or N random samples, over a trainer's parameters: one job per point."""

    Mode = SweepMode

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="sweeps")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sweeps")
    hypothesis = models.ForeignKey(Hypothesis, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    mode = models.CharField(max_length=6, choices=SweepMode.choices)
    # {"param": [values...]} for a grid; {"param": {"min":…, "max":…} or [choices]} for random samples
    space = models.JSONField(default=dict)
    samples = models.PositiveIntegerField(null=True, blank=True)
    metric = models.CharField(max_length=100)  # what ranks the runs
    direction = models.CharField(max_length=6, choices=Hypothesis.Direction.choices, default="higher")
    best_job = models.ForeignKey("TrainingJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [_one_of("mode", SweepMode.choices, "sweep_mode_valid")]

    def __str__(self):
        return f"sweep {self.pk}"


class TrainingJob(models.Model):
    State = JobState

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="training_jobs")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="training_jobs")
    hypothesis = models.ForeignKey(
        Hypothesis, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_jobs"
    )
    sweep = models.ForeignKey(Sweep, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")

    # The spec: what runs, on what, within which limits, where.
    trainer = models.CharField(max_length=200)  # "package.module:function"
    dataset = models.CharField(max_length=40)
    params = models.JSONField(default=dict)
    queue = models.CharField(max_length=40, default="train")
    timeout_s = models.PositiveIntegerField()
    memory_mb = models.PositiveIntegerField()

    state = models.CharField(max_length=10, choices=JobState.choices, default=JobState.QUEUED)
    # Starts so far; the reaper re-queues a lost job while attempts < max_attempts.
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    # The outbox: NULL until the task message reached the broker.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_error = models.CharField(max_length=300, blank=True)
    celery_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress = models.FloatField(default=0)
    progress_message = models.CharField(max_length=200, blank=True)
    latest_metric = models.JSONField(null=True, blank=True)  # {"key":…, "step":…, "value":…}
    final_metrics = models.JSONField(default=dict, blank=True)
    params_logged = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    traceback = models.TextField(blank=True)
    log = models.TextField(blank=True)
    log_skipped_bytes = models.BigIntegerField(default=0)
    code_version = models.JSONField(default=dict, blank=True)
    environment = models.JSONField(default=dict, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            _one_of("state", JobState.choices, "job_state_valid"),
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="job_progress_0_1"),
        ]
        indexes = [
            # the live strips of a board and the reaper's scan: active jobs only
            models.Index(fields=["board", "state"], name="job_active_by_board",
                         condition=Q(state__in=["queued", "running"])),
            models.Index(fields=["ticket", "-id"], name="job_by_ticket"),
        ]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        return f"run {self.pk}"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()


class Metric(models.Model):
    """One logged point; inserted in batches, never one INSERT per point."""

    # No index of its own: metric_series starts with job (a second index cost 12 % of an insert).
    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="metrics", db_index=False)
    key = models.CharField(max_length=100)
    step = models.BigIntegerField()
    value = models.FloatField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job_id", "key", "step"]
        indexes = [models.Index(fields=["job", "key", "step"], name="metric_series")]

    def __str__(self):
        return f"{self.key}[{self.step}] = {self.value}"


def artifact_path(artifact: "Artifact", filename: str) -> str:
    return f"artifacts/job-{artifact.job_id}/{filename}"


class Artifact(models.Model):
    Kind = ArtifactKind

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=6, choices=ArtifactKind.choices, default=ArtifactKind.FILE)
    # Stored under MEDIA_ROOT, served only through a view that checks the board role.
    file = models.FileField(upload_to=artifact_path, max_length=300)
    size = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job_id", "name"]
        constraints = [
            _one_of("kind", ArtifactKind.choices, "artifact_kind_valid"),
            models.UniqueConstraint(fields=["job", "name"], name="artifact_unique_name"),
        ]

    def __str__(self):
        return self.name
