"""The content security policy (django-csp 4) and the image hosts it allows.

settings.py imports both names from here. They live together because they are
one decision: a markdown image from a host outside MARKDOWN_IMAGE_HOSTS is
rendered as a link (board/markdown.py), and img-src lets the browser load
images only from this site, data: URIs and those same hosts.

Scripts: only our own files, and only with this request's nonce for anything
django-htmx writes; no 'unsafe-inline', no 'unsafe-eval' (htmx runs with
allowEval false, see templates/base.html).

Styles: style sheets only from this site ('self'), but style *attributes* are
allowed (style-src-attr 'unsafe-inline'). Label and epic colours are arbitrary
hex values chosen by board owners and reach the page as style="--c: #hex" on
every card, including cards the poll inserts as HTML, and the board's grid
width is style="--columns: N". A nonce cannot cover attributes, and hashing
every colour ('unsafe-hashes') is not workable. The risk this accepts is small:
every style attribute is written by our templates with escaped values
(markdown output has no style attributes: nh3 strips them), a style attribute
can neither run script nor load anything outside img-src/font-src, and
<style> elements, the vehicle for CSS selector exfiltration, stay blocked.
"""

import re

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

_env = environ.Env()

# A host name, or "*." and a host name for its subdomains (CSP's own syntax):
# anything else (a scheme, a port, a path, a space or a ';') is refused, as it
# could change the policy or mean something else to the markdown renderer.
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def image_hosts_from_env() -> list[str]:
    hosts = [h.strip().lower() for h in _env.list("MARKDOWN_IMAGE_HOSTS", default=[]) if h.strip()]
    bad = [h for h in hosts if not _HOST.match(h)]
    if bad:
        raise ImproperlyConfigured(
            f"MARKDOWN_IMAGE_HOSTS takes host names such as i.imgur.com or *.example.org, not {bad!r}"
        )
    return hosts


# Hosts whose images markdown shows inline; any other remote image is a link.
MARKDOWN_IMAGE_HOSTS = image_hosts_from_env()


def content_security_policy(image_hosts: list[str]) -> dict:
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF, NONCE],
            "style-src": [SELF],
            "style-src-attr": [UNSAFE_INLINE],
            "img-src": [SELF, "data:", *image_hosts],
            "object-src": [NONE],
            "base-uri": [SELF],
            "frame-ancestors": [NONE],
            "form-action": [SELF],
        },
    }


CONTENT_SECURITY_POLICY = content_security_policy(MARKDOWN_IMAGE_HOSTS)
