"""Every write of the experiments app: create, dispatch, claim, tick, finish,
cancel, retry, reap, sweep.

A job's state only moves through conditional UPDATEs naming the state (and
attempt) it expects, so two deliveries of one task, a cancel racing a
finish, or a reaper racing a late heartbeat can never both win. Results
reach the ticket through board.services.results, in the transaction that
ends the job.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import math
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from board.models import Board, Hypothesis, Ticket
from board.services import results as board_results

from . import trainers
from .models import ACTIVE_STATES, Artifact, JobState, Metric, Sweep, TrainingJob

logger = logging.getLogger(__name__)
State = JobState


# --- validation ------------------------------------------------------------

def _bounded_int(value, name: str, low: int, high: int, what: str) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ValidationError({name: f"Enter a whole number of {what}."}) from None
    if isinstance(value, bool) or not low <= number <= high:
        raise ValidationError({name: f"Choose between {low:,} and {high:,} {what}."})
    return number


def job_queues() -> list[str]:
    """Queues a person may send a job to: every configured queue but the
    default one, which serves the reaper and other housekeeping."""
    names = [getattr(q, "name", q) for q in settings.CELERY_TASK_QUEUES]
    return [name for name in names if name != settings.CELERY_TASK_DEFAULT_QUEUE] or names


@dataclass
class JobSpec:
    """What a person asks to run, cleaned: trainer, dataset, params, limits, queue."""

    trainer: str
    dataset: str
    params: dict
    timeout_s: int = field(default_factory=lambda: settings.JOB_TIMEOUT_DEFAULT_S)
    memory_mb: int = field(default_factory=lambda: settings.JOB_MEMORY_DEFAULT_MB)
    queue: str = "train"

    @classmethod
    def clean(cls, *, trainer, dataset, params=None, timeout_s=None, memory_mb=None, queue=None,
              check_params: bool = True) -> JobSpec:
        errors: dict[str, list[str]] = {}
        info = None
        try:
            info = trainers.resolve(str(trainer or ""))
        except trainers.TrainerRefused as refused:
            errors["trainer"] = [str(refused)]
        if info is not None:
            try:
                trainers.validate_dataset(info, str(dataset or ""))
            except ValidationError as error:
                errors.update(error.message_dict)
            if check_params:
                try:
                    params = trainers.validate_params(info, params if isinstance(params, dict) else {})
                except ValidationError as error:
                    errors.update(error.message_dict)
        limits = {
            "timeout_s": (timeout_s, settings.JOB_TIMEOUT_DEFAULT_S, 1, settings.JOB_TIMEOUT_MAX_S, "seconds"),
            "memory_mb": (memory_mb, settings.JOB_MEMORY_DEFAULT_MB, settings.JOB_MEMORY_MIN_MB,
                          settings.JOB_MEMORY_MAX_MB, "MiB"),
        }
        cleaned_limits = {}
        for name, (value, default, low, high, what) in limits.items():
            try:
                cleaned_limits[name] = default if value in (None, "") else _bounded_int(value, name, low, high, what)
            except ValidationError as error:
                errors.update(error.message_dict)
        queue = str(queue or "train")
        if queue not in job_queues():
            errors["queue"] = [f"Choose one of the queues: {', '.join(job_queues())}."]
        if errors:
            raise ValidationError(errors)
        return cls(trainer=info.ref, dataset=str(dataset), params=params or {}, queue=queue, **cleaned_limits)


def _ticket(board: Board, ticket_id) -> Ticket:
    try:
        ticket = Ticket.objects.get(pk=int(ticket_id), board=board)
    except (Ticket.DoesNotExist, TypeError, ValueError, OverflowError):
        raise ValidationError({"ticket": "That card is not on this board."}) from None
    if ticket.archived_at is not None:
        raise ValidationError({"ticket": "This card is archived: restore it before running jobs on it."})
    return ticket


def _hypothesis(ticket: Ticket, hypothesis_id) -> Hypothesis | None:
    if hypothesis_id in (None, ""):
        return None
    try:
        return Hypothesis.objects.get(pk=int(hypothesis_id), ticket=ticket)
    except (Hypothesis.DoesNotExist, TypeError, ValueError, OverflowError):
        raise ValidationError({"hypothesis": "That hypothesis is not on this card."}) from None


def job_for(board: Board, job_id) -> TrainingJob:
    """A job of this board, or a 404-worthy ValidationError-free lookup error."""
    try:
        return TrainingJob.objects.select_related("ticket").get(pk=int(job_id), board=board)
    except (TrainingJob.DoesNotExist, TypeError, ValueError, OverflowError):
        raise TrainingJob.DoesNotExist(f"No run {job_id} on this board.") from None


# --- create and dispatch ----------------------------------------------------

@transaction.atomic
def job_create(*, board: Board, ticket_id, actor, spec: JobSpec, hypothesis_id=None, sweep: Sweep | None = None,
               retry_of: TrainingJob | None = None, dispatch: bool = True) -> TrainingJob:
    """A queued job; its task is sent when the transaction commits. If the
    broker is down then, the job stays queued and the outbox sweep sends it."""
    ticket = _ticket(board, ticket_id)
    hypothesis = _hypothesis(ticket, hypothesis_id)
    job = TrainingJob.objects.create(
        board=board, ticket=ticket, hypothesis=hypothesis, sweep=sweep, retry_of=retry_of,
        trainer=spec.trainer, dataset=spec.dataset, params=spec.params, queue=spec.queue,
        timeout_s=spec.timeout_s, memory_mb=spec.memory_mb, max_attempts=settings.JOB_MAX_ATTEMPTS,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    board_results.pulse(board.pk)
    if dispatch:
        transaction.on_commit(lambda: job_dispatch(job.pk))
    return job


def job_dispatch(job_id: int) -> bool:
    """Hand a queued job's task to the broker; True when it got there.
    Never raises: a broker that is down leaves the job in the outbox."""
    from .tasks import run_job  # tasks import services

    job = TrainingJob.objects.filter(pk=job_id, state=State.QUEUED).values("queue").first()
    if job is None:
        return False
    try:
        result = run_job.apply_async(
            args=[job_id], queue=job["queue"], retry=True,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
        )
    except Exception as error:  # kombu OperationalError, redis ConnectionError, OSError …
        logger.warning("run %s: broker unreachable, left in the outbox: %s", job_id, error)
        TrainingJob.objects.filter(pk=job_id, state=State.QUEUED).update(
            dispatch_error=f"Waiting for the broker ({type(error).__name__}); it will be sent when it is back."[:300]
        )
        return False
    TrainingJob.objects.filter(pk=job_id, state=State.QUEUED).update(
        dispatched_at=timezone.now(), celery_id=result.id, dispatch_error=""
    )
    return True


def dispatch_pending(now=None) -> int:
    """The outbox sweep: send queued jobs whose task never reached the broker,
    and re-send those queued so long that their message was likely lost (a
    broker restarted without persistence). Claiming makes a duplicate harmless."""
    now = now or timezone.now()
    grace = timezone.timedelta(seconds=2)  # leave a just-created job to its own on_commit
    lost_message = timezone.timedelta(seconds=settings.JOB_REDISPATCH_AFTER_S)
    ids = list(
        TrainingJob.objects.filter(state=State.QUEUED, created_at__lt=now - grace)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - lost_message))
        .values_list("id", flat=True)[:500]
    )
    return sum(job_dispatch(job_id) for job_id in ids)


# --- run (called by the Celery task) ----------------------------------------

def job_claim(job_id: int, *, worker: str, celery_id: str = "") -> TrainingJob | None:
    """queued → running, once: a second delivery of the same task, or a
    cancelled job, finds nothing to claim."""
    now = timezone.now()
    with transaction.atomic():  # one commit: the claim and the pulse that shows it
        claimed = TrainingJob.objects.filter(pk=job_id, state=State.QUEUED).update(
            state=State.RUNNING, attempts=F("attempts") + 1, worker=worker[:200],
            celery_id=celery_id[:64] or F("celery_id"),
            heartbeat_at=now, started_at=now, finished_at=None, progress=0, progress_message="Starting",
            error="", traceback="", latest_metric=None, params_logged={},
        )
        if not claimed:
            return None
        # board and created_by come along: the write-back needs them, with no query then
        job = TrainingJob.objects.select_related("board", "created_by").get(pk=job_id)
        if job.attempts > 1:
            # A lost attempt's points would mix into this attempt's curves. It can
            # write no more: its ticks only land while the job is running as its attempt.
            Metric.objects.filter(job_id=job_id).delete()
        board_results.pulse(job.board_id)
    return job


class _Hooks:
    """The runner's callbacks for one attempt: batches of metrics into the
    database, heartbeat and progress onto the job row (never the board row),
    and a "stop" when the job is no longer this attempt's (cancelled, reaped)."""

    def __init__(self, job: TrainingJob):
        self.job, self.attempt = job, job.attempts
        self.last_shown = (0.0, None)

    def on_start(self, pid: int) -> None:
        TrainingJob.objects.filter(pk=self.job.pk, attempts=self.attempt).update(pid=pid)

    def on_tick(self, tick) -> bool:
        fields = {"heartbeat_at": timezone.now()}
        if tick.progress is not None:
            fields["progress"] = max(0.0, min(1.0, float(tick.progress)))
        if tick.message:
            fields["progress_message"] = str(tick.message)[:200]
        if tick.metrics:
            key, step, value, _ = tick.metrics[-1]
            fields["latest_metric"] = {"key": key, "step": step, "value": value}
        if tick.params:
            self.job.params_logged = {**self.job.params_logged, **tick.params}
            fields["params_logged"] = self.job.params_logged
        shown = (fields.get("progress", self.last_shown[0]), fields.get("latest_metric", self.last_shown[1]))
        with transaction.atomic():  # one commit per tick: heartbeat, metrics and pulse
            if connection.vendor == "postgresql":
                # A tick lost in a database crash costs nothing (the next one, or the
                # reaper, follows), so it need not wait for the WAL flush (~4 ms here).
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            mine = TrainingJob.objects.filter(pk=self.job.pk, state=State.RUNNING, attempts=self.attempt).update(
                **fields
            )
            if not mine:
                return False
            if tick.metrics:
                metrics_insert(self.job.pk, tick.metrics)
            if shown != self.last_shown:
                board_results.pulse(self.job.board_id)
        self.last_shown = shown
        return True


