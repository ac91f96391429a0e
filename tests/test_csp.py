"""The content security policy (mlkanban/csp.py): every HTML page sends one
that allows no inline script and no eval, and no template or rendered page
holds anything such a policy would block (inline scripts, on* handlers,
hx-on, <style> elements)."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from mlkanban import csp
from tests.factories import make_ticket

TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"


def directives(header: str) -> dict[str, list[str]]:
    result = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            result[words[0]] = words[1:]
    return result


class _Page(HTMLParser):
    """Collects what a strict CSP would block, and every script's nonce."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self.script_nonces = []
        self.htmx_config = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in attrs:
            if name.startswith("on") or re.match(r"(data-)?hx-on", name):
                self.problems.append(f"<{tag} {name}=…>: an inline event handler")
        if tag == "script":
            if not attrs.get("src"):
                self.problems.append(f"<script> without src: {attrs}")
            self.script_nonces.append(attrs.get("nonce"))
        if tag == "style":
            self.problems.append("a <style> element")
        if tag == "meta" and attrs.get("name") == "htmx-config":
            self.htmx_config = json.loads(attrs["content"])

    handle_startendtag = handle_starttag


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.fixture
def ticket(board, alice):
    return make_ticket(board, alice, title="Calibrate the ranker", description="**bold** and `code`")


SIGNED_OUT_PAGES = {
    "login": lambda c: "/accounts/login/",
    "signup": lambda c: "/accounts/signup/",
    "admin login": lambda c: "/admin/login/",
}
SIGNED_IN_PAGES = {
    "board index": lambda c: "/",
    "board": lambda c: f"/b/{c['board'].pk}/",
    "card page": lambda c: f"/b/{c['board'].pk}/t/{c['ticket'].number}/",
    "board settings": lambda c: f"/b/{c['board'].pk}/settings/",
}
ALL_PAGES = {**SIGNED_OUT_PAGES, **SIGNED_IN_PAGES}


@pytest.fixture(params=list(ALL_PAGES))
def html_page(request, client, alice, board, ticket):
    name = request.param
    if name in SIGNED_IN_PAGES:
        client.force_login(alice)
    response = client.get(ALL_PAGES[name]({"board": board, "ticket": ticket}))
    assert response.status_code == 200, (name, response.status_code)
    assert response["Content-Type"].startswith("text/html")
    return name, response


def test_every_html_page_sends_a_policy_without_inline_script_or_eval(html_page):
    name, response = html_page
    assert "Content-Security-Policy" in response, f"{name} has no CSP header"
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"][0] == "'self'"
    for directive in ("default-src", "script-src"):
        assert "'unsafe-inline'" not in policy[directive], (name, directive)
        assert "'unsafe-eval'" not in policy[directive], (name, directive)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    # Style sheets only from this site; style attributes (label colours) allowed.
    assert policy["style-src"] == ["'self'"]
    assert policy["style-src-attr"] == ["'unsafe-inline'"]
    assert policy["img-src"][:2] == ["'self'", "data:"]


def test_every_rendered_page_has_nothing_the_policy_would_block(html_page):
    name, response = html_page
    parsed = parse(response.content.decode())
    assert parsed.problems == [], name


@pytest.mark.parametrize("name", list(ALL_PAGES.keys() - {"admin login"}))
def test_our_pages_give_every_script_this_requests_nonce(client, alice, board, ticket, name):
    if name in SIGNED_IN_PAGES:
        client.force_login(alice)
    url = ALL_PAGES[name]({"board": board, "ticket": ticket})
    first, second = client.get(url), client.get(url)
    nonce = re.search(r"'nonce-([^']+)'", first["Content-Security-Policy"]).group(1)
    parsed = parse(first.content.decode())
    assert parsed.script_nonces and set(parsed.script_nonces) == {nonce}
    assert nonce not in second["Content-Security-Policy"], "a nonce must be new on every response"
    # htmx itself is set up not to need eval, inline scripts or an injected <style>.
    assert parsed.htmx_config["allowEval"] is False
    assert parsed.htmx_config["allowScriptTags"] is False
    assert parsed.htmx_config["includeIndicatorStyles"] is False


def test_the_card_modal_swapped_by_htmx_is_free_of_inline_code(client, alice, board, ticket):
    client.force_login(alice)
    response = client.get(f"/b/{board.pk}/t/{ticket.number}/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert parse(response.content.decode()).problems == []


# Comments are not markup; "{# … #}" may name what it forbids.
_COMMENT = re.compile(r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S)
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.I)
_HANDLER = re.compile(r"""[\s"'](?:on[a-z]+|(?:data-)?hx-on[\w:.-]*)\s*=""", re.I)
_STYLE_ELEMENT = re.compile(r"<style\b", re.I)


def test_the_scanner_catches_what_it_looks_for():
    bad = [
        "<script>alert(1)</script>", '<button onclick="x()">', "<form hx-on::after-request='this.reset()'>",
        '<div data-hx-on:click="x">', "<style>p{}</style>", '<body onload="x()">',
    ]
    for snippet in bad:
        assert _INLINE_SCRIPT.search(snippet) or _HANDLER.search(snippet) or _STYLE_ELEMENT.search(snippet), snippet
        assert parse(snippet).problems, snippet
    assert not _INLINE_SCRIPT.search('<script src="/static/js/app.js" defer nonce="x"></script>')
    assert not _HANDLER.search('<div data-online="1" data-column="3" hx-post="/x">')


@pytest.mark.parametrize("path", sorted(TEMPLATES_DIR.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES_DIR)))
def test_no_template_holds_inline_script_handlers_or_style_elements(path):
    text = _COMMENT.sub("", path.read_text())
    assert not _INLINE_SCRIPT.search(text), f"{path}: an inline <script>; put the code in static/js"
    handler = _HANDLER.search(text)
    assert not handler, f"{path}: {handler.group(0).strip()} is inline code; listen in static/js instead"
    assert not _STYLE_ELEMENT.search(text), f"{path}: a <style> element; put it in static/css"


# --- the image hosts ----------------------------------------------------------------

def test_image_hosts_come_from_the_environment_and_join_img_src(monkeypatch):
    monkeypatch.setenv("MARKDOWN_IMAGE_HOSTS", "i.imgur.com, *.githubusercontent.com")
    hosts = csp.image_hosts_from_env()
    assert hosts == ["i.imgur.com", "*.githubusercontent.com"]
    img_src = csp.content_security_policy(hosts)["DIRECTIVES"]["img-src"]
    assert img_src == ["'self'", "data:", "i.imgur.com", "*.githubusercontent.com"]


def test_no_image_hosts_by_default(monkeypatch):
    monkeypatch.delenv("MARKDOWN_IMAGE_HOSTS", raising=False)
    assert csp.image_hosts_from_env() == []


@pytest.mark.parametrize("value", [
    "https://i.imgur.com", "i.imgur.com/path", "evil.com; script-src *", "a.com 'unsafe-inline'", "*", "host:8080",
])
def test_an_image_host_that_could_bend_the_policy_is_refused(monkeypatch, value):
    monkeypatch.setenv("MARKDOWN_IMAGE_HOSTS", value)
    with pytest.raises(ImproperlyConfigured):
        csp.image_hosts_from_env()
