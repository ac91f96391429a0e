"""The board under its content security policy, in chromium: opening a card
and adding one break no rule of the policy, and the policy really is
enforced (an inline script injected into the page does not run)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.pages import sign_in
from tests.factories import LabelFactory, make_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Registered before any page script runs (through the DevTools protocol, which
# the page's CSP does not govern); reports every violation to the test.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const v = {directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample,
             where: e.sourceFile + ":" + e.lineNumber, page: location.pathname};
  window.__csp.push(v);
  window.mkReportViolation(v);
});
"""


def test_the_board_breaks_no_csp_rule_opening_a_card_and_adding_one(page, live_server, board, columns, alice):
    label = LabelFactory(board=board, name="data", color="#c9372c")
    card = make_ticket(
        board, alice, title="Check the label colour", labels=(label,),
        description="Loss **falls**. ![pixel](https://tracker.example.com/p.gif)",
    )
    violations, console = [], []
    page.expose_function("mkReportViolation", lambda v: violations.append(v))
    page.add_init_script(WATCH_CSP)
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))

    sign_in(page, live_server, "alice")
    response = page.goto(f"{live_server.url}/b/{board.pk}/")
    policy = response.headers["content-security-policy"]
    assert re.search(r"script-src 'self' 'nonce-[^']+'", policy), policy
    expect(page.locator("#board")).to_be_visible()

    # Style attributes are allowed (style-src-attr): the label has its colour.
    chip = page.locator(f"#card-{card.pk} .label")
    assert chip.evaluate("el => getComputedStyle(el).getPropertyValue('--c').trim()") == "#c9372c"

    # The card modal (htmx GET and swap): its markdown, with the remote image as a link.
    page.locator(f"#card-{card.pk} .card-title").click()
    dialog = page.locator("dialog.modal")
    expect(dialog.locator(".markdown strong")).to_have_text("falls")
    expect(dialog.locator(".markdown a.md-image-link")).to_have_attribute("href", "https://tracker.example.com/p.gif")
    assert dialog.locator(".markdown img").count() == 0
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)

    # Quick-add (htmx POST): the card arrives and the form empties itself, no hx-on needed.
    page.get_by_text("+ Add card").click()  # the quick-add opens under its button
    page.fill(".quick-add input[name=title]", "Added under the CSP")
    page.select_option(".quick-add select[name=column]", str(columns[1].pk))
    page.click(".quick-add button[type=submit]")
    expect(page.locator(f'.cards[data-column="{columns[1].pk}"] .card-title')).to_have_text(["Added under the CSP"])
    expect(page.locator(".quick-add input[name=title]")).to_have_value("")

    assert violations == []
    assert page.evaluate("window.__csp") == []
    assert [m for m in console if "Content Security Policy" in m or m.startswith(("error", "pageerror"))] == []

    # And the policy is enforced: an injected inline script is refused and reported.
    page.evaluate("""() => {
      const s = document.createElement("script");
      s.textContent = "window.__ran = true";
      document.body.append(s);
    }""")
    page.wait_for_function("() => window.__csp.length > 0")  # a function: the CSP forbids eval
    assert page.evaluate("window.__ran") is None
    assert page.evaluate("window.__csp[0].directive") == "script-src-elem"