def metrics_insert(job_id: int, points) -> int:
    """Points as (key, step, value, at), in the caller's transaction: one COPY on
    PostgreSQL, one executemany elsewhere. No model instances: for 100,000 points
    bulk_create spent 5x longer than COPY building and compiling them (bench/metrics.py)."""
    points = list(points)
    if not points:
        return 0
    table = connection.ops.quote_name(Metric._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(Metric._meta.get_field(name).column)
                        for name in ("job", "key", "step", "value", "at"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.StringIO()
            csv.writer(buffer).writerows(
                (job_id, key[:100], step, repr(float(value)), at.isoformat()) for key, step, value, at in points
            )
            buffer.seek(0)
            cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)
        else:
            adapt = connection.ops.adapt_datetimefield_value
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s)",
                [(job_id, key[:100], step, float(value), adapt(at)) for key, step, value, at in points],
            )
    return len(points)


def job_run(job_id: int, *, worker: str, celery_id: str = "") -> str:
    """The Celery task's body: claim, run the trainer in a child, finish."""
    from . import runner

    job = job_claim(job_id, worker=worker, celery_id=celery_id)
    if job is None:
        return "not claimed"
    workdir = Path(settings.JOBS_DIR) / f"job-{job.pk}-attempt-{job.attempts}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    spec = runner.RunSpec(
        job_id=job.pk, trainer=job.trainer, dataset=job.dataset, params=job.params, timeout_s=job.timeout_s,
        memory_mb=job.memory_mb, workdir=workdir, seed=job.pk,
    )
    try:
        outcome = runner.execute(spec, _Hooks(job), heartbeat_s=settings.JOB_HEARTBEAT_S,
                                 log_max_bytes=settings.JOB_LOG_MAX_BYTES)
    except Exception as error:  # the runner itself failed: the job must still end in a true state
        logger.exception("run %s: the runner failed", job.pk)
        outcome = runner.RunOutcome.failure(f"The worker could not run the trainer: {type(error).__name__}: {error}")
    try:
        job_finish(job, outcome)
    except Exception as error:
        # The write-back itself failed (a database error, a bug): the job must
        # not stay "running" until the reaper runs the trainer again.
        logger.exception("run %s: the write-back failed", job.pk)
        _fail_after_write_back_error(job, error)
        return State.FAILED
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return outcome.state


