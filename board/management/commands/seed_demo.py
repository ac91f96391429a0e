"""A demo board with a believable fortnight of history: `manage.py seed_demo`.

Creates five demo accounts and the board "Churn prediction — Sprint 14" with
about sixty ML tickets spread over the ml_sprint workflow, three closed sprints
(started and closed through the sprint services at their dates: scope added
mid-sprint, a re-estimate, a reopened card, research running well over its
estimates while stories stay close), the active sprint, a planned one, labels,
epics, blockers, overdue timeboxes and comments.

Every write goes through board.services. The command plans the whole history
first (each step with a moment in the last ~12 days) and runs the steps in
global chronological order, each as its person with that moment
(`services.Writer(user, at=...)`, as an importer keeps original times), so
the services stamp events, tickets and comments with it: board-version order
and time order agree, for each ticket and for the board as a whole.

Running it again leaves an existing demo board alone; --reset deletes the demo
board and the demo accounts first.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from board import services
from board.models import Board, Comment, Membership, Ticket, TicketEvent

DEMO_BOARD_NAME = "Churn prediction — Sprint 14"
DEMO_BOARD_KEY = "CHURN"
DEMO_PASSWORD = "demo-pass-2026"
DEMO_EMAIL_DOMAIN = "churnlab.example"
SEED = 14

OWNER, MEMBER, VIEWER = Membership.Role.OWNER, Membership.Role.MEMBER, Membership.Role.VIEWER

# username, first name, last name, role on the demo board, what they do
DEMO_USERS = [
    ("ana", "Ana", "Lima", OWNER, "ML lead"),
    ("ben", "Ben", "Okafor", MEMBER, "data engineer"),
    ("chloe", "Chloé", "Martin", MEMBER, "ML engineer"),
    ("dev", "Dev", "Raman", MEMBER, "MLOps engineer"),
    ("eve", "Eve", "Novak", VIEWER, "product manager"),
]
DEMO_USERNAMES = [u[0] for u in DEMO_USERS]


def demo_email(first: str, last: str) -> str:
    ascii_first = first.lower().replace("é", "e")
    return f"{ascii_first}.{last.lower()}@{DEMO_EMAIL_DOMAIN}"


LABELS = [
    ("data", "#2563eb"),
    ("features", "#0d9488"),
    ("modelling", "#7c3aed"),
    ("infra", "#6b7280"),
    ("eval", "#d97706"),
    ("bug-bash", "#dc2626"),
]
EPICS = [
    ("Feature store", "#0f766e"),
    ("Baseline models", "#9333ea"),
    ("Serving", "#b45309"),
]

# Column keys, in workflow order, for the ml_sprint template.
BACKLOG, WHITEBOARD, IMPL, REVIEW, DONE = "Backlog", "Whiteboarding", "Implementation", "Code review", "Done"
FLOW = [BACKLOG, WHITEBOARD, IMPL, REVIEW, DONE]

# Days ago: when the active sprint was planned, when the next one was groomed.
SPRINT_PLANNING_AGO = 9.0
GROOMING_AGO = 1.3
OLDEST_AGO = 12.6
# The first closed sprint was planned the working day before it began, six weeks before Sprint 14.
PAST_OLDEST_AGO = SPRINT_PLANNING_AGO + 14 * 3 + 1.1
# The team works 09:00-18:00 local time; "days ago" are mapped into those hours.
WORKDAY_START = time(9)
WORKDAY_HOURS = 9.0


@dataclass
class TicketSpec:
    title: str
    kind: str
    points: int | None
    assignee: str | None
    labels: tuple
    epic: str | None
    column: str
    description: str = ""
    sprint: str | None = None  # "active", "planned" or None
    start: str | None = None  # in-progress tickets: "overdue" or "fresh"
    path: tuple | None = None  # columns after Backlog, ending in `column`
    pre_sprint: bool = False  # done before the active sprint began
    blocked: str = ""
    assign_on_start: bool = False  # created unassigned, picked up when started
    first_points: int | None = None  # estimate before whiteboarding changed it
    comments: tuple = ()  # (author, Markdown body)


S, B, R, E, C = (Ticket.Kind.STORY, Ticket.Kind.BUG, Ticket.Kind.RESEARCH, Ticket.Kind.EXPERIMENT,
                 Ticket.Kind.CHORE)

TICKETS = [
    # --- Done ---------------------------------------------------------------
    TicketSpec(
        "Pin numpy < 2.1 and scikit-learn 1.4.x in requirements.lock", C, 1, "dev", ("infra",), None, DONE,
        "numpy 2.1 wheels broke `shap` on the CI image. Pin until the sweep is done, then revisit.\n\n"
        "- `numpy>=1.26,<2.1`\n- `scikit-learn==1.4.2`\n- regenerate `requirements.lock` with `pip-compile`",
        path=(IMPL, REVIEW, DONE), pre_sprint=True,
    ),
    TicketSpec(
        "Freeze the churn label: no paid activity for 60 days", S, 3, "ben", ("data",), "Feature store", DONE,
        "Agree the label with the retention team and write it down once.\n\n"
        "**Definition:** a customer has churned at date *t* if they have no paid invoice and no active "
        "subscription in *(t, t + 60 days]*.\n\n"
        "**Done when:** `labels.churn_60d` is materialised daily and documented in the data catalogue.",
        pre_sprint=True,
    ),
    TicketSpec(
        "Point-in-time join for customer_daily features", S, 5, "ben", ("data", "features"), "Feature store", DONE,
        "Training rows must only see feature values known *before* the label date, otherwise we leak.\n\n"
        "- join on `(customer_id, feature_ts <= label_ts)` with an as-of join\n"
        "- unit test with a hand-made 3-customer fixture\n"
        "- document the join in the feature-store README",
        sprint="active",
    ),
    TicketSpec(
        "Logistic regression baseline on 12 core features", E, 3, "chloe", ("modelling", "eval"), "Baseline models",
        DONE,
        "**Hypothesis:** an L2-regularised logistic regression on the 12 core features reaches validation "
        "ROC-AUC ≥ 0.78.\n\n"
        "**Setup:** time-based split, `StandardScaler` + `LogisticRegression(C=1.0, class_weight=\"balanced\")`.\n\n"
        "**Result:** ROC-AUC **0.81**, PR-AUC 0.38 → hypothesis confirmed; this is the baseline to beat.",
        sprint="active",
    ),
    TicketSpec(
        "Time-based train / validation / test split", S, 2, "chloe", ("data", "eval"), "Baseline models", DONE,
        "Random splits overstate performance because customers behave differently over time.\n\n"
        "| split | label months |\n|---|---|\n| train | M-14 … M-4 |\n| validation | M-3 … M-2 |\n| test | M-1 |",
        sprint="active",
    ),
    TicketSpec(
        "Duplicate customer rows after the CRM merge (≈3.2% of ids)", B, 3, "ben", ("data", "bug-bash"),
        "Feature store", DONE,
        "After the CRM migration `customers` has two rows for 3.2% of `customer_id`s, which double-counts their "
        "sessions and invoices.\n\n**Expected:** one row per customer. **Actual:** 1,544 duplicated ids.",
        sprint="active",
        comments=(
            ("ben", "Root cause: the merge kept both the legacy and the new `crm_id`. Deduplicating on "
                    "`customer_id` keeping the latest `updated_at`; added a uniqueness test on the view."),
            ("chloe", "Re-ran the LR baseline after the fix: ROC-AUC 0.807 → 0.810, inside the bootstrap CI, "
                      "so no re-tuning needed."),
        ),
    ),
    TicketSpec(
        "Evaluation harness: ROC-AUC, PR-AUC and lift@10% with bootstrap CIs", S, 5, "ana", ("eval",),
        "Baseline models", DONE,
        "One function every experiment calls, so numbers are comparable across tickets.\n\n"
        "- metrics: ROC-AUC, PR-AUC, lift in the top decile, Brier score\n"
        "- 95% CIs from 1,000 bootstrap resamples\n"
        "- writes a Markdown table we can paste into tickets",
        sprint="active",
    ),
    TicketSpec(
        "Upgrade scikit-learn 1.4 → 1.5 and re-run the baseline", C, 2, "dev", ("infra",), None, DONE,
        "1.5 brings the `TunedThresholdClassifierCV` we want for the threshold work. Re-run the LR baseline "
        "and check the metric moves by less than 0.002.",
        sprint="active", path=(IMPL, REVIEW, DONE),
    ),
    TicketSpec(
        "Gradient boosting baseline (LightGBM, default parameters)", E, 5, "chloe", ("modelling",),
        "Baseline models", DONE,
        "**Hypothesis:** LightGBM with default parameters raises validation ROC-AUC by ≥ 0.02 over the 0.81 "
        "logistic-regression baseline.\n\n**Decision rule:** if confirmed, the sweep starts from LightGBM; "
        "otherwise we tune the linear model.",
        sprint="active", path=(WHITEBOARD, IMPL, REVIEW, IMPL, REVIEW, DONE),
        comments=(
            ("chloe", "Validation results (time split, n = 48,210):\n\n"
                      "| model | ROC-AUC | PR-AUC |\n|---|---|---|\n"
                      "| LR, 12 features | 0.810 | 0.38 |\n| LightGBM default | **0.846** | 0.45 |\n\n"
                      "Hypothesis confirmed: +0.036 ≥ 0.02."),
            ("ana", "Nice. Keep the LR as the explainable fallback and start the Optuna sweep from these "
                    "defaults. Please add the feature-importance plot to the PR before merging."),
        ),
    ),
    TicketSpec(
        "Spike: survival framing (time-to-churn) vs. a binary label", R, 3, "ana", ("modelling",),
        "Baseline models", DONE,
        "Timebox: 3 days. Question: does a Cox / discrete-time survival model give the retention team "
        "anything the 60-day binary label does not?\n\n"
        "**Outcome:** stay binary for v1; survival curves go in the backlog as a v2 idea.",
        sprint="active", path=(WHITEBOARD, DONE),
    ),
    TicketSpec(
        "`last_login_at` stored in local time for EU accounts", B, 2, "ben", ("data", "bug-bash"),
        "Feature store", DONE,
        "EU accounts are shifted by +1/+2 h, so `days_since_last_login` is off by one for logins near midnight.\n\n"
        "**Fix:** convert at ingestion with the account's timezone and backfill 18 months.",
        sprint="active", assign_on_start=True,
    ),
    TicketSpec(
        "Register feature views for billing and support tickets", S, 3, "ben", ("features",), "Feature store",
        DONE,
        "Two new feature views in the store: `billing_30d` (invoices, failed payments, plan changes) and "
        "`support_30d` (tickets opened, median first-response time).",
        sprint="active",
    ),
    TicketSpec(
        "Code review: feature pipeline DAG (PR #212)", C, 1, "ana", ("features",), "Feature store", DONE,
        "Review the Airflow DAG that materialises `customer_daily`: idempotent reruns, backfill arguments, "
        "alerting on late partitions.",
        sprint="active", path=(REVIEW, DONE),
    ),
    TicketSpec(
        "Dockerfile for the batch scoring job (slim, CPU-only base image)", C, 2, "dev", ("infra",), "Serving",
        DONE,
        "`python:3.12-slim`, no CUDA, non-root user, model artefact mounted read-only. Image < 400 MB.",
        sprint="active", path=(IMPL, REVIEW, DONE), assign_on_start=True,
    ),
    TicketSpec(
        "Calibration check: reliability diagram for the LightGBM baseline", E, 2, "chloe", ("eval",),
        "Baseline models", DONE,
        "**Hypothesis:** isotonic calibration on the validation fold brings the expected calibration error "
        "below 0.02 (currently 0.05) without lowering ROC-AUC.\n\n"
        "**Result:** ECE 0.014, ROC-AUC unchanged → confirmed; calibrated probabilities go to the retention team.",
        sprint="active",
    ),
    # --- Code review --------------------------------------------------------
    TicketSpec(
        "Review: tenure-bucket features (PR #231)", C, 1, "ana", ("features",), "Feature store", REVIEW,
        "Check bucket edges against the SQL definition and that the buckets are computed as of the label date.",
        sprint="active", start="fresh", path=(REVIEW,),
        comments=(
            ("ana", "Two comments on the PR: `pd.cut` bins must be **right-closed** to match the SQL, and the "
                    "`36+ months` bucket needs a test."),
        ),
    ),
    TicketSpec(
        "Hyperparameter sweep for LightGBM (Optuna, 60 trials)", E, 5, "chloe", ("modelling",), "Baseline models",
        REVIEW,
        "**Hypothesis:** a tuned LightGBM beats the default-parameter model by ≥ 0.005 validation ROC-AUC "
        "(0.846 → ≥ 0.851).\n\nSearch space: `num_leaves`, `learning_rate`, `min_child_samples`, "
        "`feature_fraction`; 5-fold time-series CV inside the training window.",
        sprint="active", start="fresh",
        blocked="CI runners are out of disk; the PR's test job cannot run until infra clears the cache.",
        comments=(
            ("chloe", "Best trial so far: `num_leaves=63, learning_rate=0.03, min_child_samples=80` → "
                      "ROC-AUC **0.853** (+0.007 over default)."),
            ("dev", "Disk on the runners is at 100%: old Docker layers. Cleaning up tonight."),
        ),
    ),
    TicketSpec(
        "Batch scoring job writes to warehouse table churn_scores_daily", S, 5, "dev", ("infra",), "Serving",
        REVIEW,
        "Nightly job: load the registered model, score all active customers, write "
        "`(customer_id, score, model_version, scored_at)` partitioned by date.\n\n"
        "**Done when:** the table is filled for 7 consecutive days and row counts match active customers ± 0.5%.",
        sprint="active", start="overdue", path=(WHITEBOARD, IMPL, REVIEW, IMPL, REVIEW),
    ),
    # --- Implementation -----------------------------------------------------
    TicketSpec(
        "Tenure-bucket features", E, 3, "chloe", ("features", "modelling"), "Feature store", IMPL,
        "**Hypothesis:** adding tenure-bucket features raises validation ROC-AUC by ≥ 0.01 over the 0.81 "
        "baseline.\n\nBuckets: `<3`, `3–6`, `6–12`, `12–24`, `24–36`, `36+` months since first paid invoice.\n\n"
        "**Decision rule:** keep the features only if the gain holds on the test month too.",
        sprint="active", start="fresh",
    ),
    TicketSpec(
        "Backfill 18 months of support-ticket aggregates", S, 5, "ben", ("data", "features"), "Feature store", IMPL,
        "The `support_30d` view only has data since the store went live. Backfill from the raw Zendesk export "
        "so training windows have support features.",
        sprint="active", start="overdue", first_points=3,
        blocked="Waiting on data-eng for read access to the zendesk_raw schema (DATA-481).",
        comments=(
            ("ben", "Raised **DATA-481** for read access to `zendesk_raw`. Until then I'm testing the "
                    "aggregation on the 30-day export, which is enough to check the logic."),
            ("dev", "Pinged the platform team; they expect to grant access by Friday."),
        ),
    ),
    TicketSpec(
        "Label leakage: `days_since_cancel_request` used as a feature", B, 3, "ana", ("data", "eval", "bug-bash"),
        "Baseline models", IMPL,
        "Validation ROC-AUC jumped to **0.97** on the latest cohort, which is too good to be true. "
        "`days_since_cancel_request` is only populated after the customer asks to cancel, i.e. after the "
        "outcome is known.\n\n**Fix:** drop the feature and add a leakage check that flags features "
        "with ROC-AUC > 0.9 on their own.",
        sprint="active", start="fresh", path=(IMPL,),
        comments=(
            ("ana", "Confirmed: dropping the feature brings validation ROC-AUC from 0.97 back to 0.85, in line "
                    "with the test month. Writing the single-feature AUC check now."),
        ),
    ),
    TicketSpec(
        "REST endpoint /predict for real-time churn scores", S, 8, "dev", ("infra",), "Serving", IMPL,
        "FastAPI service behind the internal gateway for the CRM sidebar.\n\n"
        "- request: `customer_id`; features fetched from the online store\n"
        "- response: calibrated probability, model version, top 3 reasons\n"
        "- **SLO:** p95 latency < 100 ms at 200 requests/s",
        sprint="active", start="overdue", first_points=5,
        comments=(
            ("dev", "p95 latency is 38 ms locally with the model loaded once per worker. Still to do:\n\n"
                    "- input validation with pydantic\n- load test at 200 rps in staging"),
        ),
    ),
    TicketSpec(
        "Usage-trend features: 7- and 28-day slope of weekly sessions", S, 3, "ben", ("features",), "Feature store",
        IMPL,
        "A falling usage trend is the churn signal account managers mention most. Slope of a least-squares "
        "line over daily sessions, computed as of the label date.",
        sprint="active", start="fresh", assign_on_start=True,
    ),
    # --- Whiteboarding ------------------------------------------------------
    TicketSpec(
        "Payment failures in the last 30 days as a churn signal", E, 2, "chloe", ("features", "modelling"),
        "Feature store", WHITEBOARD,
        "**Hypothesis:** adding `payment_failures_30d` raises validation PR-AUC by ≥ 0.03 over 0.45 "
        "(LightGBM default).\n\nOpen question: count failed attempts or failed invoices?",
        sprint="active", start="overdue",
    ),
    TicketSpec(
        "Design feature-drift monitoring (PSI per feature, weekly)", R, 3, "dev", ("infra", "eval"), "Serving",
        WHITEBOARD,
        "Alert when the population stability index of any top-20 feature exceeds 0.2 week over week. "
        "Decide where it runs (the scoring job or a separate DAG) and who gets paged.",
        sprint="active", start="fresh",
    ),
    TicketSpec(
        "Decision threshold with the retention team (cost matrix)", R, 2, "ana", ("eval",), "Baseline models",
        WHITEBOARD,
        "Pick the operating point from costs, not from F1: a retention offer costs about €15, a lost "
        "customer about €240 of margin.",
        sprint="active", start="fresh",
        blocked="Waiting on the retention team for the real cost of a save offer (meeting on Thursday).",
        comments=(
            ("ana", "Draft cost matrix:\n\n| | churns | stays |\n|---|---|---|\n"
                    "| offer sent | −€15 + €240 × 0.3 | −€15 |\n| no offer | −€240 | €0 |\n\n"
                    "The 0.3 save rate is a guess; the retention team has the real number."),
        ),
    ),
    # --- Backlog ------------------------------------------------------------
    TicketSpec(
        "Bug: 412 accounts have negative `tenure_days` after the plan migration", B, 2, None, ("data", "bug-bash"),
        "Feature store", BACKLOG,
        "`first_paid_at` was reset to the migration date for accounts that changed plan, so tenure is negative "
        "for 412 accounts. Use the earliest invoice instead.",
        sprint="active",
    ),
    TicketSpec(
        "Model card for churn v1 (data, metrics, limitations)", C, 2, "ana", ("eval",), "Serving", BACKLOG,
        "Intended use, training window, metrics with CIs per segment, known limitations (new customers with "
        "< 30 days of history), owner and retraining policy.",
        sprint="active",
    ),
    TicketSpec(
        "Explainability: SHAP summary for the top 20 features", R, 3, None, ("eval", "modelling"),
        "Baseline models", BACKLOG,
        "Account managers want to know *why* a customer scores high. Global SHAP summary plus per-customer top 3 "
        "reasons, checked with two account managers for plausibility.",
        sprint="planned",
    ),
    TicketSpec(
        "Shadow-deploy the model next to the rule-based churn score", S, 8, "dev", ("infra",), "Serving", BACKLOG,
        "Score every customer with both systems for 4 weeks without acting on the model's output, then compare "
        "precision in the top decile.",
        sprint="planned",
        blocked="Needs a staging namespace from the platform team (PLAT-77).",
    ),
    TicketSpec(
        "One-hot contract type vs. target encoding", E, 2, None, ("features", "modelling"), "Baseline models",
        BACKLOG,
        "**Hypothesis:** one-hot encoding `contract_type` (5 levels) beats target encoding by ≥ 0.005 validation "
        "ROC-AUC, because target encoding overfits the rare `custom` level.",
        sprint="planned",
    ),
    TicketSpec(
        "Nightly data-quality checks on customer_daily", S, 5, "ben", ("data", "infra"), "Feature store", BACKLOG,
        "Expectations: one row per customer and day, no null `customer_id`, `sessions_7d ≥ 0`, row count within "
        "±3% of yesterday. Failing checks stop the scoring job.",
        sprint="planned",
    ),
    TicketSpec(
        "Canary rollout plan and rollback runbook for /predict", S, 3, None, ("infra",), "Serving", BACKLOG,
        "5% of CRM traffic for 48 h, then 50%, then 100%. Roll back on error rate > 1% or p95 > 150 ms.",
        sprint="planned",
    ),
    TicketSpec(
        "Pin pandas to 2.2.x after the groupby deprecation warnings", C, 1, "dev", ("infra",), None, BACKLOG,
        "`DataFrameGroupBy.apply` warnings flood the pipeline logs. Pin `pandas>=2.2,<2.3` and fix the two "
        "call sites that operate on grouping columns.",
    ),
    TicketSpec(
        "Research: uplift modelling for retention offers", R, None, None, ("modelling",), None, BACKLOG,
        "Churn risk is not the same as persuadability. Read up on two-model and class-transformation uplift "
        "approaches; do we have randomised offer data to train on?",
    ),
    TicketSpec(
        "Class weighting vs. focal loss for the 7% positive rate", E, 3, None, ("modelling",), "Baseline models",
        BACKLOG,
        "**Hypothesis:** focal loss (γ = 2) raises validation PR-AUC by ≥ 0.02 over `class_weight=\"balanced\"` "
        "at equal ROC-AUC.",
    ),
    TicketSpec(
        "Add customer segment (SMB / mid-market / enterprise) to evaluation slices", S, 2, None, ("eval",),
        "Baseline models", BACKLOG,
        "Report every metric per segment; enterprise is 6% of customers but 40% of revenue.",
    ),
    TicketSpec(
        "Flaky test: `test_point_in_time_join` fails around midnight UTC", B, 1, None, ("bug-bash", "infra"),
        "Feature store", BACKLOG,
        "The fixture uses `date.today()` while the join uses UTC timestamps; between 00:00 and 02:00 CEST the "
        "expected row count is off by one. Freeze time in the test.",
    ),
    TicketSpec(
        "Retraining cadence: measure score decay week over week", R, 3, None, ("eval",), "Serving", BACKLOG,
        "Score six past months with a frozen model and plot ROC-AUC by month since training, to choose between "
        "weekly and monthly retraining.",
    ),
    TicketSpec(
        "Retire the legacy churn_v0 SQL rules once shadow results are in", C, None, None, ("infra",), "Serving",
        BACKLOG,
        "Remove the rules job, its dashboard and the `churn_flag` column once the shadow comparison is signed off.",
    ),
]

DEFAULT_PATHS = {
    WHITEBOARD: (WHITEBOARD,),
    IMPL: (WHITEBOARD, IMPL),
    REVIEW: (WHITEBOARD, IMPL, REVIEW),
    DONE: (WHITEBOARD, IMPL, REVIEW, DONE),
}


@dataclass
class PastTicket:
    """A card of a closed sprint. Days are working days from the sprint's
    start: it starts on `start` and is done `cycle` working days later.
    Research and experiments run well over their estimates, stories close to
    them: the gap the estimation-accuracy chart shows."""

    title: str
    kind: str
    points: int
    assignee: str | None
    labels: tuple
    epic: str | None
    start: float
    cycle: float | None  # None: never started (carried over at the close)
    added: float | None = None  # created into the sprint on this day (scope added mid-sprint)
    reestimate: tuple | None = None  # (day, new points)
    reopen: tuple | None = None  # (day back to review, day done again)
    description: str = ""


# Three closed sprints before Sprint 14: (key, name, goal, cards). Sprint 13's
# unfinished card goes to Sprint 14 when it closes.
PAST_SPRINTS = [
    ("s11", "Sprint 11", "A churn label everyone agrees on and the first daily feature tables.", [
        PastTicket("Churn label backfill for 24 months", S, 5, "ben", ("data",), "Feature store", 0.2, 2.0),
        PastTicket("Daily aggregates of sessions and invoices", S, 8, "ben", ("data", "features"), "Feature store",
                   1.0, 3.6),
        PastTicket("Literature review: churn models in B2B SaaS", R, 5, "ana", ("modelling",), "Baseline models",
                   0.4, 7.6, description="Timebox: 3 days. Survey survival, binary and uplift framings."),
        PastTicket("Null rate report for the CRM extract", B, 3, "dev", ("data", "bug-bash"), None, 2.0, 1.3),
        PastTicket("MLflow tracking server on the shared cluster", C, 3, "dev", ("infra",), "Serving", 3.0, 1.8),
        PastTicket("Exploratory analysis: churn by plan and tenure", E, 5, "chloe", ("eval", "modelling"),
                   "Baseline models", 1.5, 6.6,
                   description="**Hypothesis:** monthly plans churn at least twice as often as annual ones."),
    ]),
    ("s12", "Sprint 12", "Payment and support features in the store; first look at usage signals.", [
        PastTicket("Feature: payment failures in the last 90 days", S, 5, "ben", ("features",), "Feature store",
                   0.3, 2.3),
        PastTicket("Feature: support tickets per seat", S, 3, "ben", ("features",), "Feature store", 2.5, 1.5,
                   reopen=(4.6, 6.2)),
        PastTicket("Spike: do product-usage events predict churn 60 days out?", R, 8, "chloe", ("modelling",),
                   "Baseline models", 0.5, 8.0),
        PastTicket("Experiment: seat-count trend as a leading indicator", E, 5, "chloe", ("modelling", "eval"),
                   "Baseline models", 2.8, 5.4,
                   description="**Hypothesis:** a falling seat count over 30 days lifts ROC-AUC by ≥ 0.01."),
        PastTicket("Invoice dates drift by one day for US accounts", B, 2, "dev", ("data", "bug-bash"),
                   "Feature store", 4.0, 0.8),
        PastTicket("CI job for the feature pipeline", C, 3, "dev", ("infra",), "Feature store", 5.2, 1.6,
                   added=5.0),
    ]),
    ("s13", "Sprint 13", "A first model: imbalance, RFM features and train/serve skew under control.", [
        PastTicket("Feature store README and data contracts", C, 2, "ana", ("features",), "Feature store", 0.2, 0.7),
        PastTicket("Research: handling a 7% positive rate", R, 5, "ana", ("modelling",), "Baseline models", 0.5, 7.0),
        PastTicket("Train/serve skew check for the core features", S, 5, "ben", ("features", "eval"),
                   "Feature store", 1.0, 4.6, reestimate=(2.0, 8)),
        PastTicket("Experiment: RFM features against raw counts", E, 3, "chloe", ("modelling",), "Baseline models",
                   2.0, 5.0,
                   description="**Hypothesis:** recency-frequency-monetary features beat raw counts by ≥ 0.005."),
        PastTicket("Deduplicate the events table before aggregation", B, 3, "ben", ("data", "bug-bash"),
                   "Feature store", 4.2, 1.4),
        PastTicket("Dashboard: weekly churn rate by segment", S, 5, None, ("eval",), None, 0.0, None),
    ]),
]


def _calendar_days(first_day, working_days: float) -> float:
    """Calendar days from `first_day` after a number of working days (Mon–Fri)."""
    whole, fraction = divmod(working_days, 1.0)
    day, counted = first_day, 0
    while counted < whole:
        day += timedelta(days=1)
        counted += day.weekday() < 5
    return (day - first_day).days + fraction


@dataclass
class Step:
    """One thing that happened to one ticket, `ago` days before now."""

    ago: float
    ticket_index: int
    step_index: int
    action: str
    actor: str
    payload: dict = field(default_factory=dict)

    def sort_key(self):
        """Oldest first; simultaneous steps keep their planned order."""
        return (-self.ago, self.ticket_index, self.step_index)


class Command(BaseCommand):
    help = "Create a demo board with users, tickets and about two weeks of history (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true",
            help="Delete the demo board and the demo users first, then create them again.",
        )

    def handle(self, *args, reset=False, **options):
        with transaction.atomic():
            if reset:
                self._reset()
            elif Board.objects.filter(name=DEMO_BOARD_NAME).exists():
                self.stdout.write(f"The demo board “{DEMO_BOARD_NAME}” exists already; nothing changed.")
                self.stdout.write("Use --reset to delete it and seed it again.")
                self._print_logins()
                return
            self._seed()
        self._print_logins()

    # --- reset -------------------------------------------------------------

    def _reset(self):
        boards = Board.objects.filter(name=DEMO_BOARD_NAME)
        deleted_boards = 0
        for board in boards:
            services.board_purge(board=board)
            deleted_boards += 1
        users = get_user_model().objects.filter(
            username__in=DEMO_USERNAMES, email__iendswith=f"@{DEMO_EMAIL_DOMAIN}"
        )
        deleted_users = users.delete()[1].get(get_user_model()._meta.label, 0)
        self.stdout.write(f"Reset: deleted {deleted_boards} demo board(s) and {deleted_users} demo user(s).")

    # --- seed --------------------------------------------------------------

    def _seed(self):
        self.rng = random.Random(SEED)
        self.now = timezone.now()
        self.users = self._users()
        ana = self.users["ana"]

        board = services.board_create(user=ana, name=DEMO_BOARD_NAME, template=Board.Template.ML_SPRINT,
                                      key=DEMO_BOARD_KEY)
        # The operator seeds the demo team: no invitations to accept.
        for username, _first, _last, role, _job in DEMO_USERS[1:]:
            services.membership_grant(board=board, user=self.users[username], role=role)
        self.board = board
        self.columns = {c.name: c for c in board.columns.all()}
        missing = [name for name in FLOW if name not in self.columns]
        if missing:
            raise CommandError(f"The ml_sprint template lacks the columns {missing}; update seed_demo.")
        self.labels = {name: services.label_create(board=board, name=name, color=color) for name, color in LABELS}
        self.epics = {name: services.epic_create(board=board, name=name, color=color) for name, color in EPICS}
        self.sprints = self._sprints()

        # The board and its team predate the first ticket.
        founded = self._at(PAST_OLDEST_AGO - self.start_gap + 0.4)
        Board.objects.filter(pk=board.pk).update(created_at=founded)
        Membership.objects.filter(board=board).update(joined_at=founded)

        steps = []
        for index, spec in enumerate(TICKETS):
            steps.extend(self._plan(index, spec))
        self.specs = list(TICKETS)
        steps.extend(self._plan_past_sprints())
        # Sprint 14 starts on its first day, after the planning.
        steps.append(Step(SPRINT_PLANNING_AGO - self.start_gap, -1, 0, "sprint_start", "ana", {"sprint": "active"}))
        steps.sort(key=Step.sort_key)
        self.tickets: dict[int, int] = {}  # spec index -> ticket id
        for step in steps:
            self._run(step)

        self._check()
        self._report()

    def _users(self):
        User = get_user_model()
        users = {}
        for username, first, last, _role, _job in DEMO_USERS:
            email = demo_email(first, last)
            user = User.objects.filter(username=username).first()
            if user is not None and not user.email.lower().endswith(f"@{DEMO_EMAIL_DOMAIN}"):
                raise CommandError(
                    f"A non-demo account “{username}” exists already (email {user.email or 'empty'}); "
                    "seed_demo will not change it. Rename it or seed another database."
                )
            if user is None:
                user = User(username=username)
            user.first_name, user.last_name, user.email = first, last, email
            user.set_password(DEMO_PASSWORD)
            user.save()
            users[username] = user
        return users

    def _sprints(self):
        # Sprint 14 was planned (and Sprint 13 closed) on a working day and starts on the next working
        # day; the closed ones came two weeks apart before it.
        planning_day = timezone.localdate(self._at(SPRINT_PLANNING_AGO))
        start = planning_day + timedelta(days=1)
        while start.weekday() >= 5:
            start += timedelta(days=1)
        self.start_gap = (start - planning_day).days  # whole days from the planning to the start
        end = start + timedelta(days=13)
        sprints = {}
        for k, (key, name, goal, _cards) in enumerate(PAST_SPRINTS):
            past_start = start - timedelta(days=14 * (len(PAST_SPRINTS) - k))
            sprints[key] = services.sprint_create(board=self.board, name=name, goal=goal, start=past_start,
                                                  end=past_start + timedelta(days=13))
        sprints["active"] = services.sprint_create(
            board=self.board, name="Sprint 14", start=start, end=end,
            goal="Beat the 0.81 ROC-AUC logistic-regression baseline and ship batch scoring to the warehouse.",
        )
        sprints["planned"] = services.sprint_create(
            board=self.board, name="Sprint 15", start=end + timedelta(days=1), end=end + timedelta(days=14),
            goal="Shadow-deploy the model next to the rules and start drift monitoring.",
        )
        # Each is started and closed by steps of the history (sprint_start, sprint_close) at its dates.
        return sprints

    def _at(self, ago: float):
        """The moment `ago` days back, within working hours.

        Whole days go back whole calendar days; the fraction walks back
        through the 9-hour working day. Counting starts from the latest
        working moment not after now, so the mapping is monotonic and every
        moment lies in the past."""
        local = timezone.localtime(self.now)
        day = local.date()
        hours = (local - timezone.make_aware(datetime.combine(day, WORKDAY_START))).total_seconds() / 3600
        if hours < 0:  # before work today: start from yesterday evening
            day, hours = day - timedelta(days=1), WORKDAY_HOURS
        hours = min(hours, WORKDAY_HOURS)
        whole, fraction = divmod(ago, 1.0)
        hours -= fraction * WORKDAY_HOURS
        day -= timedelta(days=int(whole))
        if hours < 0:
            day, hours = day - timedelta(days=1), hours + WORKDAY_HOURS
        return timezone.make_aware(datetime.combine(day, WORKDAY_START)) + timedelta(hours=hours)

    # --- planning: when each change happened ---------------------------------

    def _plan(self, index: int, spec: TicketSpec) -> list[Step]:
        rng = self.rng
        path = spec.path or DEFAULT_PATHS.get(spec.column, ())
        assert not path or path[-1] == spec.column, spec.title
        owner = spec.assignee or "ana"

        if spec.column == BACKLOG:
            created = rng.uniform(0.4, OLDEST_AGO)
            moves = []
        elif spec.column == DONE:
            if spec.pre_sprint:
                done = rng.uniform(SPRINT_PLANNING_AGO + 0.3, 11.0)
                start = done + rng.uniform(0.6, 1.2)
            else:
                done = rng.uniform(0.3, 7.4)
                start = rng.uniform(done + 0.8, min(SPRINT_PLANNING_AGO - 0.2, done + 4.0))
            created = rng.uniform(start + 0.3, OLDEST_AGO)
            middle = sorted((rng.uniform(done + 0.05, start - 0.05) for _ in path[1:-1]), reverse=True)
            moves = [start, *middle, done]
        else:
            # Timeboxes are 3 days: overdue cards started 4-6 days ago, fresh
            # ones less than 3 days ago even when counted from this morning.
            start = rng.uniform(4.2, 5.8) if spec.start == "overdue" else rng.uniform(0.4, 2.2)
            created = rng.uniform(start + 0.3, OLDEST_AGO)
            entered = rng.uniform(0.15, start - 0.1) if len(path) > 1 else start
            middle = sorted((rng.uniform(entered + 0.03, start - 0.03) for _ in path[1:-1]), reverse=True)
            moves = [start, *middle, entered] if len(path) > 1 else [start]

        steps: list[tuple[float, str, str, dict]] = []
        sprint_at_create = None
        if spec.sprint == "active":
            if created > SPRINT_PLANNING_AGO:
                steps.append((SPRINT_PLANNING_AGO - rng.uniform(0.0, 0.02), "update", "ana",
                              {"sprint": "active"}))
            else:
                sprint_at_create = "active"
        elif spec.sprint == "planned":
            if created > GROOMING_AGO:
                steps.append((GROOMING_AGO - rng.uniform(0.0, 0.05), "update", "ana", {"sprint": "planned"}))
            else:
                sprint_at_create = "planned"
        creator = owner if rng.random() < 0.6 else "ana"
        steps.insert(0, (created, "create", creator, {"sprint": sprint_at_create}))

        if moves:
            if spec.assign_on_start:
                steps.append((moves[0] + 0.002, "update", owner, {"assignee": owner}))
            if spec.first_points is not None:
                # Re-estimated while whiteboarding, just before implementation starts.
                when = moves[1] + 0.01 if len(moves) > 1 else moves[0] - 0.01
                steps.append((when, "update", owner, {"points": spec.points}))
            for when, column in zip(moves, path, strict=False):
                mover = owner if column != DONE or rng.random() < 0.7 else "ana"
                steps.append((when, "move", mover, {"column": column}))

        last = min(s[0] for s in steps)
        if spec.blocked:
            when = rng.uniform(0.05, last - 0.02)
            steps.append((when, "update", owner, {"blocked": True, "blocked_reason": spec.blocked}))
            last = when
        if spec.comments:
            if spec.column == DONE:
                # Results and reviews are discussed before the card is closed.
                window = (moves[-1] + 0.01, moves[-2] - 0.01)
            else:
                window = (0.02, last - 0.01)
            times = sorted((rng.uniform(*window) for _ in spec.comments), reverse=True)
            for when, (author, body) in zip(times, spec.comments, strict=True):
                steps.append((when, "comment", author, {"body": body}))

        # One ticket's steps, oldest first, in the order they are applied.
        steps.sort(key=lambda s: -s[0])
        agos = [s[0] for s in steps]
        assert agos == sorted(agos, reverse=True) and len(set(agos)) == len(agos), spec.title
        assert agos[0] <= OLDEST_AGO + 0.01 and agos[-1] > 0, spec.title
        assert steps[0][1] == "create", spec.title
        return [Step(ago=ago, ticket_index=index, step_index=i, action=action, actor=actor, payload=payload)
                for i, (ago, action, actor, payload) in enumerate(steps)]

    def _plan_past_sprints(self) -> list[Step]:
        """The closed sprints: each planned the working day before it starts,
        started, worked through and closed on its end date. Days count working
        days (weekends are skipped), mapped to `ago` like everything else."""
        steps = []
        for k, (key, _name, _goal, cards) in enumerate(PAST_SPRINTS):
            start_ago = SPRINT_PLANNING_AGO - self.start_gap + 14 * (len(PAST_SPRINTS) - k)
            first_day = timezone.localdate(self._at(start_ago))

            def ago(day: float, start_ago=start_ago, first_day=first_day) -> float:
                return start_ago - _calendar_days(first_day, day)

            next_key = PAST_SPRINTS[k + 1][0] if k + 1 < len(PAST_SPRINTS) else "active"
            # Whole days back land on the same working hour: started on its first day, closed on its
            # last working day.
            steps.append(Step(start_ago, -1, 0, "sprint_start", "ana", {"sprint": key}))
            last_working = 13 - next(back for back in range(3) if (first_day + timedelta(days=13 - back)).weekday() < 5)
            steps.append(Step(start_ago - last_working, -1, 1, "sprint_close", "ana",
                              {"sprint": key, "to": next_key if k + 1 == len(PAST_SPRINTS) else "backlog"}))
            for j, card in enumerate(cards):
                index = len(self.specs)
                self.specs.append(TicketSpec(
                    card.title, card.kind, card.points, card.assignee, card.labels, card.epic, DONE,
                    card.description, sprint=key,
                    first_points=card.points if card.reestimate else None,
                ))
                owner = card.assignee or "ana"
                created = ago(card.added) if card.added is not None else start_ago + 1.0 + 0.01 * j
                plan = [(created, "create", "ana", {"sprint": key})]
                if card.reestimate:
                    plan.append((ago(card.reestimate[0]), "update", owner, {"points": card.reestimate[1]}))
                if card.cycle is not None:
                    begin, cycle = card.start, card.cycle
                    flow = [(begin, WHITEBOARD), (begin + 0.25 * cycle, IMPL), (begin + 0.8 * cycle, REVIEW)]
                    if card.reopen:
                        flow += [(begin + cycle * 0.95, DONE), (card.reopen[0], REVIEW), (card.reopen[1], DONE)]
                    else:
                        flow.append((begin + cycle, DONE))
                    plan += [(ago(day), "move", owner, {"column": column}) for day, column in flow]
                plan.sort(key=lambda s: -s[0])
                steps += [Step(a, index, i, action, actor, payload)
                          for i, (a, action, actor, payload) in enumerate(plan)]
        return steps

    # --- running: services first, then backdating ----------------------------

    def _run(self, step: Step):
        at = self._at(step.ago)
        actor = services.Writer(self.users[step.actor], at=at)
        if step.action == "sprint_start":
            services.sprint_start(board=self.board, sprint_id=self.sprints[step.payload["sprint"]].pk, actor=actor)
            return
        if step.action == "sprint_close":
            to = step.payload["to"]
            services.sprint_close(board=self.board, sprint_id=self.sprints[step.payload["sprint"]].pk, actor=actor,
                                  unfinished_to="backlog" if to == "backlog" else str(self.sprints[to].pk))
            return
        spec = self.specs[step.ticket_index]

        if step.action == "create":
            data = services.TicketInput(
                title=spec.title, description=spec.description, kind=spec.kind,
                points=spec.first_points if spec.first_points is not None else spec.points,
                assignee=None if spec.assign_on_start or spec.assignee is None else self.users[spec.assignee],
                labels=tuple(self.labels[name] for name in spec.labels),
                epic=self.epics[spec.epic] if spec.epic else None,
                sprint=self.sprints[step.payload["sprint"]] if step.payload["sprint"] else None,
            )
            ticket = services.ticket_create(board=self.board, actor=actor, data=data, column=self.columns[BACKLOG])
            self.tickets[step.ticket_index] = ticket.pk
            return
        ticket_id = self.tickets[step.ticket_index]
        ticket = Ticket.objects.get(pk=ticket_id)
        if step.action == "update":
            changes = dict(step.payload)
            if "sprint" in changes:
                changes["sprint"] = self.sprints[changes["sprint"]]
            if "assignee" in changes:
                changes["assignee"] = self.users[changes["assignee"]]
            services.ticket_patch(board=self.board, ticket_id=ticket_id, actor=actor, changes=changes,
                                  expected_version=ticket.version)
        elif step.action == "move":
            services.ticket_move(
                board=self.board, actor=actor, ticket_id=ticket_id, expected_version=ticket.version,
                to_column_id=self.columns[step.payload["column"]].pk, position="bottom",
            )
        elif step.action == "comment":
            services.comment_add(board=self.board, ticket_id=ticket_id, author=actor, body=step.payload["body"])
        else:  # pragma: no cover - a typo in the plan
            raise CommandError(f"Unknown step {step.action!r}")

    # --- checks and output ---------------------------------------------------

    def _check(self):
        """The history must read forwards: no event after now, none before its ticket."""
        events = TicketEvent.objects.filter(board=self.board)
        if events.filter(at__gt=self.now).exists():
            raise CommandError("seed_demo left an event in the future; backdating failed.")
        for ticket in Ticket.objects.filter(board=self.board):
            ats = list(events.filter(ticket=ticket).order_by("board_version").values_list("at", flat=True))
            if ats != sorted(ats) or ats[0] != ticket.created_at:
                raise CommandError(f"The history of {ticket.number} is out of order.")

    def _report(self):
        board = self.board
        tickets = Ticket.objects.filter(board=board)
        counts = ", ".join(f"{name} {tickets.filter(column=self.columns[name]).count()}" for name in FLOW)
        overdue = sum(1 for t in tickets.filter(started_at__isnull=False, done_at__isnull=True)
                      if t.timebox_exceeded(now=self.now))
        self.stdout.write(self.style.SUCCESS(
            f"Created the board “{board.name}” ({board.key}) with {tickets.count()} tickets: {counts}."
        ))
        self.stdout.write(
            f"{tickets.filter(blocked=True).count()} blocked, {overdue} past their timebox, "
            f"{Comment.objects.filter(ticket__board=board).count()} comments, "
            f"{TicketEvent.objects.filter(board=board).count()} history events "
            f"since {timezone.localtime(Board.objects.get(pk=board.pk).created_at):%Y-%m-%d}."
        )

    def _print_logins(self):
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        width = max(len(u[0]) for u in DEMO_USERS)
        for username, first, last, role, job in DEMO_USERS:
            self.stdout.write(f"  {username:<{width}}  /  {DEMO_PASSWORD}  /  {role:<6}  ({first} {last}, {job})")
