"""experiments.services without a worker: a job is sent when its transaction
commits, claimed once, run once however often it is delivered; cancel and
retry refuse what the job's state refuses; the reaper re-queues or fails a
job whose heartbeat went stale; a broker that is down leaves the job in the
outbox; and the end of a job is written back all or nothing."""

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from board.models import TicketEvent
from board.services import results as board_results
from experiments import runner, services
from experiments.models import Artifact, Metric, TrainingJob
from tests.experiments.conftest import LOST_AFTER_S, create_job

pytestmark = pytest.mark.usefixtures("job_settings")


class FakeRunJob:
    """Stands in for the run_job task: records what would reach the broker."""

    def __init__(self):
        self.sent = []

    def apply_async(self, args=None, queue=None, **options):
        self.sent.append((args[0], queue))
        return SimpleNamespace(id=f"task-{len(self.sent)}")


@pytest.fixture
def broker(monkeypatch):
    fake = FakeRunJob()
    monkeypatch.setattr("experiments.tasks.run_job", fake)
    return fake


def succeeded(**metrics) -> runner.RunOutcome:
    return runner.RunOutcome(state="succeeded", final_metrics=metrics, log="trained\n", exit_code=0)


def run_events(card) -> list[str]:
    return list(TicketEvent.objects.filter(ticket=card, field="run").order_by("id").values_list("new_display",
                                                                                                flat=True))


# --- dispatch on commit ---------------------------------------------------------------