def _fail_after_write_back_error(job: TrainingJob, error: Exception) -> None:
    reason = f"The result could not be saved: {type(error).__name__}: {error}"[:500]
    for onto_the_card in (True, False):  # if the card cannot take it either, the job alone says so
        try:
            with transaction.atomic():
                if TrainingJob.objects.filter(pk=job.pk, state=State.RUNNING, attempts=job.attempts).update(
                    state=State.FAILED, finished_at=timezone.now(), error=reason,
                ) and onto_the_card:
                    job.refresh_from_db()
                    _write_back(job)
            return
        except Exception:  # the database is gone: the reaper will find the stale heartbeat
            logger.exception("run %s: could not record the failed write-back", job.pk)


def _store_artifacts(job: TrainingJob, outcome) -> list[Artifact]:
    stored = []
    for item in outcome.artifacts:
        artifact = Artifact(job=job, name=item.name[:200], kind=item.kind, size=item.size)
        with open(item.path, "rb") as handle:
            artifact.file.save(Path(item.path).name, File(handle), save=False)
        stored.append(artifact)
    return stored


def run_url(job: TrainingJob) -> str:
    return reverse("experiments:run", args=[job.board_id, job.pk])


def job_finish(job: TrainingJob, outcome) -> bool:
    """The write-back, in one transaction: the job's result, its metrics'
    last batch (already in), artifacts, and through board services the card's
    results, the hypothesis verdict, the event in words and the move. False
    when the job was no longer this attempt's (cancelled or reaped meanwhile):
    then only the log is kept."""
    artifacts = _store_artifacts(job, outcome) if outcome.state == State.SUCCEEDED else []
    now = timezone.now()
    result_fields = {
        "log": outcome.log, "log_skipped_bytes": outcome.log_skipped_bytes, "code_version": outcome.code_version,
        "environment": outcome.environment, "exit_code": outcome.exit_code, "traceback": outcome.traceback,
        "final_metrics": outcome.final_metrics, "params_logged": {**job.params_logged, **outcome.params_logged},
    }
    try:
        with transaction.atomic():
            mine = TrainingJob.objects.filter(pk=job.pk, state=State.RUNNING, attempts=job.attempts).update(
                state=outcome.state, finished_at=now, error=outcome.error[:500],
                progress=1.0 if outcome.state == State.SUCCEEDED else F("progress"),
                progress_message="" if outcome.state == State.SUCCEEDED else F("progress_message"),
                **result_fields,
            )
            if not mine:
                TrainingJob.objects.filter(pk=job.pk, attempts=job.attempts, state=State.CANCELLED).update(
                    **result_fields)
                _delete_files(artifacts)
                return False
            Artifact.objects.bulk_create(artifacts)
            job.state, job.finished_at, job.error = outcome.state, now, outcome.error[:500]
            job.final_metrics = outcome.final_metrics
            _write_back(job)
            if job.sweep_id:
                sweep_finish_if_done(job.sweep_id)
    except BaseException:
        _delete_files(artifacts)  # stored before the transaction, which did not keep their rows
        raise
    return True


