"""Training runs in a real browser (Debian's chromium) against a live server
and a real Celery worker: Run on the card, the progress bar advancing on every
open board, the verdict on the card without a reload, and the run page."""

import re

import pytest
from playwright.sync_api import expect

from board.services import results as board_results
from experiments.models import TrainingJob
from tests.browser.pages import sign_in
from tests.experiments.conftest import ref, wait_for_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def open_board(page, live_server, board):
    page.goto(f"{live_server.url}/b/{board.pk}/")
    expect(page.locator("#board")).to_be_visible()


def test_run_from_the_card_shows_progress_then_the_verdict_on_every_open_board(
    browser, live_server, board, card, alice, bob, job_settings, start_worker
):
    hypothesis = board_results.hypothesis_create(
        board=board, ticket_id=card.pk, actor=alice, statement="The sleepy model reaches 0.9 accuracy",
        metric="accuracy", target=0.9)
    worker = start_worker("browser")
    runner = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    watcher = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(runner, live_server, "bob")
    sign_in(watcher, live_server, "alice")
    open_board(runner, live_server, board)
    open_board(watcher, live_server, board)
    expect(watcher.locator(f"#card-{card.pk} .hyp-open")).to_be_visible()

    runner.locator(f"#card-{card.pk} .card-title").click()
    runner.get_by_role("link", name="Run a training job").click()
    runner.locator("select[name=trainer]").select_option(ref("sleepy"))
    expect(runner.locator("[name=param_seconds]")).to_be_visible()
    runner.fill("[name=param_seconds]", "6")
    runner.fill("[name=param_steps]", "12")
    runner.locator("select[name=hypothesis]").select_option(str(hypothesis.pk))
    runner.get_by_role("button", name="Run", exact=True).click()
    expect(runner.locator(".runs .run-row").first).to_be_visible()
    runner.locator("[data-close-modal]").first.click()

    # Both boards show the strip, and its bar moves on without a reload.
    for page in (runner, watcher):
        expect(page.locator(f"#card-{card.pk} .card-live progress")).to_be_visible(timeout=20_000)
    bar = watcher.locator(f"#card-{card.pk} .card-live progress")
    expect(bar).to_have_attribute("value", re.compile(r"^([1-9][0-9]?)$"), timeout=20_000)  # between 1 and 99
    first = int(bar.get_attribute("value"))
    expect(bar).not_to_have_attribute("value", str(first), timeout=10_000)

    # The verdict replaces the strip on both boards.
    for page in (runner, watcher):
        expect(page.locator(f"#card-{card.pk} .hyp-supported")).to_be_visible(timeout=30_000)
        expect(page.locator(f"#card-{card.pk} .card-live")).to_have_count(0)
    job = wait_for_job(TrainingJob.objects.get(ticket=card), worker=worker)
    assert job.state == "succeeded"


def test_the_run_page_shows_a_metric_chart_and_the_confusion_matrix(
    browser, live_server, board, card, bob, job_settings, start_worker
):
    from tests.experiments.conftest import create_job

    worker = start_worker("browser-run-page")
    job = create_job(board, card, bob, trainer="experiments.trainers.builtin:logistic_regression", dataset="iris")
    job = wait_for_job(job, worker=worker, timeout=120)
    assert job.state == "succeeded", job.error
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(page, live_server, "bob")

    page.goto(f"{live_server.url}/b/{board.pk}/runs/{job.pk}/")

    canvas = page.locator("canvas").first
    expect(canvas).to_be_visible(timeout=10_000)
    assert canvas.bounding_box()["height"] > 50
    # Chart.js drew something: the canvas is not blank.
    painted = page.evaluate(
        """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                     for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false; }""",
        canvas.element_handle(),
    )
    assert painted
    image = page.locator("img[src*='/artifacts/']").first
    expect(image).to_be_visible()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 100", image.element_handle())
    page.screenshot(path=str(worker_artifacts_dir() / "run-page-1440.png"), full_page=True)


def worker_artifacts_dir():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