@pytest.mark.django_db
def test_a_new_job_is_sent_to_its_queue_when_its_transaction_commits_and_not_before(
    board, card, bob, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        job = create_job(board, card, bob, queue="gpu")
    assert broker.sent == []
    assert (job.state, job.dispatched_at) == ("queued", None)

    for callback in callbacks:  # the commit
        callback()

    assert broker.sent == [(job.pk, "gpu")]
    job.refresh_from_db()
    assert (job.state, job.celery_id, job.dispatch_error) == ("queued", "task-1", "")
    assert job.dispatched_at is not None


@pytest.mark.django_db
def test_a_job_whose_transaction_rolls_back_is_never_sent(board, card, bob, broker,
                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        with transaction.atomic():
            create_job(board, card, bob)
            raise RuntimeError("the request failed after creating the job")

    assert (callbacks, broker.sent, TrainingJob.objects.count()) == ([], [], 0)


# --- claim, and deliveries ------------------------------------------------------------

@pytest.mark.django_db
def test_a_job_is_claimed_once(board, card, bob):
    job = create_job(board, card, bob)

    first = services.job_claim(job.pk, worker="w1@host", celery_id="delivery-1")
    second = services.job_claim(job.pk, worker="w2@host", celery_id="delivery-2")

    assert first is not None and second is None
    job.refresh_from_db()
    assert (job.state, job.attempts, job.worker, job.celery_id) == ("running", 1, "w1@host", "delivery-1")


@pytest.fixture
def counted_runner(monkeypatch):
    """runner.execute replaced by a fake that counts the trainers it would start."""
    starts = []

    def execute(spec, hooks, heartbeat_s, **limits):
        starts.append(spec.job_id)
        hooks.on_start(4242)
        return succeeded(accuracy=0.9)

    monkeypatch.setattr(runner, "execute", execute)
    return starts


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_job_at_the_same_moment_start_its_trainer_once(board, card, bob, broker,
                                                                              counted_runner):
    job = create_job(board, card, bob)
    together = threading.Barrier(2)
    answers = []

    def deliver(n):
        try:
            together.wait(timeout=10)
            answers.append(services.job_run(job.pk, worker=f"w{n}@host", celery_id=f"delivery-{n}"))
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=deliver, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(answers) == ["not claimed", "succeeded"]
    assert counted_runner == [job.pk]
    job.refresh_from_db()
    assert (job.state, job.attempts, job.pid) == ("succeeded", 1, 4242)
    assert run_events(card) == [f"run {job.pk} succeeded: accuracy 0.9"]


@pytest.mark.django_db
def test_a_late_second_delivery_of_a_finished_job_starts_nothing(board, card, bob, counted_runner):
    job = create_job(board, card, bob)

    assert services.job_run(job.pk, worker="w1@host") == "succeeded"
    assert services.job_run(job.pk, worker="w2@host") == "not claimed"

    assert counted_runner == [job.pk]
    job.refresh_from_db()
    assert (job.state, job.attempts, job.worker) == ("succeeded", 1, "w1@host")


# --- cancel and retry -------------------------------------------------------------------

@pytest.mark.django_db
def test_cancelling_a_queued_job_ends_it_and_says_so_on_the_card(board, card, bob):
    job = create_job(board, card, bob)

    services.job_cancel(board=board, job_id=job.pk, actor=bob)

    job.refresh_from_db()
    assert (job.state, job.error) == ("cancelled", "Cancelled by Bob Member")
    assert services.job_claim(job.pk, worker="late@host") is None  # its message, if it comes, finds nothing
    assert run_events(card) == [f"run {job.pk} cancelled: Cancelled by Bob Member"]


@pytest.mark.django_db
def test_cancelling_a_running_job_stops_its_trainer_at_the_next_tick_and_its_end_is_not_recorded(board, card, bob):
    job = create_job(board, card, bob)
    running = services.job_claim(job.pk, worker="w1@host")
    hooks = services._Hooks(running)

    services.job_cancel(board=board, job_id=job.pk, actor=bob)

    tick = runner.Tick(metrics=[], progress=0.5, message="half", params={}, rss_mb=10.0)
    assert hooks.on_tick(tick) is False  # the runner kills the trainer
    assert services.job_finish(running, runner.RunOutcome(state="cancelled", log="stopped\n")) is False
    job.refresh_from_db()
    assert (job.state, job.error, job.log) == ("cancelled", "Cancelled by Bob Member", "stopped\n")
    assert run_events(card) == [f"run {job.pk} cancelled: Cancelled by Bob Member"]


@pytest.mark.django_db
def test_cancelling_a_finished_job_is_refused_and_changes_nothing(board, card, bob):
    job = create_job(board, card, bob)
    services.job_finish(services.job_claim(job.pk, worker="w1@host"), succeeded(accuracy=0.9))
    events = TicketEvent.objects.count()

    with pytest.raises(services.JobRefused) as refused:
        services.job_cancel(board=board, job_id=job.pk, actor=bob)

    assert str(refused.value) == f"run {job.pk} already succeeded: only queued or running runs can be cancelled."
    job.refresh_from_db()
    assert (job.state, TicketEvent.objects.count()) == ("succeeded", events)


@pytest.mark.django_db
def test_retrying_a_running_job_is_refused(board, card, bob):
    job = create_job(board, card, bob)
    services.job_claim(job.pk, worker="w1@host")

    with pytest.raises(services.JobRefused) as refused:
        services.job_retry(board=board, job_id=job.pk, actor=bob)

    assert str(refused.value) == (f"run {job.pk} is still running: cancel it or wait for it to end before "
                                  "retrying.")
    assert TrainingJob.objects.count() == 1


@pytest.mark.django_db
def test_retrying_a_failed_job_makes_a_new_run_of_the_same_spec(board, card, bob):
    job = create_job(board, card, bob, params={"seconds": 0.5, "steps": 3}, timeout_s=30, memory_mb=256)
    services.job_finish(services.job_claim(job.pk, worker="w1@host"),
                        runner.RunOutcome(state="failed", error="ValueError: boom"))

    again = services.job_retry(board=board, job_id=job.pk, actor=bob)

    assert (again.state, again.retry_of_id, again.attempts) == ("queued", job.pk, 0)
    assert (again.trainer, again.params, again.timeout_s, again.memory_mb, again.queue) == (
        job.trainer, job.params, 30, 256, "train")


@pytest.mark.django_db
def test_a_job_of_another_board_is_not_found(board, card, bob, charlie):
    from tests.factories import make_board

    job = create_job(board, card, bob)
    theirs = make_board(charlie, name="Charlie's")

    with pytest.raises(TrainingJob.DoesNotExist):
        services.job_cancel(board=theirs, job_id=job.pk, actor=charlie)
    with pytest.raises(TrainingJob.DoesNotExist):
        services.job_retry(board=theirs, job_id=job.pk, actor=charlie)
    job.refresh_from_db()
    assert job.state == "queued"


# --- the reaper ---------------------------------------------------------------------------

def _later(seconds: float):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


@pytest.mark.django_db(transaction=True)
def test_the_reaper_leaves_a_job_with_a_fresh_heartbeat_alone(board, card, bob, broker):
    job = create_job(board, card, bob)
    services.job_claim(job.pk, worker="w1@host")

    with _later(LOST_AFTER_S - 1):
        assert services.reap() == {"requeued": 0, "failed": 0, "dispatched": 0}

    job.refresh_from_db()
    assert job.state == "running"


@pytest.mark.django_db(transaction=True)
def test_the_reaper_requeues_a_job_whose_heartbeat_went_stale_and_sends_it_again(board, card, bob, broker):
    job = create_job(board, card, bob)  # committed: sent once
    lost_attempt = services._Hooks(services.job_claim(job.pk, worker="gone@host"))
    lost_attempt.on_tick(runner.Tick(metrics=[("loss", 1, 0.9, timezone.now())], progress=0.1, message="",
                                     params={}, rss_mb=1.0))

    with _later(LOST_AFTER_S + 1):
        report = services.reap()

    assert report == {"requeued": 1, "failed": 0, "dispatched": 0}  # sent by its own commit, not the outbox
    assert broker.sent == [(job.pk, "train"), (job.pk, "train")]
    job.refresh_from_db()
    assert (job.state, job.attempts, job.pid) == ("queued", 1, None)
    assert job.error == f"Lost its worker gone@host: no heartbeat for {LOST_AFTER_S} s (attempt 1 of 3); re-queued"
    # the next delivery claims it as its second attempt, without the lost attempt's points
    second = services.job_claim(job.pk, worker="w2@host")
    assert (second.attempts, second.progress, second.latest_metric) == (2, 0, None)
    assert not Metric.objects.filter(job=job).exists()


@pytest.mark.django_db(transaction=True)
def test_the_reaper_fails_a_lost_job_at_its_last_attempt_with_the_reason_on_the_card(board, card, bob, broker,
                                                                                      settings):
    settings.JOB_MAX_ATTEMPTS = 2
    job = create_job(board, card, bob)
    for attempt in (1, 2):
        services.job_claim(job.pk, worker=f"gone{attempt}@host")
        with _later(LOST_AFTER_S + 1):
            services.reap()

    job.refresh_from_db()
    reason = f"Lost its worker gone2@host: no heartbeat for {LOST_AFTER_S} s (attempt 2 of 2); giving up"
    assert (job.state, job.attempts, job.error) == ("failed", 2, reason)
    assert job.finished_at is not None
    assert run_events(card) == [f"run {job.pk} failed: {reason}"]
    card.refresh_from_db()
    assert (card.results["last"]["state"], card.results["last"]["error"]) == ("failed", reason)


# --- the outbox -----------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_with_the_broker_unreachable_the_job_waits_in_the_outbox_and_is_sent_once_it_is_back(
    board, card, bob, broker_url, monkeypatch
):
    broker_url("redis://127.0.0.1:1/0")  # nothing listens there

    job = create_job(board, card, bob)  # commits, and its dispatch fails: no exception for the caller

    job.refresh_from_db()
    assert (job.state, job.dispatched_at) == ("queued", None)
    assert job.dispatch_error == "Waiting for the broker (OperationalError); it will be sent when it is back."

    back = FakeRunJob()  # the broker is back
    monkeypatch.setattr("experiments.tasks.run_job", back)
    assert services.dispatch_pending() == 0  # a job a second old is left to its own commit
    with _later(3):
        assert services.dispatch_pending() == 1
    assert back.sent == [(job.pk, "train")]
    job.refresh_from_db()
    assert (job.state, job.dispatch_error, job.celery_id) == ("queued", "", "task-1")
    assert job.dispatched_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_outbox_sends_a_job_again_when_its_message_was_likely_lost(board, card, bob, broker):
    job = create_job(board, card, bob)
    assert broker.sent == [(job.pk, "train")]

    with _later(settings.JOB_REDISPATCH_AFTER_S - 10):
        assert services.dispatch_pending() == 0
    with _later(settings.JOB_REDISPATCH_AFTER_S + 10):
        assert services.dispatch_pending() == 1

    assert broker.sent == [(job.pk, "train"), (job.pk, "train")]


# --- the write-back ---------------------------------------------------------------------------

@pytest.fixture
def tested(board, card, alice, columns):
    """A hypothesis on the card, and the board set to move succeeded cards to Code review."""
    board.move_on_success = columns[3]
    board.save(update_fields=["move_on_success"])
    return board_results.hypothesis_create(
        board=board, ticket_id=card.pk, actor=alice, statement="Gradient boosting lifts ROC AUC above 0.93",
        metric="roc_auc", direction="higher", target=0.93,
    )


def _artifact(tmp_path) -> runner.ArtifactFile:
    path = tmp_path / "confusion_matrix.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n-not-really")
    return runner.ArtifactFile(name=path.name, path=path, kind="image", size=path.stat().st_size)


