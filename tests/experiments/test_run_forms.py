"""The run and sweep forms: generated from the trainer's declared parameters,
refusing bad values next to the field with nothing saved."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from board import services as board_services
from board.services import results as board_results
from experiments.models import Sweep, TrainingJob
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LOGREG = "experiments.trainers.builtin:logistic_regression"
FOREST = "experiments.trainers.builtin:random_forest"


@pytest.fixture
def ticket(board, alice):
    return make_ticket(board, alice, title="Tune C")


@pytest.fixture
def member(client, bob):
    client.force_login(bob)
    return client


def run_url(board, ticket):
    return reverse("experiments:run-create", args=[board.pk, ticket.number])


def sweep_url(board, ticket):
    return reverse("experiments:sweep-create", args=[board.pk, ticket.number])


def valid_run(**overrides):
    data = {"trainer": LOGREG, "dataset": "iris", "param_C": "0.5", "param_max_iter": "200", "timeout_s": "120",
            "memory_mb": "512", "queue": "train", "hypothesis": ""}
    data.update(overrides)
    return data


def field_error(html: str, field: str) -> str:
    """The error shown in the field's own box, '' if none."""
    match = re.search(rf'<div class="field has-error field-{field}">.*?<div class="field-error" role="alert">(.*?)</div>',
                      html, re.S)
    return match.group(1) if match else ""


# --- the form -----------------------------------------------------------------------------