def _delete_files(artifacts: list[Artifact]) -> None:
    for artifact in artifacts:
        artifact.file.delete(save=False)


def _write_back(job: TrainingJob) -> None:
    board_results.ticket_record_run(
        board=job.board, ticket_id=job.ticket_id,
        outcome=board_results.RunOutcome(
            run_id=job.pk, state=job.state, metrics=job.final_metrics, hypothesis_id=job.hypothesis_id,
            error=job.error, url=run_url(job), user=job.created_by,
        ),
    )


# --- cancel, retry ------------------------------------------------------------

class JobRefused(Exception):
    """A request that the job's state refuses (cancel a finished job, …): a 409."""


@transaction.atomic
def job_cancel(*, board: Board, job_id, actor) -> TrainingJob:
    """Cancel a queued or running job. A running job's trainer is killed at
    its next heartbeat, when the runner finds the job is no longer running."""
    job = job_for(board, job_id)
    cancelled = TrainingJob.objects.filter(pk=job.pk, state__in=ACTIVE_STATES).update(
        state=State.CANCELLED, finished_at=timezone.now(),
        error=f"Cancelled by {actor.get_full_name() or actor.get_username()}"[:500],
    )
    if not cancelled:
        raise JobRefused(f"{job.label} already {job.get_state_display().lower()}: only queued or running runs can "
                         "be cancelled.")
    job.refresh_from_db()
    _write_back(job)
    if job.sweep_id:
        sweep_finish_if_done(job.sweep_id)
    return job