@pytest.mark.django_db
def test_a_succeeded_job_writes_its_result_verdict_event_and_move_onto_the_card(board, card, bob, columns, tested,
                                                                                tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    job = create_job(board, card, bob, hypothesis=tested)
    running = services.job_claim(job.pk, worker="w1@host")
    outcome = succeeded(roc_auc=0.962, accuracy=0.91)
    outcome.artifacts = [_artifact(tmp_path)]

    assert services.job_finish(running, outcome) is True

    job.refresh_from_db()
    assert (job.state, job.final_metrics, job.progress) == ("succeeded", {"roc_auc": 0.962, "accuracy": 0.91}, 1.0)
    artifact = Artifact.objects.get(job=job)
    assert (artifact.name, artifact.kind, artifact.file.read()) == (
        "confusion_matrix.png", "image", b"\x89PNG\r\n\x1a\n-not-really")
    assert run_events(card) == [f"run {job.pk} succeeded: roc_auc 0.962 ≥ 0.93, hypothesis supported"]
    card.refresh_from_db()
    assert card.column_id == columns[3].pk
    assert card.results["metrics"] == {"roc_auc": 0.962, "accuracy": 0.91}
    tested.refresh_from_db()
    assert (tested.status, tested.best_value, tested.best_run) == ("supported", 0.962, job.pk)


@pytest.mark.django_db
def test_when_the_write_back_fails_nothing_of_the_jobs_end_is_saved(board, card, bob, columns, tested, tmp_path,
                                                                    monkeypatch, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    job = create_job(board, card, bob, hypothesis=tested)
    running = services.job_claim(job.pk, worker="w1@host")
    Metric.objects.create(job=job, key="loss", step=1, value=0.5)  # logged while it ran: stays
    card.refresh_from_db()
    card_before = (card.column_id, card.results, card.version)
    events_before = TicketEvent.objects.count()
    record_run = board_results.ticket_record_run

    def record_then_fail(**kwargs):
        record_run(**kwargs)  # the card, the verdict, the event and the move are written …
        raise RuntimeError("the database went away")  # … and then the transaction fails

    monkeypatch.setattr(board_results, "ticket_record_run", record_then_fail)
    outcome = succeeded(roc_auc=0.962)
    outcome.artifacts = [_artifact(tmp_path)]

    with pytest.raises(RuntimeError):
        services.job_finish(running, outcome)

    job.refresh_from_db()
    assert (job.state, job.final_metrics, job.log, job.finished_at) == ("running", {}, "", None)
    assert not Artifact.objects.filter(job=job).exists()
    assert [path for path in (tmp_path / "media").rglob("*") if path.is_file()] == []  # no orphan files
    card.refresh_from_db()
    assert (card.column_id, card.results, card.version) == card_before
    assert TicketEvent.objects.count() == events_before
    tested.refresh_from_db()
    assert (tested.status, tested.best_value, tested.runs_tested) == ("open", None, 0)
    assert Metric.objects.filter(job=job).count() == 1


@pytest.mark.django_db
def test_a_job_whose_write_back_fails_ends_failed_with_the_reason_instead_of_staying_running(
    board, card, bob, tested, counted_runner, monkeypatch
):
    job = create_job(board, card, bob, hypothesis=tested)
    record_run = board_results.ticket_record_run
    calls = []

    def fail_once(**kwargs):
        calls.append(kwargs["outcome"].state)
        if len(calls) == 1:
            raise RuntimeError("constraint violated")
        return record_run(**kwargs)

    monkeypatch.setattr(board_results, "ticket_record_run", fail_once)

    assert services.job_run(job.pk, worker="w1@host") == "failed"

    job.refresh_from_db()
    assert job.state == "failed"
    assert job.error == "The result could not be saved: RuntimeError: constraint violated"
    assert calls == ["succeeded", "failed"]
    assert run_events(card) == [f"run {job.pk} failed: The result could not be saved: RuntimeError: constraint violated"]
