"""The web pages of training runs: the card's runs section, the run page, its
metrics and artifacts, cancel / retry / baseline, compare and sweeps.

Runs are created through services; a finished run is simulated with
services.job_claim + services.job_finish and a RunOutcome built here (no
worker, no trainer process). Alice owns the board, Bob is a member, Vera a
viewer, Charlie an outsider.
"""

from __future__ import annotations

import html as html_module
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.urls import reverse

from board.models import Hypothesis, Ticket
from board.services import results as board_results
from experiments import runner, services
from experiments.models import Artifact, Metric, Sweep, TrainingJob
from tests.factories import make_board, make_ticket

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LOGREG = "experiments.trainers.builtin:logistic_regression"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.JOBS_DIR = tmp_path / "jobs"
    return tmp_path


@pytest.fixture
def ticket(board, alice):
    return make_ticket(board, alice, title="Logistic regression beats 0.9 on iris")


@pytest.fixture
def hypothesis(board, ticket, alice):
    return board_results.hypothesis_create(board=board, ticket_id=ticket.pk, actor=alice,
                                           statement="Accuracy above 0.9", metric="accuracy", direction="higher",
                                           target=0.9)


def start(board, ticket, actor, *, params=None, hypothesis=None, sweep=None) -> TrainingJob:
    spec = services.JobSpec.clean(trainer=LOGREG, dataset="iris", params=params or {})
    return services.job_create(board=board, ticket_id=ticket.pk, actor=actor, spec=spec,
                               hypothesis_id=hypothesis.pk if hypothesis else None, sweep=sweep)


def finish(job: TrainingJob, tmp_path: Path, *, state="succeeded", metrics=None, curve=0, artifacts=(),
           error="", traceback="", log="epoch 1\nepoch 2\n", skipped=0) -> TrainingJob:
    """Claim the job as a worker would and end it with a RunOutcome (no trainer runs)."""
    claimed = services.job_claim(job.pk, worker="gpu-box-7", celery_id="celery-abc-123") or job  # or already running
    at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    if curve:
        services.metrics_insert(job.pk, [("val_loss", step, 1.0 / (step + 1), at) for step in range(curve)])
    files = []
    for name, kind, content in artifacts:
        path = tmp_path / f"job{job.pk}-{name}"
        path.write_bytes(content)
        files.append(runner.ArtifactFile(name=name, path=path, kind=kind, size=len(content)))
    outcome = runner.RunOutcome(
        state=state, error=error, traceback=traceback, final_metrics=metrics or {}, artifacts=files,
        params_logged={"n_train": 112}, log=log, log_skipped_bytes=skipped, exit_code=0 if state == "succeeded" else 1,
        code_version={"file": "/srv/trainers/svm.py", "commit": "0123456789abcdef0123", "dirty": True},
        environment={"python": "3.11.2", "scikit-learn": "1.9.0", "hostname": "gpu-box-7"},
    )
    services.job_finish(claimed, outcome)
    return TrainingJob.objects.get(pk=job.pk)


def section_url(board, ticket):
    return reverse("experiments:ticket-runs", args=[board.pk, ticket.number])


def run_url(job, name="experiments:run"):
    return reverse(name, args=[job.board_id, job.pk])


# --- the card's runs section ----------------------------------------------------------------

