"""The API documentation in chromium: Swagger UI and ReDoc, served from this
site under its CSP, show the API's operations and break no rule of the
policy; the schema opens as text rather than as a download."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.pages import sign_in
from tests.browser.test_csp_in_browser import WATCH_CSP

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def watched(page):
    """The page, with every CSP violation, console error and page error it meets."""
    problems = []
    page.expose_function("mkReportViolation", lambda v: problems.append(f"CSP: {v}"))
    page.add_init_script(WATCH_CSP)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    return page, problems


def test_swagger_ui_lists_the_operations_and_breaks_no_csp_rule(watched, live_server, alice):
    page, problems = watched
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "alice")

    page.goto(f"{live_server.url}/api/docs/")
    move = page.locator(".opblock-summary-path", has_text="/api/boards/{board_id}/tickets/{ticket_id}/move/")
    expect(move.first).to_be_visible(timeout=30_000)
    expect(page.locator(".opblock-tag", has_text="tickets").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "api-docs-swagger-1440.png"))

    assert problems == []


def test_redoc_lists_the_operations_and_breaks_no_csp_rule(watched, live_server, alice):
    page, problems = watched
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "alice")

    page.goto(f"{live_server.url}/api/redoc/")
    # ReDoc fetches the schema and lays out every operation before it shows anything.
    expect(page.get_by_role("heading", name="mlkanban API").first).to_be_visible(timeout=30_000)
    expect(page.locator("[data-section-id^='tag/tickets']").first).to_be_attached()
    expect(page.get_by_text("/api/boards/{board_id}/tickets/{ticket_id}/move/").first).to_be_attached()
    page.screenshot(path=str(SCREENSHOTS / "api-docs-redoc-1440.png"))

    # ReDoc 2's sidebar always asks cdn.redoc.ly for its logo and hides it when
    # that fails: the policy refusing it is what keeps the page offline.
    logo = "cdn.redoc.ly/redoc/logo-mini.svg"
    assert [p for p in problems if logo not in p] == []


def test_the_schema_opens_in_the_browser_as_text(watched, live_server, alice):
    page, problems = watched
    sign_in(page, live_server, "alice")

    response = page.goto(f"{live_server.url}/api/schema/")  # a download would raise here

    assert response.headers["content-type"].startswith("text/plain")
    expect(page.locator("body")).to_contain_text("openapi: 3")
    expect(page.locator("body")).to_contain_text("/api/boards/{board_id}/tickets/{ticket_id}/move/:")
    # A text document has no icon link: the browser's own /favicon.ico request (404) is not ours to judge.
    assert [p for p in problems if not p.startswith("console error: Failed to load resource")] == []


def test_the_api_root_is_a_page_of_links_in_the_browser(watched, live_server, alice):
    page, problems = watched
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, live_server, "alice")

    page.goto(f"{live_server.url}/api/")

    expect(page.locator("a", has_text=f"{live_server.url}/api/docs/").first).to_be_visible()
    expect(page.get_by_text("/api/boards/{board_id}/tickets/").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "api-root-1440.png"))
    assert problems == []
