"""A board with something on every page, for the page-wide browser checks
(tests/browser/test_accessibility.py, test_pages_on_phones.py): labels, an
epic, assigned and blocked cards, a closed and an active sprint with moves
over the last weeks (so the burndown, the reports and the standup have data),
and two ended training runs on one card (the run page and compare).

Runs end through experiments.services as tests/experiments/test_run_pages.py
ends them: claimed and finished with a RunOutcome, no worker, no trainer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone

from board import services
from board.models import Sprint, Ticket
from experiments import runner
from experiments import services as runs
from experiments.models import TrainingJob
from tests.factories import make_ticket

LOGREG = "experiments.trainers.builtin:logistic_regression"
DESKTOP = {"viewport": {"width": 1440, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
SIZES = {"1440x900": DESKTOP, "390x844": PHONE}


@dataclass
class Sample:
    board: object
    sprint: Sprint
    card: Ticket
    runs: list[TrainingJob]

    def url(self, name: str) -> str:
        """The path of one of the sample's pages, by a short name."""
        b = self.board.pk
        return {
            "login": "/accounts/login/",
            "signup": "/accounts/signup/",
            "boards": "/",
            "board": f"/b/{b}/",
            "board-lanes": f"/b/{b}/?lanes=epic",
            "settings": f"/b/{b}/settings/",
            "sprints": f"/b/{b}/sprints/",
            "sprint": f"/b/{b}/sprints/{self.sprint.pk}/",
            "plan": f"/b/{b}/sprints/{self.sprint.pk}/plan/",
            "standup": f"/b/{b}/standup/",
            "reports": f"/b/{b}/reports/",
            "run": f"/b/{b}/runs/{self.runs[0].pk}/",
            "compare": f"/b/{b}/t/{self.card.number}/compare/?runs={self.runs[0].pk},{self.runs[1].pk}",
        }[name]


def _finish(job: TrainingJob, *, accuracy: float) -> None:
    claimed = runs.job_claim(job.pk, worker="gpu-box-7", celery_id=f"celery-{job.pk}") or job
    runs.metrics_insert(job.pk, [("val_loss", step, 1.0 / (step + 1), timezone.now()) for step in range(12)])
    runs.job_finish(claimed, runner.RunOutcome(
        state="succeeded", error="", traceback="", final_metrics={"accuracy": accuracy, "val_loss": 0.08},
        artifacts=[], params_logged={"n_train": 112}, log="epoch 1\nepoch 2\n", log_skipped_bytes=0, exit_code=0,
        code_version={"file": "/srv/trainers/logreg.py", "commit": "0123456789abcdef0123", "dirty": False},
        environment={"python": "3.11.2", "scikit-learn": "1.9.0", "hostname": "gpu-box-7"},
    ))


def make_sample(board, alice, bob, tmp_path) -> Sample:
    """The sample on board; anything the runs would write goes under tmp_path."""
    columns = {c.name: c for c in board.columns.all()}
    now, today = timezone.now(), timezone.localdate()
    vision = services.label_create(board=board, name="vision", color="#1f7a8c")
    data = services.label_create(board=board, name="data", color="#b45309")
    epic = services.epic_create(board=board, name="Churn model v2", color="#7c3aed")
    Sprint.objects.create(board=board, name="Sprint 1", start=today - timedelta(days=24),
                          end=today - timedelta(days=11), state=Sprint.State.CLOSED, committed_points=13,
                          completed_points=10, closed_at=now - timedelta(days=10))
    sprint = Sprint.objects.create(board=board, name="Sprint 2", start=today - timedelta(days=10),
                                   end=today + timedelta(days=3), state=Sprint.State.ACTIVE,
                                   started_at=now - timedelta(days=10), committed_points=11)
    plan = [("Label noise audit", "research", 3, alice, (vision,)),
            ("Fix leakage in target encoding", "bug", 1, bob, (data,)),
            ("Baseline: logistic regression", "experiment", 5, alice, (vision, data)),
            ("Feature store reader", "story", 2, bob, ()),
            ("Calibrate the churn scores", "story", 3, None, ())]
    for i, (title, kind, points, person, labels) in enumerate(plan):
        start = now - timedelta(days=9 - i)
        ticket = services.ticket_create(board=board, actor=services.Writer(alice, at=start), data=services.TicketInput(
            title=title, kind=kind, points=points, sprint=sprint, assignee=person, labels=labels,
            epic=epic if i % 2 == 0 else None))
        for step, column in enumerate(["Whiteboarding", "Implementation", "Done"][: 1 + i % 3]):
            services.ticket_move(board=board, actor=services.Writer(alice, at=start + timedelta(days=1 + step)),
                                 ticket_id=ticket.pk, expected_version=Ticket.objects.get(pk=ticket.pk).version,
                                 to_column_id=columns[column].pk, position="bottom")
    make_ticket(board, bob, title="GPU quota ran out for the sweep", kind="experiment", points=8, assignee=bob,
                labels=(data,), epic=epic, blocked=True, blocked_reason="Waiting for the infra team",
                column=columns["Implementation"])
    make_ticket(board, alice, title="Try gradient boosting", points=5)  # in the backlog, unplanned
    services.comment_add(board=board, ticket_id=Ticket.objects.get(board=board, number=2).pk, author=bob,
                         body="The customer id leaked into the **features**.")
    card = make_ticket(board, alice, title="Logistic regression beats 0.9 on iris", kind="experiment",
                       assignee=alice, column=columns["Implementation"])
    ended = []
    with override_settings(MEDIA_ROOT=tmp_path / "media", JOBS_DIR=tmp_path / "jobs"):
        for accuracy, c in ((0.93, 1.0), (0.95, 0.3)):
            spec = runs.JobSpec.clean(trainer=LOGREG, dataset="iris", params={"C": c})
            job = runs.job_create(board=board, ticket_id=card.pk, actor=alice, spec=spec)
            _finish(job, accuracy=accuracy)
            ended.append(TrainingJob.objects.get(pk=job.pk))
    return Sample(board=board, sprint=sprint, card=card, runs=ended)


def signed_in(context, live_server, username: str) -> None:
    """Give a browser context the user's session cookie (the sign-in form has its own tests)."""
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": live_server.url,
                          "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
