"""`manage.py seed_runs`: real training runs and decided hypotheses on the demo board.

The board is a small stand-in for seed_demo's (its name, the three experiment cards
and chloe), so the real trainings are the only slow part; a separate test checks that
seed_demo does create those cards.
"""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from board.management.commands import seed_demo
from board.models import EventSource, Hypothesis, TicketEvent
from experiments import services
from experiments.management.commands import seed_runs
from experiments.models import Metric, Sweep, TrainingJob
from tests.factories import UserFactory, make_board, make_ticket

CARDS = (seed_runs.LR_TICKET, seed_runs.GB_TICKET, seed_runs.SWEEP_TICKET)


def run_command() -> str:
    out = StringIO()
    call_command("seed_runs", stdout=out)
    return out.getvalue()


@pytest.fixture
def demo_board(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.JOBS_DIR = tmp_path / "jobs"
    chloe = UserFactory(username=seed_runs.RUNNER)
    board = make_board(chloe, name=seed_demo.DEMO_BOARD_NAME)
    cards = {title: make_ticket(board, chloe, title=title) for title in CARDS}
    return board, cards


def test_seed_runs_names_cards_and_a_member_that_seed_demo_creates():
    titles = {spec.title for spec in seed_demo.TICKETS}
    assert set(CARDS) <= titles
    members = {username for username, *_rest, role, _job in seed_demo.DEMO_USERS if role != "viewer"}
    assert seed_runs.RUNNER in members


@pytest.mark.django_db
def test_seed_runs_trains_real_runs_whose_results_decide_the_hypotheses(demo_board):
    board, cards = demo_board

    output = run_command()

    jobs = list(TrainingJob.objects.filter(board=board).order_by("id"))
    assert [job.state for job in jobs] == ["succeeded"] * 6 + ["timed_out"]
    for job in jobs[:6]:
        assert 0.9 < job.final_metrics["roc_auc"] <= 1.0
        assert Metric.objects.filter(job=job, key="val_accuracy").count() >= 2  # a learning curve
        names = {artifact.name: artifact for artifact in job.artifacts.all()}
        assert {"confusion_matrix.png", "model.joblib"} <= set(names)
        png = Path(names["confusion_matrix.png"].file.path)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "timeout" in jobs[-1].error

    statuses = {h.ticket.title: h.status for h in Hypothesis.objects.filter(board=board).select_related("ticket")}
    assert statuses[seed_runs.LR_TICKET] == Hypothesis.Status.SUPPORTED  # logistic regression ≈ 0.995
    assert statuses[seed_runs.GB_TICKET] == Hypothesis.Status.REFUTED  # trees miss it and the LR baseline
    assert statuses[seed_runs.SWEEP_TICKET] != Hypothesis.Status.OPEN

    sweep = Sweep.objects.get(board=board)
    assert sweep.finished_at is not None and sweep.best_job is not None
    sweep_card = cards[seed_runs.SWEEP_TICKET]
    sweep_card.refresh_from_db()
    assert sweep_card.results["last"]["state"] == "timed_out"  # the card shows the failed run
    assert len(sweep_card.results["sweep"]["rows"]) == 3
    assert TicketEvent.objects.filter(board=board, source=EventSource.RUN, field="run").count() == 7
    assert "supported" in output and "refuted" in output


@pytest.mark.django_db
def test_seed_runs_does_nothing_when_the_demo_board_has_runs(demo_board):
    board, cards = demo_board
    spec = services.JobSpec.clean(trainer="experiments.trainers.builtin:logistic_regression", dataset="iris")
    services.job_create(board=board, ticket_id=cards[seed_runs.LR_TICKET].pk, actor=None, spec=spec, dispatch=False)

    output = run_command()

    assert "nothing changed" in output
    assert TrainingJob.objects.filter(board=board).count() == 1
    assert not Hypothesis.objects.filter(board=board).exists()


@pytest.mark.django_db
def test_seed_runs_asks_for_seed_demo_when_there_is_no_demo_board():
    with pytest.raises(CommandError, match="seed_demo"):
        run_command()
