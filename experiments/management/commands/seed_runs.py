"""Real training runs on the demo board: `manage.py seed_runs`, after seed_demo.

Adds hypotheses to three experiment cards of the demo board ("Churn prediction —
Sprint 14") and runs real trainings on scikit-learn's breast-cancer data through
the path a Run click takes, in this process: services.job_create(dispatch=False),
then services.job_run (the trainer in a forked child, metrics in batches, the
confusion matrix and the model as artifacts, and the write-back of results and
verdicts onto the cards). Nothing is made up: every figure on the cards comes from
a run.

- Logistic regression baseline: "ROC AUC ≥ 0.99" (supported by the run).
- Gradient boosting baseline: gradient boosting and a random forest try to beat
  the logistic regression's ROC AUC (its run is the baseline); they miss (refuted).
- LightGBM sweep: a three-point grid over gradient boosting's learning rate tests
  whether tuning lifts it above its default run, and one run whose parameters
  cannot finish within its 2-second timeout ends timed out (the card's failure flag).

Idempotent: once the demo board has runs it does nothing. It takes 10 to 30 s,
most of it the trainer runtime's one-time import of scikit-learn. The sweep also
hands its tasks to the broker (as every sweep does); a worker that receives them
later finds the jobs finished and does not run them again.
"""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from board.management.commands.seed_demo import DEMO_BOARD_NAME
from board.models import Board, Hypothesis, Ticket
from board.services import results as board_results
from experiments import services
from experiments.models import FINAL_STATES, TrainingJob

DATASET = "breast_cancer"
BUILTIN = "experiments.trainers.builtin"
LR_TICKET = "Logistic regression baseline on 12 core features"
GB_TICKET = "Gradient boosting baseline (LightGBM, default parameters)"
SWEEP_TICKET = "Hyperparameter sweep for LightGBM (Optuna, 60 trials)"
RUNNER = "chloe"  # the demo team's ML engineer
SWEEP_WAIT_S = 300


