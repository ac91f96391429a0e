"""Every page passes an axe-core scan with no serious or critical violation,
at 1440×900 and on a 390×844 phone.

axe-core comes inside axe-playwright-python (a tests-only dependency; the
script's MPL-2.0 notice is in its header) and is injected by Playwright, so
the app never serves it. A failure lists each violation with its rule id, what
it asks for and the first elements it found, per page and size."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.sample_board import SIZES, make_sample, signed_in

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]

SEVERE = ("serious", "critical")
AXE = Axe()


def severe_violations(page) -> list[str]:
    """One line per serious or critical violation, with a few of its targets."""
    results = AXE.run(page)
    lines = []
    for v in results.response["violations"]:
        if v["impact"] not in SEVERE:
            continue
        targets = [" ".join(map(str, node["target"])) + _colours(node) for node in v["nodes"]]
        more = f" (+{len(targets) - 3} more)" if len(targets) > 3 else ""
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}\n      at {'; '.join(targets[:3])}{more}")
    return lines


def _colours(node) -> str:
    """For a contrast failure, the colours axe measured and the ratio it needs."""
    for check in node.get("any", []):
        data = check.get("data") or {}
        if isinstance(data, dict) and data.get("fgColor"):
            return (f" ({data['fgColor']} on {data['bgColor']}: {data['contrastRatio']}:1,"
                    f" needs {data['expectedContrastRatio']})")
    return ""


@pytest.fixture
def sample(board, alice, bob, tmp_path):
    return make_sample(board, alice, bob, tmp_path)


def assert_accessible(browser, live_server, path, *, user="alice", ready=None, then=None):
    """Scan the page at path at each size, signed in as user (None: anonymous)."""
    report = []
    for size, options in SIZES.items():
        context = browser.new_context(**options)
        if user:
            signed_in(context, live_server, user)
        page = context.new_page()
        page.goto(live_server.url + path)
        if ready:
            expect(page.locator(ready).first).to_be_attached()
        if then:
            then(page)
        found = severe_violations(page)
        if found:
            report.append(f"{path} at {size} ({page.url}):\n" + "\n".join(found))
        context.close()
    assert not report, "axe found serious or critical violations:\n" + "\n".join(report)


def open_a_card(page):
    page.locator(".card-title").first.click()
    expect(page.locator("dialog[open]")).to_be_visible()


def test_sign_in_page_is_accessible(browser, live_server, db):
    assert_accessible(browser, live_server, "/accounts/login/", user=None)


def test_sign_up_page_is_accessible(browser, live_server, db):
    assert_accessible(browser, live_server, "/accounts/signup/", user=None)


def test_board_list_is_accessible(browser, live_server, sample):
    assert_accessible(browser, live_server, sample.url("boards"))


def test_board_in_swimlanes_is_accessible(browser, live_server, sample):
    assert_accessible(browser, live_server, sample.url("board-lanes"), ready="#board")


def test_board_with_a_card_open_is_accessible(browser, live_server, sample):
    assert_accessible(browser, live_server, sample.url("board"), ready="#board", then=open_a_card)


def test_settings_page_is_accessible(browser, live_server, sample):
    assert_accessible(browser, live_server, sample.url("settings"))


def test_sprint_list_is_accessible(browser, live_server, sample):
    assert_accessible(browser, live_server, sample.url("sprints"))


def test_sprint_page_with_its_burndown_is_accessible(browser, live_server, sample):
    assert_accessible(browser, live_server, sample.url("sprint"), ready="[data-chart-ready]")


def test_sprint_planning_is_accessible(browser, live_server, sample):
    assert_accessible(browser, live_server, sample.url("plan"), ready="#planning[data-ready]")


def test_standup_is_accessible(browser, live_server, sample):
    assert_accessible(browser, live_server, sample.url("standup"))


def test_reports_page_is_accessible(browser, live_server, sample):
    assert_accessible(browser, live_server, sample.url("reports"),
                      then=lambda page: expect(page.locator("figure[data-chart-kind]:not([data-chart-ready])"))
                      .to_have_count(0))


def test_run_page_is_accessible(browser, live_server, sample):
    assert_accessible(browser, live_server, sample.url("run"), ready="[data-ready]")


def test_compare_page_is_accessible(browser, live_server, sample):
    assert_accessible(browser, live_server, sample.url("compare"), ready="[data-ready]")
