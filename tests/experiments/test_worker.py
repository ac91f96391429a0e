"""The real path: a job created as the Run button creates it, run by a real
Celery worker (a subprocess) on the broker and database this pass uses, its
results written back onto the card."""

import pytest

from board.models import TicketEvent
from board.services import results as board_results
from experiments import services
from experiments.models import Artifact, Metric, TrainingJob
from tests.experiments.conftest import create_job, gone, wait_for, wait_for_job

# A worker's start-up on a busy machine can take a while: more than the suite's 120 s per test.
pytestmark = [
    pytest.mark.usefixtures("job_settings"), pytest.mark.django_db(transaction=True), pytest.mark.timeout(300),
]

LOGISTIC_REGRESSION = "experiments.trainers.builtin:logistic_regression"


def test_a_logistic_regression_on_iris_runs_on_a_real_worker_and_writes_back_onto_the_card(
    worker, board, card, columns, alice, bob
):
    board.move_on_success = columns[3]  # Implementation → Code review on success
    board.save(update_fields=["move_on_success"])
    hypothesis = board_results.hypothesis_create(
        board=board, ticket_id=card.pk, actor=alice, statement="A linear model separates iris",
        metric="roc_auc", direction="higher", target=0.9,
    )

    job = create_job(board, card, bob, LOGISTIC_REGRESSION, hypothesis=hypothesis)
    job = wait_for_job(job, worker=worker)

    assert (job.state, job.error, job.attempts) == ("succeeded", "", 1), job.log
    assert job.worker.startswith(worker.hostname)
    assert job.progress == 1.0
    assert {"accuracy", "f1", "roc_auc"} <= set(job.final_metrics)
    # the learning curve: points per step, inserted while it ran
    steps = list(Metric.objects.filter(job=job, key="val_accuracy").order_by("step").values_list("step", flat=True))
    assert len(steps) >= 2 and steps == sorted(set(steps))
    artifacts = {a.kind: a for a in Artifact.objects.filter(job=job)}
    assert set(artifacts) == {"image", "model"}
    with artifacts["image"].file.open("rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"
    assert artifacts["model"].file.size == artifacts["model"].size > 0

    roc_auc = job.final_metrics["roc_auc"]
    card.refresh_from_db()
    assert card.results["last"]["state"] == "succeeded"
    assert card.results["metrics"]["roc_auc"] == roc_auc
    assert card.column_id == columns[3].pk
    words = TicketEvent.objects.get(ticket=card, field="run").new_display
    assert words == f"run {job.pk} succeeded: roc_auc {roc_auc:.4g} ≥ 0.9, hypothesis supported"
    hypothesis.refresh_from_db()
    assert (hypothesis.status, hypothesis.best_run, hypothesis.best_value) == ("supported", job.pk, roc_auc)



def test_cancelling_a_running_job_kills_its_trainer_and_keeps_what_it_logged(worker, board, card, bob):
    job = create_job(board, card, bob, "sleepy", params={"seconds": 60, "steps": 600})
    job = wait_for_job(job, ("running",), worker=worker, also=lambda job: job.pid is not None and job.progress > 0)

    services.job_cancel(board=board, job_id=job.pk, actor=bob)

    # the runner sees it at its next heartbeat and kills the trainer's process group
    wait_for(lambda: gone(job.pid), timeout=10, what=f"the cancelled trainer {job.pid} to exit",
             details=worker.output)
    wait_for(lambda: TrainingJob.objects.filter(pk=job.pk).exclude(exit_code=None).exists(), timeout=10,
             what="the cancelled attempt to record how it ended", details=worker.output)
    job.refresh_from_db()
    assert (job.state, job.error, job.exit_code) == ("cancelled", "Cancelled by Bob Member", -9)
    assert Metric.objects.filter(job=job, key="loss").exists()
    assert list(TicketEvent.objects.filter(ticket=card, field="run").values_list("new_display", flat=True)) == [
        f"run {job.pk} cancelled: Cancelled by Bob Member"]
