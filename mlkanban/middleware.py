"""A board left open after its session ended must not show the login page
inside a card.

@login_required answers a signed-out request with a redirect to LOGIN_URL.
XMLHttpRequest and fetch follow it silently, so htmx would swap the login form
into the modal or a column, and the board poll would choke on HTML. Here that
redirect becomes what each kind of client can act on:

* htmx requests (HX-Request): HX-Redirect to the login page, with ?next= the
  page the user is on (HX-Current-URL, only when it is this site); htmx then
  navigates the whole window.
* JSON requests (the board poll sends Accept: application/json): 401 with
  {"login_url": ...}, next= taken from the same-origin Referer; board.js
  navigates to it.
* everything else keeps the plain 302.

An htmx POST from a browser whose cookies are gone fails the CSRF check (403)
before it reaches login_required; for a signed-out user that 403 means the
same thing, and gets the same HX-Redirect.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

REDIRECTS = (301, 302, 303, 307, 308)


def _same_origin_path(request, url: str | None) -> str | None:
    """The path (and query) of url if it is on this site, else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if (parts.scheme, parts.netloc) != (request.scheme, request.get_host()):
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or not url_has_allowed_host_and_scheme(
        path, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return path


def _is_login_redirect(response, login_url: str) -> bool:
    if response.status_code not in REDIRECTS or not response.has_header("Location"):
        return False
    location, login = urlsplit(response["Location"]), urlsplit(login_url)
    if location.netloc and (location.scheme, location.netloc) != (login.scheme, login.netloc):
        return False
    return location.path == login.path


def _wants_json(request) -> bool:
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


class StaleSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        htmx = bool(getattr(request, "htmx", False))
        if not (htmx or _wants_json(request)):
            return response
        login_url = resolve_url(settings.LOGIN_URL)
        signed_out_refusal = htmx and response.status_code == 403 and not request.user.is_authenticated
        if not (_is_login_redirect(response, login_url) or signed_out_refusal):
            return response
        if htmx:
            here = _same_origin_path(request, request.headers.get("HX-Current-URL"))
            return HttpResponseClientRedirect(self._login_url(login_url, here))
        here = _same_origin_path(request, request.headers.get("Referer"))
        return JsonResponse({"login_url": self._login_url(login_url, here)}, status=401)

    @staticmethod
    def _login_url(login_url: str, next_path: str | None) -> str:
        if not next_path or urlsplit(next_path).path == urlsplit(login_url).path:
            return login_url
        return redirect_to_login(next_path, login_url, REDIRECT_FIELD_NAME)["Location"]