class Command(BaseCommand):
    help = "Add hypotheses and real training runs to the demo board (after seed_demo)."

    def handle(self, *args, **options):
        board = Board.objects.filter(name=DEMO_BOARD_NAME).first()
        if board is None:
            raise CommandError(f"No demo board “{DEMO_BOARD_NAME}”: run `manage.py seed_demo` first.")
        if TrainingJob.objects.filter(board=board).exists():
            self.stdout.write("The demo board has training runs already; nothing changed.")
            return
        self.board = board
        self.actor = get_user_model().objects.filter(username=RUNNER).first()
        if self.actor is None:
            raise CommandError(f"The demo account “{RUNNER}” is missing: run `manage.py seed_demo --reset`.")
        started = time.monotonic()

        lr_card, gb_card, sweep_card = (self._ticket(title) for title in (LR_TICKET, GB_TICKET, SWEEP_TICKET))
        h_lr = self._hypothesis(lr_card, "Logistic regression reaches ROC AUC ≥ 0.99 on the breast-cancer check set",
                                target=0.99)
        lr = self._run(lr_card, "logistic_regression", {}, h_lr)

        lr_auc = self._roc_auc(lr)
        h_gb = self._hypothesis(gb_card, "Boosted or bagged trees beat the logistic regression's ROC AUC (≥ 0.99)",
                                target=0.99, baseline=lr_auc, baseline_run=lr.pk)
        gb = self._run(gb_card, "gradient_boosting", {}, h_gb)
        self._run(gb_card, "random_forest", {"n_estimators": 50}, h_gb)

        gb_auc = self._roc_auc(gb)
        h_sweep = self._hypothesis(
            sweep_card, "Tuning the learning rate lifts gradient boosting to ROC AUC ≥ 0.99", target=0.99,
            baseline=gb_auc, baseline_run=gb.pk,
        )
        self._sweep(sweep_card, h_sweep)
        # Too many deep stages for a 2-second timeout: the runner stops it (timed out).
        self._run(sweep_card, "gradient_boosting",
                  {"n_estimators": 2000, "max_depth": 32, "learning_rate": 0.01}, None, timeout_s=2)

        for h in Hypothesis.objects.filter(board=board).order_by("id"):
            h.refresh_from_db()
            best = "no value" if h.best_value is None else f"best {h.metric} {h.best_value:.4f}"
            self.stdout.write(f"  “{h.statement}”: {h.get_status_display().lower()} ({best}, target {h.target})")
        jobs = TrainingJob.objects.filter(board=board)
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {jobs.count()} training runs ({jobs.filter(state='succeeded').count()} succeeded) on "
            f"“{DEMO_BOARD_NAME}” in {time.monotonic() - started:.0f} s."
        ))

    # --- helpers ---------------------------------------------------------------

    def _ticket(self, title: str) -> Ticket:
        ticket = Ticket.objects.filter(board=self.board, title=title).first()
        if ticket is None:
            raise CommandError(f"The demo board has no card “{title}”: update seed_runs to match seed_demo.")
        return ticket

    def _hypothesis(self, ticket: Ticket, statement: str, *, target: float, baseline=None,
                    baseline_run=None) -> Hypothesis:
        """The card's hypothesis with this statement (one left by an interrupted earlier seed is reused)."""
        existing = Hypothesis.objects.filter(ticket=ticket, statement=statement).first()
        if existing is not None:
            return existing
        return board_results.hypothesis_create(
            board=self.board, ticket_id=ticket.pk, actor=self.actor, statement=statement, metric="roc_auc",
            direction=Hypothesis.Direction.HIGHER, target=target, baseline=baseline, baseline_run=baseline_run,
        )

    def _spec(self, trainer: str, params: dict, timeout_s: int | None = None) -> services.JobSpec:
        return services.JobSpec.clean(trainer=f"{BUILTIN}:{trainer}", dataset=DATASET, params=params,
                                      timeout_s=timeout_s)

    def _run(self, ticket: Ticket, trainer: str, params: dict, hypothesis: Hypothesis | None,
             timeout_s: int | None = None) -> TrainingJob:
        job = services.job_create(board=self.board, ticket_id=ticket.pk, actor=self.actor,
                                  spec=self._spec(trainer, params, timeout_s),
                                  hypothesis_id=hypothesis.pk if hypothesis else None, dispatch=False)
        services.job_run(job.pk, worker="seed_runs")
        return self._report(job)

    def _sweep(self, ticket: Ticket, hypothesis: Hypothesis) -> None:
        sweep = services.sweep_create(
            board=self.board, ticket_id=ticket.pk, actor=self.actor,
            spec=self._spec("gradient_boosting", {"n_estimators": 30, "max_depth": 2}), mode="grid",
            space={"learning_rate": [0.05, 0.2, 0.5]}, metric="roc_auc", direction=Hypothesis.Direction.HIGHER,
            hypothesis_id=hypothesis.pk,
        )
        jobs = list(sweep.jobs.order_by("id"))
        for job in jobs:
            services.job_run(job.pk, worker="seed_runs")  # "not claimed" if a running worker was quicker
        deadline = time.monotonic() + SWEEP_WAIT_S
        while TrainingJob.objects.filter(sweep=sweep).exclude(state__in=FINAL_STATES).exists():
            if time.monotonic() > deadline:
                raise CommandError(f"The demo sweep's runs did not end within {SWEEP_WAIT_S} s.")
            time.sleep(0.5)
        for job in jobs:
            self._report(job)

    def _roc_auc(self, job: TrainingJob) -> float:
        """A baseline run's ROC AUC; a run that failed here means the trainer runtime is broken."""
        if job.state != "succeeded" or "roc_auc" not in job.final_metrics:
            raise CommandError(f"{job.label} ({job.trainer}) {job.get_state_display().lower()}: {job.error}")
        return job.final_metrics["roc_auc"]

    def _report(self, job: TrainingJob) -> TrainingJob:
        job.refresh_from_db()
        if job.state == "succeeded":
            shown = f"roc_auc {job.final_metrics.get('roc_auc', float('nan')):.4f}"
        else:
            shown = job.error
        self.stdout.write(f"{job.label} on #{job.ticket.number} ({job.trainer.rsplit(':', 1)[-1]}): "
                          f"{job.get_state_display().lower()}, {shown}")
        return job
