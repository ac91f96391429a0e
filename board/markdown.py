"""Markdown for descriptions and comments: rendered, then sanitised.

markdown-it runs with raw HTML off (typed HTML shows as text) and nh3 cleans
the result as a second wall: only formatting tags, only http(s)/mailto links.

Images: an <img> from another site is a request every viewer's browser makes
when the card opens, so a remote image is a tracking pixel (it tells its host
who looked, when, and from where). Images are shown inline only from this site
(relative URLs, or absolute ones to a host in ALLOWED_HOSTS) and from the hosts
in settings.MARKDOWN_IMAGE_HOSTS (the same list the CSP's img-src allows, see
mlkanban/csp.py); any other image becomes a plain link to it, which loads
nothing until someone clicks it.
"""

from urllib.parse import urlsplit

import nh3
from django.conf import settings
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "img",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
ALLOWED_CLASSES = {"a": {"md-image-link"}}
LINK_REL = "noopener noreferrer nofollow"


def _host_allowed(host: str, allowed: list[str]) -> bool:
    """CSP host-source matching: "a.b" is that host, "*.a.b" its subdomains."""
    for entry in allowed:
        entry = entry.lower()
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry:
            return True
    return False


def _own_hosts() -> list[str]:
    """This site's names, from ALLOWED_HOSTS (a wildcard names no one site)."""
    return [h.strip("[]") for h in settings.ALLOWED_HOSTS if h and h != "*" and not h.startswith(".")]


INLINE, LINK, TEXT = "inline", "link", "text"


def image_treatment(src: str) -> str:
    """INLINE for a same-origin image or one from MARKDOWN_IMAGE_HOSTS, LINK
    for any other web image, TEXT for the rest (data:, ftp:, unparsable)."""
    # Browsers read a backslash as "/" in http(s) URLs (so slash-backslash-host
    # is protocol-relative): decide on what the browser would see. markdown-it
    # already %-encodes backslashes; this keeps the decision right regardless.
    candidate = src.strip().replace("\\", "/")
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError:
        return TEXT
    if not parts.scheme and not parts.netloc:
        return INLINE  # relative: this site
    if parts.scheme not in ("http", "https", "") or not parts.hostname:
        return TEXT
    host = parts.hostname.lower()
    if _host_allowed(host, _own_hosts()):
        return INLINE  # this site by its absolute URL; img-src 'self' has the last word on the port
    # CSP matches a host without a port on the scheme's default port only.
    default_port = port is None or port == {"http": 80, "https": 443}.get(parts.scheme)
    if default_port and _host_allowed(host, getattr(settings, "MARKDOWN_IMAGE_HOSTS", [])):
        return INLINE
    return LINK


def _inside_link(tokens, idx) -> bool:
    depth = 0
    for token in tokens[:idx]:
        if token.type == "link_open":
            depth += 1
        elif token.type == "link_close":
            depth -= 1
    return depth > 0


def _render_image(self, tokens, idx, options, env):
    """markdown-it's image rule, except that a remote image becomes a link."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    treatment = image_treatment(src)
    if treatment == INLINE:
        token.attrSet("alt", alt)
        return self.renderToken(tokens, idx, options, env)
    text = escapeHtml(alt or src)
    if treatment == TEXT or _inside_link(tokens, idx):
        return text  # a link inside a link is not HTML
    title = token.attrGet("title")
    title_attr = f' title="{escapeHtml(str(title))}"' if title else ""
    return f'<a class="md-image-link" href="{escapeHtml(src)}" rel="{LINK_REL}"{title_attr}>{text}</a>'


_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])
_md.add_render_rule("image", _render_image)


def render_markdown(text: str) -> str:
    html = _md.render(text or "")
    return nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, allowed_classes=ALLOWED_CLASSES,
        url_schemes={"http", "https", "mailto"}, link_rel=LINK_REL,
    )
