"""The experiments API: trainers, runs (start, read, cancel, retry, metrics,
artifacts) and sweeps. Viewers read, members write; another board's run,
ticket or hypothesis is 404; bad input is a 400 naming the field, and then
nothing is saved. Runs are only created here: no worker runs them (the
dispatch waits for a commit that a test's transaction never makes)."""

import pytest
from django.core.files.base import ContentFile
from django.test import override_settings

from board.models import Ticket, TicketEvent
from board.services import results, ticket_archive
from experiments.models import Artifact, Metric, Sweep, TrainingJob
from tests.factories import make_board, make_ticket

pytestmark = pytest.mark.django_db

LOGREG = "experiments.trainers.builtin:logistic_regression"
FOREST = "experiments.trainers.builtin:random_forest"


@pytest.fixture
def card(board, alice, columns):
    return make_ticket(board, alice, title="Tune logistic regression", column=columns[2])


@pytest.fixture
def api(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def hypothesis(board, card, alice):
    return results.hypothesis_create(board=board, ticket_id=card.pk, actor=alice, statement="LR reaches 0.95",
                                     metric="accuracy", target=0.95)


def _post(client, url, body):
    return client.post(url, body, content_type="application/json")


def _run_body(card, **overrides):
    return {"ticket": card.pk, "trainer": LOGREG, "dataset": "iris", "params": {"C": 0.5}, **overrides}


def _job(board, card, state="succeeded", **fields):
    return TrainingJob.objects.create(board=board, ticket=card, trainer=LOGREG, dataset="iris",
                                      params={"C": 1.0, "max_iter": 100}, timeout_s=60, memory_mb=512,
                                      state=state, **fields)


def _rows():
    return TrainingJob.objects.count(), Sweep.objects.count(), TicketEvent.objects.count()


# --- trainers -----------------------------------------------------------------------

def test_trainers_list_the_builtins_with_their_datasets_and_declared_params(api):
    response = api.get("/api/trainers/")

    assert response.status_code == 200
    by_ref = {t["ref"]: t for t in response.json()["results"]}
    assert {LOGREG, FOREST, "experiments.trainers.builtin:gradient_boosting", "experiments.trainers.builtin:mlp"} \
        <= set(by_ref)
    logreg = by_ref[LOGREG]
    assert set(logreg["datasets"]) == {"iris", "wine", "breast_cancer", "digits"}
    assert logreg["params"][0] == {"name": "C", "kind": "float", "default": 1.0, "min": 1e-4, "max": 1e4,
                                   "choices": [], "help": "Inverse regularisation strength.", "log": True}
    assert next(p for p in by_ref[FOREST]["params"] if p["name"] == "criterion")["choices"] == [
        "gini", "entropy", "log_loss"]


# --- starting a run -------------------------------------------------------------------

def test_a_member_starts_a_run_and_it_is_queued_and_sent_after_commit(api, board, card, hypothesis, bob,
                                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(api, f"/api/boards/{board.pk}/runs/", _run_body(
            card, timeout_s=120, memory_mb=512, queue="train", hypothesis=hypothesis.pk))

    assert response.status_code == 201, response.content
    body = response.json()
    job = TrainingJob.objects.get(pk=body["id"])
    assert (job.state, job.params, job.timeout_s, job.memory_mb, job.queue, job.hypothesis, job.created_by) == (
        "queued", {"C": 0.5, "max_iter": 100}, 120, 512, "train", hypothesis, bob)
    assert (body["label"], body["state"], body["url"]) == (f"run {job.pk}", "queued", f"/b/{board.pk}/runs/{job.pk}/")
    assert len(callbacks) == 1  # the dispatch, once the job is committed


def test_left_out_limits_and_queue_take_the_defaults(api, board, card, settings):
    response = _post(api, f"/api/boards/{board.pk}/runs/", _run_body(card, params={}))

    assert response.status_code == 201, response.content
    job = TrainingJob.objects.get()
    assert (job.timeout_s, job.memory_mb, job.queue, job.params) == (
        settings.JOB_TIMEOUT_DEFAULT_S, settings.JOB_MEMORY_DEFAULT_MB, "train", {"C": 1.0, "max_iter": 100})


@pytest.mark.parametrize("overrides, field, words", [
    ({"params": {"C": 1e9}}, "params", "less than or equal to 10000"),  # out of range
    ({"params": {"C": "lots"}}, "params", "number"),  # malformed
    ({"params": {"max_iter": 12.5}}, "params", "whole number"),
    ({"params": {"max_iter": True}}, "params", "not true/false"),
    ({"params": {"learning_rate": 0.1}}, "params", "Unknown parameter"),
    ({"params": {"C": ["1", "2"]}}, "params", "single value"),
    ({"params": "C=1"}, "params", "dictionary"),
    ({"trainer": "experiments.trainers.builtin:no_such_trainer"}, "trainer", "no function"),
    ({"trainer": "os.path:join"}, "trainer", "MLKANBAN_TRAINER_MODULES"),  # outside the allowlist
    ({"trainer": "rm -rf /"}, "trainer", "not a trainer reference"),
    ({"dataset": "imagenet"}, "dataset", "Unknown dataset"),
    ({"timeout_s": 0}, "timeout_s", "Choose between"),
    ({"timeout_s": 10**9}, "timeout_s", "Choose between"),
    ({"memory_mb": 1}, "memory_mb", "Choose between"),
    ({"memory_mb": 10**7}, "memory_mb", "Choose between"),
    ({"queue": "celery-internal"}, "queue", "Choose one of the queues"),
])
def test_bad_input_answers_400_naming_the_field_and_saves_nothing(api, board, card, overrides, field, words):
    before = _rows()

    response = _post(api, f"/api/boards/{board.pk}/runs/", _run_body(card, **overrides))

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert words in str(response.json()[field])
    assert _rows() == before


def test_every_bad_field_is_named_at_once(api, board, card):
    response = _post(api, f"/api/boards/{board.pk}/runs/", _run_body(
        card, dataset="imagenet", params={"C": -1}, timeout_s=0))

    assert response.status_code == 400
    assert set(response.json()) == {"dataset", "params", "timeout_s"}
    assert set(response.json()["params"]) == {"C"}


def test_a_run_on_an_archived_card_is_refused(api, board, card, alice):
    ticket_archive(board=board, ticket_id=card.pk, actor=alice)

    response = _post(api, f"/api/boards/{board.pk}/runs/", _run_body(card))

    assert response.status_code == 400
    assert "archived" in response.json()["ticket"][0]
    assert not TrainingJob.objects.exists()


def test_a_hypothesis_of_another_card_of_this_board_is_refused(api, board, card, alice):
    other_card = make_ticket(board, alice, title="Another card")
    theirs = results.hypothesis_create(board=board, ticket_id=other_card.pk, actor=alice, statement="x",
                                       metric="f1", target=0.5)

    response = _post(api, f"/api/boards/{board.pk}/runs/", _run_body(card, hypothesis=theirs.pk))

    assert response.status_code == 400
    assert "hypothesis" in response.json()
    assert not TrainingJob.objects.exists()


def test_a_viewer_cannot_start_a_run(client, board, card, vera):
    client.force_login(vera)

    response = _post(client, f"/api/boards/{board.pk}/runs/", _run_body(card))

    assert response.status_code == 403
    assert not TrainingJob.objects.exists()


# --- another board -------------------------------------------------------------------------

@pytest.fixture
def charlies_board(charlie):
    return make_board(charlie, name="Charlie's board")


def test_a_member_of_another_board_naming_this_boards_ticket_or_hypothesis_gets_404(
        client, board, card, hypothesis, charlie, charlies_board):
    client.force_login(charlie)
    their_card = make_ticket(charlies_board, charlie, title="Theirs")
    before = _rows()

    responses = [
        _post(client, f"/api/boards/{charlies_board.pk}/runs/", _run_body(card)),
        _post(client, f"/api/boards/{charlies_board.pk}/runs/", _run_body(their_card, hypothesis=hypothesis.pk)),
        _post(client, f"/api/boards/{charlies_board.pk}/sweeps/", {**_run_body(card), "mode": "grid",
                                                                     "space": {"C": [1, 2]}, "metric": "f1"}),
        _post(client, f"/api/boards/{board.pk}/runs/", _run_body(card)),
    ]

    assert [r.status_code for r in responses] == [404] * 4
    assert _rows() == before


def test_a_member_of_another_board_naming_this_boards_run_gets_404(client, board, card, charlie, charlies_board):
    queued, done = _job(board, card, state="queued"), _job(board, card)
    Metric.objects.create(job=done, key="accuracy", step=1, value=0.9)
    sweep = Sweep.objects.create(board=board, ticket=card, mode="grid", space={"C": [1]}, metric="f1")
    client.force_login(charlie)
    before = _rows()

    b = charlies_board.pk
    responses = [
        client.get(f"/api/boards/{b}/runs/{done.pk}/"),
        client.get(f"/api/boards/{b}/runs/{done.pk}/metrics/"),
        client.get(f"/api/boards/{b}/runs/{done.pk}/artifacts/"),
        client.post(f"/api/boards/{b}/runs/{queued.pk}/cancel/"),
        client.post(f"/api/boards/{b}/runs/{done.pk}/retry/"),
        client.get(f"/api/boards/{b}/sweeps/{sweep.pk}/"),
        client.get(f"/api/boards/{board.pk}/runs/{done.pk}/"),
        client.get(f"/api/boards/{board.pk}/runs/"),
        client.post(f"/api/boards/{board.pk}/runs/{queued.pk}/cancel/"),
    ]

    assert [r.status_code for r in responses] == [404] * len(responses)
    assert client.get(f"/api/boards/{b}/runs/").json()["results"] == []
    assert _rows() == before
    assert TrainingJob.objects.get(pk=queued.pk).state == "queued"


# --- reading runs -----------------------------------------------------------------------------

def test_viewers_list_runs_newest_first_filtered_by_ticket_and_state(client, board, card, alice, vera):
    other_card = make_ticket(board, alice, title="Other")
    old, failed, theirs = _job(board, card), _job(board, card, state="failed"), _job(board, other_card)
    client.force_login(vera)
    url = f"/api/boards/{board.pk}/runs/"

    def ids(**query):
        return [r["id"] for r in client.get(url, query).json()["results"]]

    assert ids() == [theirs.pk, failed.pk, old.pk]
    assert ids(ticket=card.pk) == [failed.pk, old.pk]
    assert ids(ticket=card.pk, state="succeeded") == [old.pk]


@pytest.mark.parametrize("query", [{"state": "exploded"}, {"ticket": "²"}, {"ticket": str(10**30)},
                                   {"state": "\x00"}])
def test_a_filter_that_cannot_be_read_is_400(api, board, query):
    response = api.get(f"/api/boards/{board.pk}/runs/", query)

    assert response.status_code == 400
    assert set(response.json()) == set(query)


def test_a_run_reads_with_its_log_and_environment(client, board, card, vera):
    job = _job(board, card, log="epoch 1\n", final_metrics={"accuracy": 0.97}, environment={"python": "3.11"})
    client.force_login(vera)

    body = client.get(f"/api/boards/{board.pk}/runs/{job.pk}/").json()

    assert (body["log"], body["final_metrics"], body["environment"]) == ("epoch 1\n", {"accuracy": 0.97},
                                                                         {"python": "3.11"})


def test_metrics_come_as_series_by_key_and_step(client, board, card, vera):
    job = _job(board, card)
    Metric.objects.bulk_create([Metric(job=job, key=k, step=s, value=v) for k, s, v in [
        ("loss", 2, 0.4), ("loss", 1, 0.7), ("accuracy", 1, 0.8), ("accuracy", 2, 0.9)]])
    client.force_login(vera)
    url = f"/api/boards/{board.pk}/runs/{job.pk}/metrics/"

    every = client.get(url).json()
    only_loss = client.get(url, {"key": "loss"}).json()

    assert [(s["key"], [(p["step"], p["value"]) for p in s["points"]]) for s in every] == [
        ("accuracy", [(1, 0.8), (2, 0.9)]), ("loss", [(1, 0.7), (2, 0.4)])]
    assert [s["key"] for s in only_loss] == ["loss"]
    assert client.get(url, {"key": "no_such_metric"}).json() == []
    assert client.get(url, {"key": "a\x00b"}).status_code == 400


def test_artifacts_list_with_their_download_links(client, board, card, vera, tmp_path):
    job = _job(board, card)
    with override_settings(MEDIA_ROOT=tmp_path):
        artifact = Artifact(job=job, name="confusion_matrix.png", kind="image", size=4)
        artifact.file.save("confusion_matrix.png", ContentFile(b"\x89PNG"), save=True)
        client.force_login(vera)

        body = client.get(f"/api/boards/{board.pk}/runs/{job.pk}/artifacts/").json()

    assert body["results"] == [{
        "id": artifact.pk, "name": "confusion_matrix.png", "kind": "image", "size": 4,
        "created_at": body["results"][0]["created_at"],
        "url": f"/b/{board.pk}/runs/{job.pk}/artifacts/{artifact.pk}/",
    }]


# --- cancel and retry -------------------------------------------------------------------------------

def test_cancelling_a_queued_run_ends_it_and_the_card_says_so(api, board, card):
    job = _job(board, card, state="queued")

    response = api.post(f"/api/boards/{board.pk}/runs/{job.pk}/cancel/")

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "cancelled"
    assert TicketEvent.objects.filter(ticket_id=card.pk, field="run").get().new_display.startswith(
        f"run {job.pk} cancelled")


@pytest.mark.parametrize("state", ["succeeded", "failed", "timed_out", "cancelled"])
def test_cancelling_an_ended_run_is_409_and_changes_nothing(api, board, card, state):
    job = _job(board, card, state=state)
    before = _rows()

    response = api.post(f"/api/boards/{board.pk}/runs/{job.pk}/cancel/")

    assert response.status_code == 409
    assert "only queued or running runs can be cancelled" in response.json()["detail"]
    assert TrainingJob.objects.get(pk=job.pk).state == state
    assert _rows() == before


@pytest.mark.parametrize("state", ["queued", "running"])
def test_retrying_an_active_run_is_409_and_changes_nothing(api, board, card, state):
    job = _job(board, card, state=state)
    before = _rows()

    response = api.post(f"/api/boards/{board.pk}/runs/{job.pk}/retry/")

    assert response.status_code == 409
    assert "before retrying" in response.json()["detail"]
    assert _rows() == before


def test_retrying_an_ended_run_starts_a_new_one_of_the_same_spec(api, board, card, hypothesis):
    job = _job(board, card, state="failed", hypothesis=hypothesis, queue="gpu")

    response = api.post(f"/api/boards/{board.pk}/runs/{job.pk}/retry/")

    assert response.status_code == 201, response.content
    new = TrainingJob.objects.get(pk=response.json()["id"])
    assert (new.state, new.retry_of, new.trainer, new.params, new.queue, new.hypothesis) == (
        "queued", job, job.trainer, job.params, "gpu", hypothesis)


def test_a_viewer_cannot_cancel_or_retry(client, board, card, vera):
    queued, done = _job(board, card, state="queued"), _job(board, card)
    client.force_login(vera)

    assert client.post(f"/api/boards/{board.pk}/runs/{queued.pk}/cancel/").status_code == 403
    assert client.post(f"/api/boards/{board.pk}/runs/{done.pk}/retry/").status_code == 403
    assert (TrainingJob.objects.get(pk=queued.pk).state, TrainingJob.objects.count()) == ("queued", 2)


# --- sweeps ------------------------------------------------------------------------------------------

def _sweep_body(card, **overrides):
    return {**_run_body(card, params={"max_iter": 50}), "mode": "grid", "space": {"C": [0.1, 1, 10]},
            "metric": "accuracy", **overrides}


def test_a_grid_sweep_makes_one_queued_run_per_point(api, board, card, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(api, f"/api/boards/{board.pk}/sweeps/", _sweep_body(card))

    assert response.status_code == 201, response.content
    sweep = Sweep.objects.get(pk=response.json()["id"])
    runs = list(sweep.jobs.order_by("id"))
    assert [(r.params, r.state) for r in runs] == [({"C": c, "max_iter": 50}, "queued") for c in (0.1, 1, 10)]
    assert [r["id"] for r in response.json()["runs"]] == [r.pk for r in runs]
    assert len(callbacks) == 1  # one Celery group for all the points
    assert api.get(f"/api/boards/{board.pk}/sweeps/{sweep.pk}/").json()["metric"] == "accuracy"
    assert [s["id"] for s in api.get(f"/api/boards/{board.pk}/sweeps/", {"ticket": card.pk}).json()["results"]] == [
        sweep.pk]


def test_a_random_sweep_draws_the_samples_asked_for_within_the_range(api, board, card):
    response = _post(api, f"/api/boards/{board.pk}/sweeps/", _sweep_body(
        card, mode="random", samples=4, space={"C": {"min": 0.01, "max": 100}}))

    assert response.status_code == 201, response.content
    values = [job.params["C"] for job in TrainingJob.objects.all()]
    assert len(values) == 4 and all(0.01 <= c <= 100 for c in values)


@pytest.mark.parametrize("overrides, field", [
    ({"space": {"gamma": [1, 2]}}, "space"),  # not a parameter of the trainer
    ({"space": {}}, "space"),
    ({"space": {"C": [1e9]}}, "space"),  # a point out of range
    ({"space": {"C": "1,2"}}, "space"),
    ({"space": {"C": {"min": "a", "max": 2}}}, "space"),
    ({"space": {"C": [[1]]}}, "space"),
    ({"space": {"C": list(range(1, 102))}}, "space"),  # more points than a sweep may have
    ({"mode": "random", "space": {"C": {"min": 1, "max": 2}}}, "samples"),
    ({"mode": "random", "samples": 10**6, "space": {"C": [1]}}, "samples"),
    ({"mode": "bayesian"}, "mode"),
    ({"metric": ""}, "metric"),
    ({"params": {"max_iter": -5}}, "params"),
    ({"trainer": "os:system"}, "trainer"),
])
def test_a_bad_sweep_is_400_naming_the_field_and_saves_nothing(api, board, card, overrides, field):
    before = _rows()

    response = _post(api, f"/api/boards/{board.pk}/sweeps/", _sweep_body(card, **overrides))

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert _rows() == before


def test_a_viewer_reads_sweeps_but_cannot_start_one(client, board, card, vera):
    client.force_login(vera)

    assert client.get(f"/api/boards/{board.pk}/sweeps/").status_code == 200
    assert _post(client, f"/api/boards/{board.pk}/sweeps/", _sweep_body(card)).status_code == 403
    assert not Sweep.objects.exists()


def test_a_card_moves_when_its_run_is_cancelled_only_if_the_board_says_so(api, board, card, columns):
    job = _job(board, card, state="running")

    api.post(f"/api/boards/{board.pk}/runs/{job.pk}/cancel/")

    assert Ticket.objects.get(pk=card.pk).column == columns[2]  # a cancelled run never moves its card