def test_the_run_form_is_generated_from_the_trainers_parameters(member, board, ticket):
    response = member.get(run_url(board, ticket), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert f'<option value="{LOGREG}" selected>Logistic regression</option>' in html
    assert f'<option value="{FOREST}"' in html
    assert 'name="param_C"' in html and 'value="1.0"' in html and 'min="0.0001"' in html
    assert 'name="param_max_iter"' in html and 'max="10000"' in html
    assert "Inverse regularisation strength." in html
    for name in ("dataset", "timeout_s", "memory_mb", "queue", "hypothesis"):
        assert f'name="{name}"' in html
    assert 'hx-trigger="change"' in html and f'hx-get="{run_url(board, ticket)}"' in html


def test_choosing_another_trainer_refetches_its_fields(member, board, ticket):
    html = member.get(run_url(board, ticket), {"trainer": FOREST}, **HTMX).content.decode()

    assert f'<option value="{FOREST}" selected>' in html
    assert 'name="param_n_estimators"' in html and 'name="param_criterion"' in html
    assert '<option value="entropy">entropy</option>' in html
    assert 'name="param_C"' not in html


@pytest.mark.parametrize("trainer", ["os:system", "nonsense", "\x00", "x" * 500])
def test_an_unknown_trainer_in_the_query_shows_the_default_form(member, board, ticket, trainer):
    response = member.get(run_url(board, ticket), {"trainer": trainer}, **HTMX)

    assert response.status_code == 200
    assert f'<option value="{LOGREG}" selected>' in response.content.decode()


def test_only_the_trainers_datasets_and_the_allowed_queues_are_offered(member, board, ticket, settings):
    settings.CELERY_TASK_QUEUES = ["default", "train", "gpu"]

    html = member.get(run_url(board, ticket), **HTMX).content.decode()

    queue_select = html.split('name="queue"')[1].split("</select>")[0]
    assert '<option value="train" selected>' in queue_select and '<option value="gpu">' in queue_select
    assert "default" not in queue_select
    dataset_select = html.split('name="dataset"')[1].split("</select>")[0]
    assert set(re.findall(r'<option value="(\w+)"', dataset_select)) == {"iris", "wine", "breast_cancer", "digits"}


def test_the_card_hypotheses_are_offered(member, board, ticket, alice):
    h = board_results.hypothesis_create(board=board, ticket_id=ticket.pk, actor=alice, statement="AUC above 0.9",
                                        metric="roc_auc", direction="higher", target=0.9)

    html = member.get(run_url(board, ticket), **HTMX).content.decode()

    assert f'<option value="{h.pk}">AUC above 0.9 (roc_auc)</option>' in html


def test_without_htmx_the_form_is_a_page_of_its_own(member, board, ticket):
    response = member.get(run_url(board, ticket))

    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html and "Run a training job on" in html
    assert "hx-post" not in html  # it posts as a plain form


# --- creating a run ---------------------------------------------------------------------------

def test_a_valid_run_is_queued_and_the_section_comes_back(member, board, ticket, bob, alice,
                                                          django_capture_on_commit_callbacks):
    h = board_results.hypothesis_create(board=board, ticket_id=ticket.pk, actor=alice, statement="Accurate",
                                        metric="accuracy", direction="higher", target=0.9)

    with django_capture_on_commit_callbacks() as callbacks:
        response = member.post(run_url(board, ticket), valid_run(hypothesis=str(h.pk)), **HTMX)

    job = TrainingJob.objects.get()
    assert response.status_code == 200
    assert (job.trainer, job.dataset, job.params, job.timeout_s, job.memory_mb, job.queue) == (
        LOGREG, "iris", {"C": 0.5, "max_iter": 200}, 120, 512, "train")
    assert job.hypothesis_id == h.pk and job.created_by == bob and job.state == "queued"
    assert len(callbacks) == 1  # the dispatch, after the commit
    html = response.content.decode()
    assert f'id="runs-section-{ticket.pk}"' in html and f"run {job.pk}" in html
    assert "mk:changed" in response["HX-Trigger"]


def test_without_htmx_a_valid_run_redirects_to_its_page(member, board, ticket):
    response = member.post(run_url(board, ticket), valid_run())

    job = TrainingJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("experiments:run", args=[board.pk, job.pk])


def test_empty_parameters_take_the_trainers_defaults(member, board, ticket):
    member.post(run_url(board, ticket), valid_run(param_C="", param_max_iter=""), **HTMX)

    assert TrainingJob.objects.get().params == {"C": 1.0, "max_iter": 100}


@pytest.mark.parametrize("field, value, message", [
    ("param_C", "100000", "less than or equal to 10000"),
    ("param_C", "0", "greater than or equal to 0.0001"),
    ("param_C", "abc", "Enter a number"),
    ("param_C", "1e309", "Enter a number"),
    ("param_C", "NaN", "Enter a number"),
    ("param_max_iter", "5", "greater than or equal to 10"),
    ("param_max_iter", "1.5", "Enter a whole number"),
    ("param_max_iter", "²", "Enter a whole number"),
    ("param_max_iter", str(10**30), "less than or equal to 10000"),
    ("timeout_s", "0", "greater than or equal to 1"),
    ("timeout_s", str(10**9), "less than or equal to"),
    ("memory_mb", "1", "greater than or equal to 64"),
    ("memory_mb", "٣", "greater than or equal to 64"),  # int() reads Arabic-Indic digits: 3 MiB
    ("queue", "default", "Select a valid choice"),
    ("queue", "\x00", "Select a valid choice"),
    ("dataset", "mnist", "Select a valid choice"),
    ("hypothesis", "99999", "Select a valid choice"),
    ("trainer", "os:system", "Select a valid choice"),
])
def test_a_bad_value_is_refused_next_to_its_field_and_nothing_is_saved(member, board, ticket, field, value, message):
    version = type(board).objects.get(pk=board.pk).version

    response = member.post(run_url(board, ticket), valid_run(**{field: value}), **HTMX)

    html = response.content.decode()
    assert response.status_code == 422
    assert message in field_error(html, field), html[:3000]
    assert response["HX-Retarget"] == f"#runs-form-{ticket.pk}"
    assert TrainingJob.objects.count() == 0
    assert type(board).objects.get(pk=board.pk).version == version


def test_a_hypothesis_of_another_card_is_refused(member, board, ticket, alice):
    other = make_ticket(board, alice, title="Other card")
    theirs = board_results.hypothesis_create(board=board, ticket_id=other.pk, actor=alice, statement="Elsewhere",
                                             metric="accuracy", direction="higher", target=0.5)

    response = member.post(run_url(board, ticket), valid_run(hypothesis=str(theirs.pk)), **HTMX)

    assert response.status_code == 422
    assert TrainingJob.objects.count() == 0


def test_an_archived_card_takes_no_runs(member, board, ticket, alice):
    board_services.ticket_archive(board=board, ticket_id=ticket.pk, actor=alice)

    response = member.post(run_url(board, ticket), valid_run(), **HTMX)

    assert response.status_code == 422
    assert "archived" in response.content.decode()
    assert TrainingJob.objects.count() == 0


# --- sweeps ---------------------------------------------------------------------------------

def valid_sweep(**overrides):
    data = {"trainer": LOGREG, "dataset": "iris", "mode": "grid", "samples": "", "metric": "accuracy",
            "direction": "higher", "values_C": "0.1, 1, 10", "values_max_iter": "", "min_C": "", "max_C": "",
            "min_max_iter": "", "max_max_iter": "", "timeout_s": "60", "memory_mb": "512", "queue": "train",
            "hypothesis": ""}
    data.update(overrides)
    return data


def test_the_sweep_form_has_a_row_per_parameter(member, board, ticket):
    html = member.get(sweep_url(board, ticket), **HTMX).content.decode()

    for name in ("values_C", "min_C", "max_C", "values_max_iter", "min_max_iter", "max_max_iter", "samples",
                 "metric", "direction", "mode"):
        assert f'name="{name}"' in html, name


def test_a_grid_sweep_makes_one_run_per_value(member, board, ticket):
    response = member.post(sweep_url(board, ticket), valid_sweep(), **HTMX)

    sweep = Sweep.objects.get()
    assert response.status_code == 200, response.content.decode()[:2000]
    assert sweep.space == {"C": [0.1, 1.0, 10.0]} and sweep.metric == "accuracy"
    assert sorted(job.params["C"] for job in sweep.jobs.all()) == [0.1, 1.0, 10.0]
    assert f"Sweep {sweep.pk} queued: 3 runs." in response.content.decode()


def test_a_random_sweep_samples_within_the_ranges(member, board, ticket):
    response = member.post(sweep_url(board, ticket), valid_sweep(
        mode="random", samples="4", values_C="", min_C="0.01", max_C="0.1"), **HTMX)

    sweep = Sweep.objects.get()
    assert response.status_code == 200
    assert sweep.space == {"C": {"min": 0.01, "max": 0.1}} and sweep.samples == 4
    assert all(0.01 <= job.params["C"] <= 0.1 for job in sweep.jobs.all()) and sweep.jobs.count() == 4


@pytest.mark.parametrize("overrides, field, message", [
    ({"values_C": "0.1, lots"}, "values_C", "lots: Enter a number"),
    ({"values_C": "0.1, 100000"}, "values_C", "100000"),
    ({"values_C": "", "min_C": "0.1", "max_C": "1"}, "min_C", "ranges are for random samples"),
    ({"mode": "random", "samples": "", "values_C": "", "min_C": "0.1", "max_C": "1"}, "samples", "how many"),
    ({"mode": "random", "samples": "3", "values_C": "", "min_C": "1", "max_C": "0.1"}, "min_C", "min below max"),
    ({"mode": "random", "samples": "3", "values_C": "", "min_C": "0.1", "max_C": ""}, "min_C", "both ends"),
    ({"mode": "random", "samples": "3", "values_C": "1,2", "min_C": "0.1", "max_C": "1"}, "values_C", "not both"),
    ({"mode": "random", "samples": "100000", "values_C": "", "min_C": "0.1", "max_C": "1"}, "samples",
     "less than or equal to"),
    ({"metric": ""}, "metric", "required"),
    ({"direction": "sideways"}, "direction", "Select a valid choice"),
    ({"mode": "spiral"}, "mode", "Select a valid choice"),
])
def test_a_bad_sweep_is_refused_next_to_its_field_and_nothing_is_saved(member, board, ticket, overrides, field,
                                                                        message):
    response = member.post(sweep_url(board, ticket), valid_sweep(**overrides), **HTMX)

    html = response.content.decode()
    assert response.status_code == 422
    assert message in (field_error(html, field) or _cell_error(html, field)), html[:4000]
    assert Sweep.objects.count() == 0 and TrainingJob.objects.count() == 0


def _cell_error(html: str, field: str) -> str:
    match = re.search(rf'name="{field}".*?<div class="field-error" role="alert">(.*?)</div>', html, re.S)
    return match.group(1) if match else ""


def test_a_sweep_over_nothing_is_refused(member, board, ticket):
    response = member.post(sweep_url(board, ticket), valid_sweep(values_C=""), **HTMX)

    assert response.status_code == 422
    assert "Choose at least one parameter to sweep over" in response.content.decode()
    assert Sweep.objects.count() == 0


def test_a_grid_above_the_point_limit_is_refused(member, board, ticket, settings):
    settings.JOB_SWEEP_MAX_POINTS = 4

    response = member.post(sweep_url(board, ticket), valid_sweep(values_C="0.1,1,10", values_max_iter="10,20"),
                           **HTMX)

    assert response.status_code == 422
    assert "6 points; a sweep may have at most 4" in response.content.decode()
    assert Sweep.objects.count() == 0 and TrainingJob.objects.count() == 0