def job_retry(*, board: Board, job_id, actor) -> TrainingJob:
    """A new run of the same spec (the old one keeps its result)."""
    job = job_for(board, job_id)
    if job.state in ACTIVE_STATES:
        raise JobRefused(f"{job.label} is still {job.get_state_display().lower()}: cancel it or wait for it to end "
                         "before retrying.")
    spec = JobSpec.clean(trainer=job.trainer, dataset=job.dataset, params=job.params, timeout_s=job.timeout_s,
                         memory_mb=job.memory_mb, queue=job.queue)
    return job_create(board=board, ticket_id=job.ticket_id, actor=actor, spec=spec,
                      hypothesis_id=job.hypothesis_id, retry_of=job)


# --- the reaper ---------------------------------------------------------------

def reap(now=None) -> dict:
    """Jobs whose heartbeat went stale lost their worker (SIGKILL, a lost
    host): re-queue them while attempts remain, else fail them with the
    reason. Then sweep the outbox. Run by celery beat every few seconds."""
    now = now or timezone.now()
    stale_before = now - timezone.timedelta(seconds=settings.JOB_LOST_AFTER_S)
    requeued = failed = 0
    for job in TrainingJob.objects.filter(state=State.RUNNING, heartbeat_at__lt=stale_before).only(
        "id", "attempts", "max_attempts", "worker", "board_id",
    ):
        with transaction.atomic():
            lost = TrainingJob.objects.filter(
                pk=job.pk, state=State.RUNNING, attempts=job.attempts, heartbeat_at__lt=stale_before
            ).update(state=State.LOST)
            if not lost:
                continue  # it finished, or beat, meanwhile
            reason = (f"Lost its worker {job.worker or '(unknown host)'}: no heartbeat for "
                      f"{settings.JOB_LOST_AFTER_S} s (attempt {job.attempts} of {job.max_attempts})")
            if job.attempts < job.max_attempts:
                TrainingJob.objects.filter(pk=job.pk, state=State.LOST).update(
                    state=State.QUEUED, dispatched_at=None, error=f"{reason}; re-queued"[:500], pid=None,
                )
                transaction.on_commit(lambda job_id=job.pk: job_dispatch(job_id))
                requeued += 1
            else:
                TrainingJob.objects.filter(pk=job.pk, state=State.LOST).update(
                    state=State.FAILED, finished_at=now, error=f"{reason}; giving up"[:500],
                )
                full = TrainingJob.objects.select_related("board").get(pk=job.pk)
                _write_back(full)
                if full.sweep_id:
                    sweep_finish_if_done(full.sweep_id)
                failed += 1
            board_results.pulse(job.board_id)
    dispatched = dispatch_pending(now)
    return {"requeued": requeued, "failed": failed, "dispatched": dispatched}


# --- sweeps -------------------------------------------------------------------

def sweep_points(info, mode: str, space: dict, samples: int | None, seed: int) -> list[dict]:
    """The parameter points of a sweep: every combination of a grid, or N
    random samples (uniform, or log-uniform for a parameter declared log)."""
    params = {p.name: p for p in info.params}
    unknown = sorted(set(space) - set(params))
    if unknown:
        raise ValidationError({"space": f"{info.title} has no parameter {', '.join(unknown)}."})
    if not space:
        raise ValidationError({"space": "Choose at least one parameter to sweep over."})
    limit = settings.JOB_SWEEP_MAX_POINTS
    if mode == Sweep.Mode.GRID:
        for name, values in space.items():
            if not isinstance(values, list) or not values:
                raise ValidationError({"space": f"Give {name} a list of values to try."})
        count = math.prod(len(v) for v in space.values())
        if count > limit:
            raise ValidationError({"space": f"That grid has {count:,} points; a sweep may have at most {limit}."})
        names = list(space)
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(space[n] for n in names))]
    if mode != Sweep.Mode.RANDOM:
        raise ValidationError({"mode": "Choose a grid or random samples."})
    if not isinstance(samples, int) or not 1 <= samples <= limit:
        raise ValidationError({"samples": f"Choose between 1 and {limit} samples."})
    rng = random.Random(seed)
    points = []
    for _ in range(samples):
        point = {}
        for name, values in space.items():
            param = params[name]
            if isinstance(values, list):
                if not values:
                    raise ValidationError({"space": f"Give {name} values to sample from."})
                point[name] = rng.choice(values)
                continue
            if param.kind not in ("int", "float") or not isinstance(values, dict):
                raise ValidationError({"space": f"Give {name} a list of values, or a range for a number."})
            low, high = values.get("min", param.min), values.get("max", param.max)
            if low is None or high is None or not low < high:
                raise ValidationError({"space": f"Give {name} a range with min below max."})
            if param.log and low > 0:
                value = math.exp(rng.uniform(math.log(low), math.log(high)))
            else:
                value = rng.uniform(low, high)
            point[name] = round(value) if param.kind == "int" else value
        points.append(point)
    return points


