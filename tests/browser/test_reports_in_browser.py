"""The reports page in a real browser: each chart fetches its JSON and draws
on its canvas (non-blank pixels), with a table of the same numbers."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from board import services
from board.models import Sprint, Ticket
from tests.browser.test_board_in_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results"  # kept by CI as artifacts

INKED = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0 && (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235)) inked++;
  }
  return inked;
}"""


def _history(board, user):
    """A closed sprint and an active one, with cards moved through the columns over the last weeks."""
    columns = {c.name: c for c in board.columns.all()}
    now = timezone.now()
    today = timezone.localdate()
    Sprint.objects.create(board=board, name="Sprint 1", start=today - timedelta(days=24),
                          end=today - timedelta(days=11), state=Sprint.State.CLOSED, committed_points=13,
                          completed_points=10, closed_at=now - timedelta(days=10))
    active = Sprint.objects.create(board=board, name="Sprint 2", start=today - timedelta(days=10),
                                   end=today + timedelta(days=3), state=Sprint.State.ACTIVE,
                                   started_at=now - timedelta(days=10), committed_points=11)
    for i, (kind, points) in enumerate([("research", 3), ("story", 2), ("bug", 1), ("experiment", 5), ("story", 3)]):
        start = now - timedelta(days=20 - 3 * i)
        writer = services.Writer(user, at=start)
        ticket = services.ticket_create(board=board, actor=writer, data=services.TicketInput(
            title=f"Card {i}", kind=kind, points=points, sprint=active))
        for step, column in enumerate(["Whiteboarding", "Implementation", "Done"][: 1 + i % 3]):
            services.ticket_move(board=board, actor=services.Writer(user, at=start + timedelta(days=1 + step)),
                                 ticket_id=ticket.pk, expected_version=Ticket.objects.get(pk=ticket.pk).version,
                                 to_column_id=columns[column].pk, position="bottom")
    return active


def test_reports_page_draws_every_chart_with_its_table(page, live_server, board, alice):
    _history(board, alice)
    sign_in(page, live_server, "alice")
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto(f"{live_server.url}/b/{board.pk}/reports/")

    for kind in ("burndown", "velocity", "cfd", "accuracy"):
        figure = page.locator(f'figure[data-chart-kind="{kind}"]')
        expect(figure).to_have_attribute("data-chart-ready", "1")
        canvas = figure.locator("canvas")
        expect(canvas).to_be_visible()
        assert canvas.evaluate(INKED) > 500, kind
        assert figure.locator("details.chart-table tbody tr").count() > 0, kind
        expect(figure.get_by_role("button", name="Download CSV")).to_be_visible()
    # the median days per point per group, visible without opening anything
    expect(page.locator('figure[data-chart-kind="accuracy"] .chart-summary')).to_contain_text("Research & experiment")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "reports.png"), full_page=True)


def test_reports_page_says_so_when_there_is_no_history(page, live_server, board):
    sign_in(page, live_server, "alice")

    page.goto(f"{live_server.url}/b/{board.pk}/reports/")

    velocity = page.locator('figure[data-chart-kind="velocity"]')
    expect(velocity).to_have_attribute("data-chart-ready", "1")
    expect(velocity.locator(".chart-status")).to_contain_text("No sprint has closed yet")
    expect(page.locator('figure[data-chart-kind="accuracy"] .chart-status')).to_contain_text("No finished tickets")
