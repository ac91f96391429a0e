"""Running jobs on the board: their progress strips on the page and in the
poll. A progress tick bumps the board's pulse, never its version nor its row
(no board lock), so the poll stays one query while nothing changed, running
jobs included, and answers only the strips after a tick."""

import re
import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from board.models import Board, BoardPulse
from board.services import results as board_results
from experiments import runner, services
from tests.experiments.conftest import create_job

pytestmark = pytest.mark.usefixtures("job_settings")


def tick(progress: float, *metrics: tuple[str, int, float]) -> runner.Tick:
    return runner.Tick(metrics=[(key, step, value, timezone.now()) for key, step, value in metrics],
                       progress=progress, message=f"{progress:.0%} done", params={}, rss_mb=50.0)


def pulse_of(board) -> int:
    return BoardPulse.objects.filter(board=board).values_list("version", flat=True).first() or 0


def card_html(page: str, card) -> str:
    return page[page.index(f'id="card-{card.pk}"'):].split("</li>", 1)[0]


def poll(client, board, version, pulse):
    return client.get(f"/b/{board.pk}/poll/?v={version}&p={pulse}&layout={board.layout_version}")


@pytest.fixture
def running(board, card, bob):
    """A job on the card, claimed by a worker: running, at 0 %."""
    return services.job_claim(create_job(board, card, bob).pk, worker="w1@host")


@pytest.mark.django_db
def test_the_board_page_shows_a_running_jobs_progress_strip_with_its_latest_metric(client, board, card, bob,
                                                                                   running):
    services._Hooks(running).on_tick(tick(0.4, ("val_accuracy", 3, 0.875)))
    client.force_login(bob)

    html = card_html(client.get(f"/b/{board.pk}/").content.decode(), card)

    assert f'class="card-live" data-live="{card.pk}"' in html
    assert f'data-run="{running.pk}"><progress max="100" value="40"' in html
    assert f"run {running.pk} · 40% · val_accuracy 0.875" in html


@pytest.mark.django_db
def test_a_progress_tick_bumps_the_pulse_but_neither_the_board_version_nor_the_board_row(board, running):
    version, pulse = Board.objects.get(pk=board.pk).version, pulse_of(board)

    with CaptureQueriesContext(connection) as queries:
        assert services._Hooks(running).on_tick(tick(0.5, ("loss", 1, 0.7), ("loss", 2, 0.6))) is True

    assert Board.objects.get(pk=board.pk).version == version
    assert pulse_of(board) == pulse + 1
    assert [q["sql"] for q in queries if '"board_board"' in q["sql"]] == []  # not read, not locked, not written
    metric_writes = [q["sql"] for q in queries if '"experiments_metric"' in q["sql"]]
    assert len(metric_writes) == 1  # the batch in one statement (COPY on PostgreSQL, one executemany elsewhere)
    running.refresh_from_db()
    assert (running.progress, running.latest_metric) == (0.5, {"key": "loss", "step": 2, "value": 0.6})


@pytest.mark.django_db
def test_a_heartbeat_without_news_does_not_bump_the_pulse(board, running):
    hooks = services._Hooks(running)
    hooks.on_tick(tick(0.5))
    pulse = pulse_of(board)

    hooks.on_tick(runner.Tick(metrics=[], progress=None, message=None, params={}, rss_mb=50.0))

    assert pulse_of(board) == pulse


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_progress_tick_goes_through_while_another_transaction_holds_the_board_lock(board, running):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite locks the whole database for any writer)")
    locked, tick_done = threading.Event(), threading.Event()
    seen = {}

    def hold_the_board_lock():
        try:
            with transaction.atomic():
                Board.objects.select_for_update().get(pk=board.pk)  # what a card move holds
                locked.set()
                seen["tick done while locked"] = tick_done.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_board_lock)
    holder.start()
    assert locked.wait(timeout=10)
    try:
        assert services._Hooks(running).on_tick(tick(0.5, ("loss", 1, 0.7))) is True
    finally:
        tick_done.set()
        holder.join(timeout=20)

    assert seen == {"tick done while locked": True}


@pytest.mark.django_db
def test_the_poll_of_an_unchanged_board_is_one_query_while_a_job_runs(client, board, bob, running,
                                                                      django_assert_num_queries):
    services._Hooks(running).on_tick(tick(0.3))
    board.refresh_from_db()
    pulse = pulse_of(board)
    client.force_login(bob)

    # 1  the user (the session comes from the cache)
    # 2  the membership with its board and the board's pulse: unchanged, so nothing more
    with django_assert_num_queries(2):
        response = poll(client, board, board.version, pulse)

    assert response.status_code == 204


@pytest.mark.django_db
def test_the_poll_after_a_tick_answers_only_the_strips(client, board, card, bob, running,
                                                       django_assert_num_queries):
    board.refresh_from_db()
    version, pulse = board.version, pulse_of(board)
    services._Hooks(running).on_tick(tick(0.6, ("val_accuracy", 4, 0.91)))
    client.force_login(bob)

    # 1  the user
    # 2  the membership with its board and pulse: the pulse moved
    # 3  the board's queued and running jobs (the strips)
    with django_assert_num_queries(3):
        response = poll(client, board, version, pulse)

    data = response.json()
    assert (data["version"], data["pulse"], data["cards"], data["gone"]) == (version, pulse + 1, [], [])
    assert set(data["jobs"]) == {str(card.pk)}
    strip = data["jobs"][str(card.pk)]
    assert re.search(r'<progress max="100" value="60"', strip)
    assert "val_accuracy 0.91" in strip


@pytest.mark.django_db
def test_when_the_job_ends_its_strip_leaves_the_card_and_the_results_show(client, board, card, alice, bob):
    hypothesis = board_results.hypothesis_create(
        board=board, ticket_id=card.pk, actor=alice, statement="Boosting beats 0.93 ROC AUC", metric="roc_auc",
        direction="higher", target=0.93,
    )
    job = services.job_claim(create_job(board, card, bob, hypothesis=hypothesis).pk, worker="w1@host")
    services._Hooks(job).on_tick(tick(0.8))
    board.refresh_from_db()
    version, pulse = board.version, pulse_of(board)
    client.force_login(bob)
    assert "card-live" in card_html(client.get(f"/b/{board.pk}/").content.decode(), card)

    services.job_finish(job, runner.RunOutcome(state="succeeded", final_metrics={"roc_auc": 0.97}))

    data = poll(client, board, version, pulse).json()
    assert data["jobs"] == {}  # the client removes every strip the answer does not list
    [changed] = data["cards"]
    assert changed["id"] == card.pk
    assert "card-live" not in changed["html"]
    assert 'class="hyp hyp-supported"' in changed["html"]
    assert "card-live" not in card_html(client.get(f"/b/{board.pk}/").content.decode(), card)