def sweep_create(*, board: Board, ticket_id, actor, spec: JobSpec, mode: str, space: dict, samples: int | None = None,
                 metric: str, direction: str = "higher", hypothesis_id=None) -> Sweep:
    """One job per point, fanned out as a Celery group when the transaction
    commits. The sweep ends when its last job does (sweep_finish_if_done),
    counted in the database rather than by a chord: a job the reaper re-queues
    gets a new task id, which a chord's counter would never see."""
    from celery import group

    from .tasks import run_job

    info = trainers.resolve(spec.trainer)
    metric = (metric or "").strip()
    if not metric or len(metric) > 100:
        raise ValidationError({"metric": "Name the metric that ranks the runs, e.g. roc_auc."})
    if direction not in Hypothesis.Direction.values:
        raise ValidationError({"direction": "Choose whether higher or lower is better."})
    points = sweep_points(info, mode, space, samples, seed=int(timezone.now().timestamp()))
    cleaned = []
    for point in points:
        try:
            cleaned.append(trainers.validate_params(info, {**spec.params, **point}))
        except ValidationError as error:
            raise ValidationError({"space": f"The point {point} is refused: {error.messages[0]}"}) from None
    with transaction.atomic():
        ticket = _ticket(board, ticket_id)
        hypothesis = _hypothesis(ticket, hypothesis_id)
        sweep = Sweep.objects.create(
            board=board, ticket=ticket, hypothesis=hypothesis, mode=mode, space=space, samples=samples,
            metric=metric, direction=direction, created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        jobs = [
            job_create(board=board, ticket_id=ticket.pk, actor=actor, sweep=sweep, hypothesis_id=hypothesis_id,
                       spec=JobSpec(**{**spec.__dict__, "params": params}), dispatch=False)
            for params in cleaned
        ]

        def fan_out():
            try:
                group(run_job.si(job.pk).set(queue=job.queue) for job in jobs).apply_async()
            except Exception as error:
                logger.warning("sweep %s: broker unreachable, jobs left in the outbox: %s", sweep.pk, error)
                return
            TrainingJob.objects.filter(sweep=sweep, state=State.QUEUED, dispatched_at__isnull=True).update(
                dispatched_at=timezone.now()
            )

        transaction.on_commit(fan_out)
    return sweep


def sweep_finish_if_done(sweep_id: int) -> bool:
    """Called in the transaction that ends one of the sweep's jobs: the last
    one to end writes the comparison table and the best run onto the ticket."""
    sweep = Sweep.objects.select_for_update().get(pk=sweep_id)
    if sweep.finished_at is not None or sweep.jobs.filter(state__in=[*ACTIVE_STATES, State.LOST]).exists():
        return False
    jobs = list(sweep.jobs.order_by("id"))
    rows, best = [], None
    higher = sweep.direction == Hypothesis.Direction.HIGHER
    for job in jobs:
        value = job.final_metrics.get(sweep.metric) if job.state == State.SUCCEEDED else None
        rows.append({"run": job.pk, "state": job.state, "params": job.params, "value": value})
        if value is not None and (best is None or (value > best[1] if higher else value < best[1])):
            best = (job, value)
    rows.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0) if higher else (r["value"] or 0)))
    sweep.finished_at = timezone.now()
    sweep.best_job = best[0] if best else None
    sweep.save(update_fields=["finished_at", "best_job"])
    board_results.ticket_record_sweep(
        board=sweep.board, ticket_id=sweep.ticket_id, sweep_id=sweep.pk, metric=sweep.metric,
        direction=sweep.direction, rows=rows, best_run=best[0].pk if best else None,
        url=reverse("experiments:sweep", args=[sweep.board_id, sweep.pk]), user=sweep.created_by,
    )
    return True

