"""On a 390×844 phone no page scrolls sideways: wide tables scroll inside
their own box and charts shrink to the screen. Each page is also saved as a
screenshot at 1440×900 and 390×844 under var/screenshots/ (look at them).

The board, the card modal and the settings page have their own phone tests
with the board's code; these are the other pages."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.sample_board import DESKTOP, PHONE, make_sample, signed_in

pytestmark = [pytest.mark.browser, pytest.mark.layout, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE_WIDTH = PHONE["viewport"]["width"]

# The elements that stick out past the right edge, outermost first, for the failure message.
STICKING_OUT = """(limit) => {
  const out = [];
  const sticksOut = (el) => el.getBoundingClientRect().right > limit + 1;
  const scrollsInside = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (/(auto|scroll|hidden|clip)/.test(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll("*")) {
    if (!sticksOut(el) || (el.parentElement !== document.body && sticksOut(el.parentElement)) || scrollsInside(el)) continue;
    const classes = typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\\s+/).join(".") : "";
    out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + classes + " right=" + Math.round(el.getBoundingClientRect().right));
  }
  return out.slice(0, 8);
}"""

# name: (page, whose session (None: signed out), what shows the page is drawn)
PAGES = {
    "login": (None, "#id_username"),
    "signup": (None, "#id_username"),
    "boards": ("alice", "main"),
    "sprints": ("alice", "main"),
    "sprint": ("alice", "[data-chart-ready]"),
    "plan": ("alice", "#planning[data-ready]"),
    "standup": ("alice", "main"),
    "reports": ("alice", "figure[data-chart-kind]"),
    "run": ("alice", "[data-ready]"),
    "compare": ("alice", "[data-ready]"),
}


@pytest.fixture
def sample(board, alice, bob, tmp_path):
    return make_sample(board, alice, bob, tmp_path)


def show(browser, live_server, sample, name, options):
    """A new context at the given size on the named page, drawn; returns (context, page)."""
    user, drawn = PAGES[name]
    context = browser.new_context(**options)
    if user:
        signed_in(context, live_server, user)
    page = context.new_page()
    page.goto(live_server.url + sample.url(name))
    expect(page.locator(drawn).first).to_be_attached()
    if name == "reports":
        expect(page.locator("figure[data-chart-kind]:not([data-chart-ready])")).to_have_count(0)
    return context, page


@pytest.mark.parametrize("name", PAGES)
def test_page_fits_a_phone_without_scrolling_sideways(browser, live_server, sample, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, page = show(browser, live_server, sample, name, DESKTOP)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-1440x900.png"), full_page=True)
    context.close()

    context, page = show(browser, live_server, sample, name, PHONE)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-390x844.png"), full_page=True)
    width = page.evaluate("document.scrollingElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    sticking_out = page.evaluate(STICKING_OUT, PHONE_WIDTH)
    context.close()
    # innerWidth alone is not enough: a phone browser zooms out to fit a wide page, and innerWidth grows with it.
    assert width <= inner and inner <= PHONE_WIDTH, (
        f"{name} is {width} px wide in a {inner} px window on a {PHONE_WIDTH} px phone; sticking out: {sticking_out}")
