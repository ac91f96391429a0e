"""The error answers (403, 404, 500): a page in the app's layout for people,
a line of text for htmx (app.js shows a text/plain answer as a toast), and
JSON under /api/ as the rest of the API answers.

The 403 and 404 pages are errors/403.html and errors/404.html, not Django's
default names: Django's own handlers (a urlconf without ours, as some tests
use) would render a 403.html through base.html, which needs this site's URL
names. 500.html keeps its default name and needs nothing but static files.

DRF's own views turn their Http404 and PermissionDenied into JSON before these
run; what reaches them under /api/ is an address no route matches, or an
exception DRF does not handle (a 500).
"""

from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404
from django.views.decorators.csrf import requires_csrf_token

SERVER_ERROR = "Something went wrong on our side. It has been logged; please try again in a moment."


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _message(exception) -> str:
    """The exception's own message, when the code raised it with one in words."""
    message = exception.args[0] if exception is not None and exception.args else ""
    return message.strip() if isinstance(message, str) else ""


def _answer(request, status: int, template: str, reason: str):
    if _is_api(request):
        return JsonResponse({"detail": reason}, status=status)
    if getattr(request, "htmx", False):
        return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
    return render(request, template, {"reason": reason}, status=status)


@requires_csrf_token  # base.html renders a sign-out form
def permission_denied(request, exception=None):
    reason = _message(exception) or "You do not have permission to open this page."
    return _answer(request, 403, "errors/403.html", reason)


@requires_csrf_token
def page_not_found(request, exception=None):
    message = _message(exception)
    # No route matched, or get_object_or_404's "No Board matches the given query.":
    # say it in words. Our own messages ("No such board.") are already words.
    if isinstance(exception, Resolver404) or not message or message.endswith("matches the given query."):
        reason = "There is no page at this address. The link may be mistyped, or what it pointed to is gone."
    else:
        reason = message
    return _answer(request, 404, "errors/404.html", reason)


def server_error(request):
    """As Django's own: no request context, so no context processor or
    database is needed to show it (the database may be why we are here)."""
    if _is_api(request):
        return JsonResponse({"detail": SERVER_ERROR}, status=500)
    return HttpResponseServerError(loader.get_template("500.html").render({"reason": SERVER_ERROR}))
