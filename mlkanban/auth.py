"""Sign-in protection: who the client is, the lockout page, throttled API
tokens, and the password-change page.

Login throttling itself is django-axes (settings: AXES_*); it asks this module
for the client's address and for the page a locked-out client sees.
"""

import ipaddress
import math
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.template import engines
from django.urls import reverse_lazy
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from board import rows


class ModelBackend(DjangoModelBackend):
    """Django's ModelBackend, whose get_user (every signed-in request runs it)
    is one hand-written SELECT: the ORM took longer to compile it than the
    database to run it. The same user, fields and is_active check."""

    def get_user(self, user_id):
        # The session holds str(pk): ASCII digits only (int() would also read "١٢" as 12).
        text = str(user_id)
        if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**63):
            return None
        pk = int(text)
        model = get_user_model()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {rows.select_list(model, 'u')} FROM {model._meta.db_table} u WHERE u.id = %s", [pk]
            )
            row = cursor.fetchone()
        user = rows.instance(model, list(row)) if row else None
        return user if user is not None and self.user_can_authenticate(user) else None


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or with NUM_PROXIES = n > 0 the
    address the n-th proxy from the right put into X-Forwarded-For (the ones
    further left are the client's own claims and could be forged). Never
    anything but an IP address or None: axes stores it in an inet column."""
    proxies = settings.NUM_PROXIES
    if proxies > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded and (address := _valid_ip(forwarded[-min(proxies, len(forwarded))])):
            return address
    return _valid_ip(request.META.get("REMOTE_ADDR") or "")


def axes_username(request, credentials=None) -> str | None:
    """The username django-axes records and locks: as sent, without NUL
    characters (PostgreSQL refuses them) and cut to its 255-character column,
    so a hostile sign-in is a 422, never a 500."""
    field = str(settings.AXES_USERNAME_FORM_FIELD)
    username = (credentials or {}).get(field) if credentials else getattr(request, "data", request.POST).get(field)
    if username is None:
        return None
    return str(username).replace("\x00", "")[:255]


# --- the page for a locked-out sign-in (the form and the admin) -------------

LOCKOUT_PAGE = """{% extends "base.html" %}
{% block title %}Too many sign-in attempts · mlkanban{% endblock %}
{% block body_class %}auth{% endblock %}
{% block content %}
<section class="auth-card" role="alert">
  <h1>Too many sign-in attempts</h1>
  <p>Signing in{% if username %} as <strong>{{ username }}</strong>{% endif %} from your address is paused after
  {{ failure_limit }} failed attempts. Try again in {{ minutes }} minutes, or ask an administrator to unlock it.</p>
  <p><a href="{% url 'login' %}">Back to sign in</a></p>
</section>
{% endblock %}
"""


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' AXES_LOCKOUT_CALLABLE: 429 with a page that says what happened and for how long."""
    cool_off = settings.AXES_COOLOFF_TIME.total_seconds()
    context = {
        "username": (credentials or {}).get("username") or request.POST.get("username", ""),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": math.ceil(cool_off / 60),
    }
    try:
        body = engines["django"].from_string(LOCKOUT_PAGE).render(context, request)
    except Exception:  # never a 500 for a lockout, even if the layout is broken
        body = f"Too many sign-in attempts. Try again in {context['minutes']} minutes."
    response = HttpResponse(body, status=settings.AXES_HTTP_RESPONSE_CODE)
    response["Retry-After"] = str(int(cool_off))
    return response


# --- API tokens -------------------------------------------------------------

class ThrottledTokenAuthentication(TokenAuthentication):
    """DRF's TokenAuthentication that counts wrong tokens per client address.

    After API_TOKEN_FAILURE_LIMIT wrong tokens from one address within a
    window of API_TOKEN_FAILURE_WINDOW seconds, every token request from that
    address is answered 429 (with Retry-After) until the window ends, good
    tokens included, so guessing cannot go on. Other addresses are unaffected.
    The counter lives in the cache, which every process shares.
    """

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # no token offered: nothing to count
        window = settings.API_TOKEN_FAILURE_WINDOW
        now = time.time()
        key = f"api-token-failures:{client_ip(request) or 'unknown'}:{int(now // window)}"
        wait = math.ceil(window - now % window)
        if (cache.get(key) or 0) >= settings.API_TOKEN_FAILURE_LIMIT:
            raise self._throttled(wait)
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            cache.add(key, 0, timeout=wait + 1)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr: a new window
                cache.set(key, 1, timeout=wait + 1)
            cache.touch(key, timeout=wait + 1)  # non-Redis caches reset the expiry on incr
            raise

    @staticmethod
    def _throttled(wait: int) -> Throttled:
        return Throttled(wait=wait, detail="Too many wrong API tokens from your address.")


# --- password change ---------------------------------------------------------

class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change. The new password changes the session auth
    hash, so every other session of the user ends; this one is kept."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("board:index")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Password changed. Your other sessions are signed out.")
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 422  # like every other invalid form here
        return response