def test_a_card_without_runs_says_so_in_words(client, board, ticket, vera):
    client.force_login(vera)

    response = client.get(section_url(board, ticket), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "No runs yet. Run a trainer on this card to test its hypothesis." in html
    assert "<html" not in html
    assert "Run a training job" not in html  # viewers get no buttons


def test_the_section_lists_runs_newest_first_with_state_metric_and_links(client, board, ticket, alice, bob, media):
    older = finish(start(board, ticket, alice), media, metrics={"accuracy": 0.9333, "f1": 0.92})
    newer = start(board, ticket, bob)
    client.force_login(bob)

    html = client.get(section_url(board, ticket), **HTMX).content.decode()

    assert html.index(f">run {newer.pk}<") < html.index(f">run {older.pk}<")
    assert "accuracy</span> <strong>0.9333</strong>" in html
    assert run_url(older) in html
    assert "Succeeded" in html and "Queued" in html
    assert reverse("experiments:run-cancel", args=[board.pk, newer.pk]) in html
    assert reverse("experiments:run-retry", args=[board.pk, older.pk]) in html
    assert "Compare selected" in html and reverse("experiments:compare", args=[board.pk, ticket.number]) in html
    assert "Run a training job" in html and "Sweep" in html


def test_the_section_polls_every_2s_only_while_a_run_is_active(client, board, ticket, alice, media):
    job = start(board, ticket, alice)
    client.force_login(alice)

    active = client.get(section_url(board, ticket), **HTMX).content.decode()
    finish(job, media, metrics={"accuracy": 0.9})
    done = client.get(section_url(board, ticket), **HTMX).content.decode()

    assert 'hx-trigger="every 2s"' in active and "<progress" in active
    assert "every 2s" not in done and "<progress" not in done


def test_the_section_poll_answers_the_list_alone(client, board, ticket, alice):
    start(board, ticket, alice)
    client.force_login(alice)

    html = client.get(section_url(board, ticket), {"part": "list"}, **HTMX).content.decode()

    assert html.lstrip().startswith('<div class="runs-list"')
    assert "Training runs" not in html


def test_the_ticket_modal_loads_the_runs_section(client, board, ticket, alice):
    client.force_login(alice)

    html = client.get(reverse("board:ticket", args=[board.pk, ticket.number]), **HTMX).content.decode()

    assert f'hx-get="{section_url(board, ticket)}"' in html


@pytest.mark.parametrize("runs", [1, 20])
def test_the_section_takes_the_same_queries_for_1_or_20_runs(client, board, ticket, alice, hypothesis, runs,
                                                             django_assert_num_queries):
    for _ in range(runs):
        start(board, ticket, alice, hypothesis=hypothesis)
    client.force_login(alice)
    client.get(section_url(board, ticket), **HTMX)  # the session is loaded once

    # the user (the session is cached), membership with its board, the ticket, the runs with their hypotheses
    with django_assert_num_queries(4):
        response = client.get(section_url(board, ticket), **HTMX)

    assert response.content.decode().count('class="run-row ') == runs


# --- the run page -------------------------------------------------------------------------------

def test_the_run_page_shows_everything_a_finished_run_recorded(client, board, ticket, alice, hypothesis, vera, media):
    job = finish(start(board, ticket, alice, params={"C": 0.5}, hypothesis=hypothesis), media,
                 metrics={"accuracy": 0.95, "f1": 0.94}, curve=30, log="fitting\nconverged\n", skipped=4096,
                 artifacts=[("confusion_matrix.png", "image", PNG), ("model.joblib", "model", b"x" * 2048)])
    client.force_login(vera)

    response = client.get(run_url(job))

    html = response.content.decode()
    assert response.status_code == 200
    for expected in ("Succeeded", "gpu-box-7", "celery-abc-123", "0123456789ab", "dirty", "3.11.2", "1.9.0",
                     "fitting\nconverged", "4096 bytes", "Accuracy above 0.9", "meets the target", "0.95",
                     "n_train", "0.5", "1 of 3", "train", "model.joblib", "2.0\xa0KB"):
        assert expected in html, expected
    png, model = Artifact.objects.filter(job=job).order_by("name")
    assert f'<img src="{reverse("experiments:artifact", args=[board.pk, job.pk, png.pk])}"' in html
    assert f'href="{reverse("experiments:artifact", args=[board.pk, job.pk, model.pk])}" download' in html
    assert reverse("experiments:run-metrics", args=[board.pk, job.pk]) in html
    assert "every 2s" not in html  # finished: nothing to poll
    assert "Retry" not in html  # a viewer gets no buttons


def test_a_failed_run_shows_its_error_and_traceback(client, board, ticket, alice, media):
    job = finish(start(board, ticket, alice), media, state="failed", error="ValueError: bad value 42",
                 traceback='Traceback (most recent call last):\n  File "t.py"\nValueError: bad value 42')
    client.force_login(alice)

    html = client.get(run_url(job)).content.decode()

    assert "Failed" in html and "ValueError: bad value 42" in html and "Traceback (most recent call last)" in html
    assert "Retry (a new run of the same spec)" in html


def test_an_active_run_page_polls_its_state_and_reloads_when_it_ends(client, board, ticket, alice, media):
    job = start(board, ticket, alice)
    services.job_claim(job.pk, worker="w1")
    TrainingJob.objects.filter(pk=job.pk).update(progress=0.4, progress_message="epoch 4 of 10",
                                                 latest_metric={"key": "val_loss", "step": 4, "value": 0.25})
    client.force_login(alice)

    page = client.get(run_url(job)).content.decode()
    state = client.get(run_url(job), {"part": "state", "was": "active"}, **HTMX)
    finish(TrainingJob.objects.get(pk=job.pk), media, metrics={"accuracy": 0.9})
    ended = client.get(run_url(job), {"part": "state", "was": "active"}, **HTMX)

    assert 'hx-trigger="every 2s"' in page and 'value="40"' in page and "epoch 4 of 10" in page
    assert state.status_code == 200 and "<html" not in state.content.decode()
    assert 'value="40"' in state.content.decode() and "val_loss" in state.content.decode()
    assert ended.status_code == 200 and ended["HX-Refresh"] == "true"


@pytest.mark.parametrize("artifacts", [0, 1, 5])
def test_the_run_page_takes_the_same_queries_however_much_the_run_logged(
        client, board, ticket, alice, hypothesis, media, artifacts, django_assert_num_queries):
    job = finish(start(board, ticket, alice, hypothesis=hypothesis), media, metrics={"accuracy": 0.9}, curve=50,
                 artifacts=[(f"file{i}.txt", "file", b"data") for i in range(artifacts)])
    client.force_login(alice)
    client.get(run_url(job))

    # the user (the session is cached), membership with its board, the run (ticket, hypothesis, sweep, creator,
    # retry_of joined), metric counts per key, artifacts, the card's hypotheses
    with django_assert_num_queries(6):
        assert client.get(run_url(job)).status_code == 200


def test_a_run_of_another_board_is_404_even_for_its_own_member(client, board, ticket, alice, charlie, media):
    other_board = make_board(charlie, name="Charlie's")
    other_ticket = make_ticket(other_board, charlie, title="Elsewhere")
    theirs = finish(start(other_board, other_ticket, charlie), media, metrics={"accuracy": 0.5})
    client.force_login(alice)

    responses = [client.get(reverse("experiments:run", args=[board.pk, theirs.pk])),
                 client.get(reverse("experiments:run-metrics", args=[board.pk, theirs.pk])),
                 client.post(reverse("experiments:run-cancel", args=[board.pk, theirs.pk])),
                 client.post(reverse("experiments:run-retry", args=[board.pk, theirs.pk]))]

    assert [r.status_code for r in responses] == [404] * 4
    assert TrainingJob.objects.filter(board=other_board).count() == 1


@pytest.mark.parametrize("run_id", [0, 2**63, 10**30])
def test_run_ids_beyond_the_database_are_404(client, board, alice, run_id):
    client.force_login(alice)

    assert client.get(f"/b/{board.pk}/runs/{run_id}/").status_code == 404
    assert client.post(f"/b/{board.pk}/runs/{run_id}/cancel/").status_code == 404


# --- metrics JSON -----------------------------------------------------------------------------

def test_metrics_come_as_steps_and_values_per_key(client, board, ticket, alice, media):
    job = finish(start(board, ticket, alice), media, curve=5)
    client.force_login(alice)

    data = client.get(run_url(job, "experiments:run-metrics")).json()

    assert data == {"val_loss": {"steps": [0, 1, 2, 3, 4], "values": [1.0, 0.5, 1 / 3, 0.25, 0.2]}}


def test_long_curves_are_thinned_evenly_keeping_both_ends_in_three_queries(
        client, board, ticket, alice, media, django_assert_num_queries):
    job = finish(start(board, ticket, alice), media, curve=5000)
    client.force_login(alice)
    client.get(run_url(job, "experiments:run-metrics"))

    # the user (the session is cached), membership with its board, the run exists, the points
    with django_assert_num_queries(4):
        data = client.get(run_url(job, "experiments:run-metrics")).json()

    steps = data["val_loss"]["steps"]
    assert len(steps) == 2000 and steps[0] == 0 and steps[-1] == 4999
    gaps = {b - a for a, b in zip(steps, steps[1:], strict=False)}
    assert gaps <= {2, 3}


def test_a_non_finite_point_is_sent_as_null(client, board, ticket, alice, media):
    job = finish(start(board, ticket, alice), media, curve=2)
    Metric.objects.filter(job=job, step=1).update(value=float("inf"))
    client.force_login(alice)

    response = client.get(run_url(job, "experiments:run-metrics"))

    assert json.loads(response.content) == {"val_loss": {"steps": [0, 1], "values": [1.0, None]}}


# --- artifacts ------------------------------------------------------------------------------

def _artifact(board, ticket, alice, media, name, kind, content=b"data"):
    job = finish(start(board, ticket, alice), media, metrics={"accuracy": 0.9}, artifacts=[(name, kind, content)])
    return job, Artifact.objects.get(job=job)


def artifact_url(job, item):
    return reverse("experiments:artifact", args=[job.board_id, job.pk, item.pk])


def test_an_image_artifact_is_served_inline_to_a_viewer(client, board, ticket, alice, vera, media):
    job, item = _artifact(board, ticket, alice, media, "confusion_matrix.png", "image", PNG)
    client.force_login(vera)

    response = client.get(artifact_url(job, item))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert b"".join(response.streaming_content) == PNG


@pytest.mark.parametrize("name, kind", [("drawing.svg", "image"), ("page.html", "file"), ("model.joblib", "model"),
                                        ("fake.png", "file")])
def test_anything_but_a_plain_image_is_a_sandboxed_download(client, board, ticket, alice, media, name, kind):
    job, item = _artifact(board, ticket, alice, media, name, kind, b"<svg onload=alert(1)>")
    client.force_login(alice)

    response = client.get(artifact_url(job, item))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")


def test_artifacts_are_404_to_outsiders_and_through_another_run(client, board, ticket, alice, charlie, media):
    job, item = _artifact(board, ticket, alice, media, "confusion_matrix.png", "image", PNG)
    other = finish(start(board, ticket, alice), media, metrics={"accuracy": 0.8})
    client.force_login(charlie)
    as_outsider = client.get(artifact_url(job, item))
    client.force_login(alice)
    through_other_run = client.get(reverse("experiments:artifact", args=[board.pk, other.pk, item.pk]))
    client.logout()
    anonymous = client.get(artifact_url(job, item))

    assert as_outsider.status_code == 404
    assert through_other_run.status_code == 404
    assert anonymous.status_code == 302 and anonymous.url.startswith("/accounts/login/")


def test_an_artifact_whose_file_is_gone_is_404(client, board, ticket, alice, media):
    job, item = _artifact(board, ticket, alice, media, "model.joblib", "model")
    item.file.delete(save=False)
    client.force_login(alice)

    assert client.get(artifact_url(job, item)).status_code == 404


# --- cancel, retry ------------------------------------------------------------------------

def test_a_member_cancels_a_queued_run_and_the_section_shows_it(client, board, ticket, alice, bob):
    job = start(board, ticket, alice)
    client.force_login(bob)

    response = client.post(run_url(job, "experiments:run-cancel"), **HTMX)

    assert response.status_code == 200
    assert TrainingJob.objects.get(pk=job.pk).state == "cancelled"
    assert "Cancelled" in response.content.decode() and "mk:changed" in response["HX-Trigger"]


def test_cancelling_a_finished_run_is_409_shown_next_to_the_run(client, board, ticket, alice, media):
    job = finish(start(board, ticket, alice), media, metrics={"accuracy": 0.9})
    client.force_login(alice)

    response = client.post(run_url(job, "experiments:run-cancel"), **HTMX)

    assert response.status_code == 409
    assert response["HX-Retarget"] == f"#run-msg-{job.pk}"
    assert "only queued or running runs can be cancelled" in response.content.decode()
    assert TrainingJob.objects.get(pk=job.pk).state == "succeeded"


def test_retrying_makes_a_new_run_of_the_same_spec(client, board, ticket, alice, media):
    job = finish(start(board, ticket, alice, params={"C": 2.0}), media, state="failed", error="boom")
    client.force_login(alice)

    response = client.post(run_url(job, "experiments:run-retry"), {"from": "page"}, **HTMX)

    retry = TrainingJob.objects.get(retry_of=job)
    assert response.status_code == 200 and response["HX-Redirect"] == run_url(retry)
    assert retry.params == job.params and retry.state == "queued"
    assert f"Retry of run {job.pk}" in client.get(run_url(retry)).content.decode()


def test_retrying_a_running_run_is_409_and_makes_nothing(client, board, ticket, alice):
    job = start(board, ticket, alice)
    client.force_login(alice)

    response = client.post(run_url(job, "experiments:run-retry"), **HTMX)

    assert response.status_code == 409
    assert "cancel it or wait" in response.content.decode()
    assert TrainingJob.objects.count() == 1


def test_without_htmx_cancel_and_retry_redirect_and_refusals_are_a_page(client, board, ticket, alice, media):
    job = finish(start(board, ticket, alice), media, metrics={"accuracy": 0.9})
    client.force_login(alice)

    retried = client.post(run_url(job, "experiments:run-retry"))
    refused = client.post(run_url(job, "experiments:run-cancel"))

    assert retried.status_code == 302 and retried.url == reverse("board:ticket", args=[board.pk, ticket.number])
    assert refused.status_code == 409 and "only queued or running" in refused.content.decode()


# --- baseline ---------------------------------------------------------------------------------

def test_a_runs_value_becomes_the_hypothesis_baseline(client, board, ticket, alice, hypothesis, media):
    job = finish(start(board, ticket, alice), media, metrics={"accuracy": 0.87})
    client.force_login(alice)

    response = client.post(run_url(job, "experiments:run-baseline"), {"hypothesis": hypothesis.pk})

    assert response.status_code == 302
    hypothesis.refresh_from_db()
    assert (hypothesis.baseline, hypothesis.baseline_run) == (0.87, job.pk)


def test_a_run_without_the_hypothesis_metric_cannot_be_its_baseline(client, board, ticket, alice, hypothesis, media):
    job = finish(start(board, ticket, alice), media, metrics={"f1": 0.8})
    client.force_login(alice)

    response = client.post(run_url(job, "experiments:run-baseline"), {"hypothesis": hypothesis.pk}, **HTMX)

    assert response.status_code == 422
    assert "has no final value of accuracy" in response.content.decode()
    assert Hypothesis.objects.get(pk=hypothesis.pk).baseline is None


@pytest.mark.parametrize("value", ["", "x", "²", str(2**64), "-1"])
def test_a_baseline_naming_no_hypothesis_of_the_card_is_422(client, board, ticket, alice, hypothesis, media, value):
    job = finish(start(board, ticket, alice), media, metrics={"accuracy": 0.8})
    client.force_login(alice)

    response = client.post(run_url(job, "experiments:run-baseline"), {"hypothesis": value})

    assert response.status_code == 422
    assert Hypothesis.objects.get(pk=hypothesis.pk).baseline is None


def test_a_hypothesis_of_another_card_cannot_take_this_runs_baseline(client, board, ticket, alice, media):
    other = make_ticket(board, alice, title="Another card")
    theirs = board_results.hypothesis_create(board=board, ticket_id=other.pk, actor=alice, statement="Elsewhere",
                                             metric="accuracy", direction="higher", target=0.5)
    job = finish(start(board, ticket, alice), media, metrics={"accuracy": 0.8})
    client.force_login(alice)

    response = client.post(run_url(job, "experiments:run-baseline"), {"hypothesis": theirs.pk})

    assert response.status_code == 422 and "is not on this run&#x27;s card" in response.content.decode()


# --- compare ------------------------------------------------------------------------------

def compare_url(board, ticket):
    return reverse("experiments:compare", args=[board.pk, ticket.number])


def test_compare_shows_runs_side_by_side_with_differences_highlighted(client, board, ticket, alice, vera, media):
    a = finish(start(board, ticket, alice, params={"C": 0.1}), media, metrics={"accuracy": 0.8}, curve=3)
    b = finish(start(board, ticket, alice, params={"C": 10.0}), media, metrics={"accuracy": 0.9}, curve=3)
    client.force_login(vera)

    response = client.get(compare_url(board, ticket), {"runs": f"{a.pk},{b.pk}"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index(f"run {a.pk}") < html.index(f"run {b.pk}")
    assert '<tr class="differs"><th scope="row">C' in html
    assert '<tr class=""><th scope="row">max_iter' in html
    data = json.loads(html_module.unescape(html.split('data-compare="')[1].split('"')[0]))
    assert data["default_param"] == "C" and data["default_metric"] == "accuracy"
    assert [r["metrics_url"] for r in data["runs"]] == [run_url(a, "experiments:run-metrics"),
                                                       run_url(b, "experiments:run-metrics")]


def test_compare_takes_repeated_runs_parameters_too(client, board, ticket, alice):
    a, b = start(board, ticket, alice), start(board, ticket, alice)
    client.force_login(alice)

    assert client.get(compare_url(board, ticket), {"runs": [a.pk, b.pk]}).status_code == 200


@pytest.mark.parametrize("runs, message", [
    ("", "at least two"), ("5", "at least two"), ("1,x", "not a run number"), ("1,²", "not a run number"),
    ("1,٣", "not a run number"), ("1,-2", "not a run number"), (f"1,{10**30}", "not a run number"),
    ("1,\x00", "not a run number"), (",".join(str(i) for i in range(1, 23)), "at most 20"),
])
def test_compare_refuses_malformed_run_lists_with_400(client, board, ticket, alice, runs, message):
    client.force_login(alice)

    response = client.get(compare_url(board, ticket), {"runs": runs})

    assert response.status_code == 400
    assert message in response.content.decode()


def test_compare_refuses_runs_of_another_card_or_board_with_404(client, board, ticket, alice, charlie):
    mine = start(board, ticket, alice)
    other_card = start(board, make_ticket(board, alice, title="Other"), alice)
    other_board = make_board(charlie, name="Elsewhere")
    theirs = start(other_board, make_ticket(other_board, charlie), charlie)
    client.force_login(alice)

    for stranger in (other_card, theirs):
        response = client.get(compare_url(board, ticket), {"runs": f"{mine.pk},{stranger.pk}"})
        assert response.status_code == 404
        assert f"Run {stranger.pk} is not a run of this card" in response.content.decode()


# --- sweeps -------------------------------------------------------------------------------

def test_the_sweep_page_ranks_its_runs_and_links_to_compare(client, board, ticket, alice, vera, media):
    spec = services.JobSpec.clean(trainer=LOGREG, dataset="iris", params={})
    sweep = services.sweep_create(board=board, ticket_id=ticket.pk, actor=alice, spec=spec, mode="grid",
                                  space={"C": [0.1, 1.0, 10.0]}, metric="accuracy", direction="higher")
    jobs = list(sweep.jobs.order_by("id"))
    client.force_login(vera)
    running = client.get(reverse("experiments:sweep", args=[board.pk, sweep.pk])).content.decode()
    for job, value in zip(jobs, (0.8, 0.95, 0.9), strict=True):
        finish(job, media, metrics={"accuracy": value})

    html = client.get(reverse("experiments:sweep", args=[board.pk, sweep.pk])).content.decode()

    assert 'hx-trigger="every 2s"' in running and "3 of 3 still to end" in running
    assert Sweep.objects.get(pk=sweep.pk).best_job_id == jobs[1].pk
    assert "every 2s" not in html
    assert f"Best: <a href=\"{run_url(jobs[1])}\">run {jobs[1].pk}</a>" in html
    assert html.index(f">run {jobs[1].pk}<") < html.index(f">run {jobs[2].pk}<") < html.index(f">run {jobs[0].pk}<")
    assert f"?runs={jobs[1].pk},{jobs[2].pk},{jobs[0].pk}" in html


def test_a_sweep_of_another_board_is_404(client, board, alice, charlie):
    other_board = make_board(charlie, name="Elsewhere")
    other_ticket = make_ticket(other_board, charlie)
    spec = services.JobSpec.clean(trainer=LOGREG, dataset="iris", params={})
    theirs = services.sweep_create(board=other_board, ticket_id=other_ticket.pk, actor=charlie, spec=spec,
                                   mode="grid", space={"C": [1.0]}, metric="accuracy")
    client.force_login(alice)

    assert client.get(reverse("experiments:sweep", args=[board.pk, theirs.pk])).status_code == 404


# --- roles --------------------------------------------------------------------------------

def test_a_viewer_cannot_create_cancel_retry_or_set_a_baseline(client, board, ticket, alice, vera, hypothesis,
                                                               media):
    done = finish(start(board, ticket, alice), media, metrics={"accuracy": 0.9})
    queued = start(board, ticket, alice)
    client.force_login(vera)

    responses = [
        client.get(reverse("experiments:run-create", args=[board.pk, ticket.number]), **HTMX),
        client.post(reverse("experiments:run-create", args=[board.pk, ticket.number]),
                    {"trainer": LOGREG, "dataset": "iris"}, **HTMX),
        client.post(reverse("experiments:sweep-create", args=[board.pk, ticket.number]), {}, **HTMX),
        client.post(run_url(queued, "experiments:run-cancel"), **HTMX),
        client.post(run_url(done, "experiments:run-retry"), **HTMX),
        client.post(run_url(done, "experiments:run-baseline"), {"hypothesis": hypothesis.pk}, **HTMX),
    ]

    assert [r.status_code for r in responses] == [403] * 6
    assert TrainingJob.objects.count() == 2 and TrainingJob.objects.get(pk=queued.pk).state == "queued"
    assert Hypothesis.objects.get(pk=hypothesis.pk).baseline is None


@pytest.mark.parametrize("name, kwargs", [
    ("ticket-runs", "card"), ("run-create", "card"), ("sweep-create", "card"), ("compare", "card"),
    ("run", "run"), ("run-metrics", "run"), ("sweep", "sweep"),
])
def test_an_outsider_gets_404_for_every_page(client, board, ticket, alice, charlie, media, name, kwargs):
    job = finish(start(board, ticket, alice), media, metrics={"accuracy": 0.9})
    spec = services.JobSpec.clean(trainer=LOGREG, dataset="iris", params={})
    sweep = services.sweep_create(board=board, ticket_id=ticket.pk, actor=alice, spec=spec, mode="grid",
                                  space={"C": [1.0]}, metric="accuracy")
    args = {"card": [board.pk, ticket.number], "run": [board.pk, job.pk], "sweep": [board.pk, sweep.pk]}[kwargs]
    client.force_login(charlie)

    assert client.get(reverse(f"experiments:{name}", args=args), {"runs": f"{job.pk},{job.pk}"}).status_code == 404


def test_a_card_of_another_board_is_404(client, board, alice, charlie):
    other_board = make_board(charlie, name="Elsewhere")
    theirs = make_ticket(other_board, charlie)
    client.force_login(alice)

    response = client.get(reverse("experiments:ticket-runs", args=[board.pk, theirs.number + 100]))

    assert response.status_code == 404
    assert Ticket.objects.filter(board=other_board).count() == 1


# --- the content security policy ----------------------------------------------------------

def test_run_pages_hold_nothing_the_policy_would_block(client, board, ticket, alice, hypothesis, media):
    from tests.test_csp import parse

    a = finish(start(board, ticket, alice, hypothesis=hypothesis), media, metrics={"accuracy": 0.9}, curve=3,
               artifacts=[("confusion_matrix.png", "image", PNG)])
    b = start(board, ticket, alice)
    spec = services.JobSpec.clean(trainer=LOGREG, dataset="iris", params={})
    sweep = services.sweep_create(board=board, ticket_id=ticket.pk, actor=alice, spec=spec, mode="grid",
                                  space={"C": [1.0]}, metric="accuracy")
    client.force_login(alice)
    pages = [run_url(a), run_url(b), f"{compare_url(board, ticket)}?runs={a.pk},{b.pk}",
             reverse("experiments:sweep", args=[board.pk, sweep.pk]), section_url(board, ticket),
             reverse("experiments:run-create", args=[board.pk, ticket.number]),
             reverse("experiments:sweep-create", args=[board.pk, ticket.number])]

    for url in pages:
        response = client.get(url)
        page = parse(response.content.decode())
        assert response.status_code == 200, url
        assert page.problems == [], url
        assert all(nonce == response.wsgi_request.csp_nonce for nonce in page.script_nonces), url
