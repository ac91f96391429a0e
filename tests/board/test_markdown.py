"""Markdown in descriptions and comments (board/markdown.py): remote images
become links (no tracking pixels), images from this site and from
MARKDOWN_IMAGE_HOSTS stay images, and nothing executable survives."""

from html.parser import HTMLParser

import pytest

from board.markdown import render_markdown


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []  # (tag, {attr: value})
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def tags(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def only(html: str, tag: str) -> dict:
    found = [attrs for t, attrs in tags(html).tags if t == tag]
    assert len(found) == 1, html
    return found[0]


def assert_nothing_executable(html: str) -> None:
    for tag, attrs in tags(html).tags:
        assert tag not in ("script", "style", "iframe", "object", "embed", "svg"), html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            assert not (value or "").strip().lower().startswith(("javascript:", "vbscript:", "data:text")), html


@pytest.fixture(autouse=True)
def _image_hosts(settings):
    settings.MARKDOWN_IMAGE_HOSTS = ["i.imgur.com", "*.githubusercontent.com"]
    settings.ALLOWED_HOSTS = ["kanban.example.org"]


# --- remote images become links --------------------------------------------------------

@pytest.mark.parametrize("src", [
    "https://tracker.example.com/pixel.gif",
    "http://tracker.example.com/pixel.gif?user=alice",
    "//tracker.example.com/pixel.gif",                  # protocol-relative
    "HTTPS://Tracker.Example.com/p.gif",
    "https://i.imgur.com.evil.example/p.gif",           # an allowed name as a prefix is another host
    "https://evilimgur.com/p.gif",
    "https://i.imgur.com:8443/p.gif",                   # a host in the list means its default port
    "https://githubusercontent.com/p.gif",              # "*.host" is its subdomains, as in CSP
])
def test_a_remote_image_becomes_a_link_to_it(src):
    html = render_markdown(f"Look: ![the loss curve]({src})")
    assert "<img" not in html
    link = only(html, "a")
    assert link["href"].lower().endswith(src.lower().rsplit("/", 1)[1])
    assert set(link["rel"].split()) == {"noopener", "noreferrer", "nofollow"}
    assert "the loss curve" in "".join(tags(html).text)


def test_a_remote_image_without_alt_text_shows_its_url():
    html = render_markdown("![](https://tracker.example.com/pixel.gif)")
    assert "<img" not in html
    assert only(html, "a")["href"] == "https://tracker.example.com/pixel.gif"
    assert "https://tracker.example.com/pixel.gif" in "".join(tags(html).text)


def test_a_remote_image_inside_a_link_leaves_the_link_and_its_text():
    html = render_markdown("[![badge](https://tracker.example.com/b.svg)](https://ci.example.com/)")
    assert "<img" not in html
    assert only(html, "a")["href"] == "https://ci.example.com/"  # no link nested in a link
    assert "badge" in "".join(tags(html).text)


# --- images that stay images -------------------------------------------------------

@pytest.mark.parametrize("src", [
    "/static/diagram.png",
    "diagram.png",
    "https://kanban.example.org/media/diagram.png",     # this site (ALLOWED_HOSTS)
    "https://i.imgur.com/abc.png",                      # MARKDOWN_IMAGE_HOSTS
    "http://i.imgur.com/abc.png",
    "https://raw.githubusercontent.com/org/repo/main/curve.png",
])
def test_same_origin_and_allowed_host_images_stay_images(src):
    html = render_markdown(f'![curve]({src} "Validation loss")')
    img = only(html, "img")
    assert img["src"] == src
    assert img["alt"] == "curve"
    assert img["title"] == "Validation loss"
    assert "<a" not in html


def test_with_no_allowed_hosts_every_remote_image_is_a_link(settings):
    settings.MARKDOWN_IMAGE_HOSTS = []
    html = render_markdown("![x](https://i.imgur.com/abc.png)")
    assert "<img" not in html and only(html, "a")["href"] == "https://i.imgur.com/abc.png"


# --- nothing executable survives ---------------------------------------------------------

@pytest.mark.parametrize("text", [
    "![x](javascript:alert(1))",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    "[click](java&#x73;cript:alert(1))",
    "![x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<javascript:alert(1)>",
])
def test_javascript_urls_never_survive(text):
    html = render_markdown(text)
    assert_nothing_executable(html)
    for _, attrs in tags(html).tags:
        for value in attrs.values():
            assert "script:" not in (value or "").lower().replace("&#x73;", "s"), html


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>",
    "<b>bold</b> <iframe src=https://evil.example></iframe>",
    '<a href="https://evil.example" onclick="alert(1)">x</a>',
    "<style>body { display: none }</style>",
])
def test_raw_html_stays_text(text):
    html = render_markdown(text)
    assert_nothing_executable(html)
    assert [t for t, _ in tags(html).tags] == ["p"]  # one paragraph, everything in it text
    assert "".join(tags(html).text).strip() == text


@pytest.mark.parametrize("text", [
    "<img src=x onerror=alert(1)>",
    '![x" onerror="alert(1)](https://i.imgur.com/a.png)',
    '![x](https://i.imgur.com/a.png "t\\" onerror=\\"alert(1)")',
    '![x](https://tracker.example.com/a.png "t\\" onerror=\\"alert(1)")',
    "![x](https://i.imgur.com/a.png?\"onerror=alert(1))",
    '![x](/a.png)<img src=/a.png onerror="alert(1)">',
])
def test_an_img_with_onerror_produces_no_event_handler(text):
    html = render_markdown(text)
    assert_nothing_executable(html)  # "onerror" may survive as text, never as an attribute
