"""Guessing is throttled: passwords on the sign-in form and the admin login
(django-axes, per username and address), API tokens per address (the cache).

Axes keeps its attempts in the database (rolled back after each test); the
token counter lives in the cache, which a fixture empties around each test."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-2026"
ATTACKER, SOMEONE_ELSE = "203.0.113.7", "198.51.100.20"


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sam(db):
    return get_user_model().objects.create_user("sam", "sam@example.org", PASSWORD)


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)


def sign_in(client, path, username, password, address=ATTACKER):
    return client.post(path, {"username": username, "password": password, "next": "/"}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def guess_60_times(client, path, username):
    return [sign_in(client, path, username, f"wrong-{i}").status_code for i in range(60)]


# --- the sign-in form ----------------------------------------------------------

def test_60_wrong_passwords_lock_the_form_and_then_the_right_one_is_refused(client, sam):
    limit = settings.AXES_FAILURE_LIMIT

    statuses = guess_60_times(client, "/accounts/login/", "sam")
    right = sign_in(client, "/accounts/login/", "sam", PASSWORD)

    assert statuses == [422] * (limit - 1) + [429] * (60 - limit + 1)
    assert right.status_code == 429
    assert not signed_in(client)
    page = right.content.decode()
    assert "Too many sign-in attempts" in page and "15 minutes" in page and "sam" in page
    assert right["Retry-After"] == str(15 * 60)


def test_the_lock_is_per_username_and_address(client, sam):
    guess_60_times(client, "/accounts/login/", "sam")

    assert sign_in(client, "/accounts/login/", "sam", PASSWORD, address=SOMEONE_ELSE).status_code == 302
    assert signed_in(client)


def test_the_lock_ends_after_the_cool_off(client, sam):
    guess_60_times(client, "/accounts/login/", "sam")
    assert sign_in(client, "/accounts/login/", "sam", PASSWORD).status_code == 429

    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)):
        assert sign_in(client, "/accounts/login/", "sam", PASSWORD).status_code == 302
    assert signed_in(client)


def test_a_few_wrong_passwords_then_the_right_one_signs_in(client, sam):
    for i in range(settings.AXES_FAILURE_LIMIT - 2):
        assert sign_in(client, "/accounts/login/", "sam", f"wrong-{i}").status_code == 422
    assert sign_in(client, "/accounts/login/", "sam", PASSWORD).status_code == 302


# --- the admin login -----------------------------------------------------------------

def test_60_wrong_passwords_lock_the_admin_login_and_then_the_right_one_is_refused(client, root):
    statuses = guess_60_times(client, "/admin/login/", "root")
    right = sign_in(client, "/admin/login/", "root", PASSWORD)

    assert statuses[0] == 200  # the admin re-renders its form
    assert statuses[-1] == 429 and set(statuses) == {200, 429}
    assert right.status_code == 429
    assert "Too many sign-in attempts" in right.content.decode()
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302  # still the login page


def test_the_admin_login_works_with_the_right_password(client, root):
    assert sign_in(client, "/admin/login/", "root", PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200


# --- API tokens --------------------------------------------------------------------

def api(address, token):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_60_wrong_tokens_get_429_and_a_good_token_from_another_address_still_works(sam):
    limit = settings.API_TOKEN_FAILURE_LIMIT
    good = Token.objects.create(user=sam).key

    statuses = [api(ATTACKER, f"{i:040x}").get("/api/boards/").status_code for i in range(60)]
    refused = api(ATTACKER, "f" * 40).get("/api/boards/")

    assert statuses == [401] * limit + [429] * (60 - limit)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= settings.API_TOKEN_FAILURE_WINDOW
    assert api(SOMEONE_ELSE, good).get("/api/boards/").status_code == 200
    # the guessing address is refused even with a good token until its window ends
    assert api(ATTACKER, good).get("/api/boards/").status_code == 429


def test_the_token_lock_ends_with_its_window(sam):
    good = Token.objects.create(user=sam).key
    for i in range(settings.API_TOKEN_FAILURE_LIMIT):
        api(ATTACKER, f"{i:040x}").get("/api/boards/")
    assert api(ATTACKER, good).get("/api/boards/").status_code == 429

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.API_TOKEN_FAILURE_WINDOW + 1)):
        assert api(ATTACKER, good).get("/api/boards/").status_code == 200


def test_malformed_token_headers_count_too(sam):
    for _ in range(settings.API_TOKEN_FAILURE_LIMIT):
        assert api(ATTACKER, "two words").get("/api/boards/").status_code == 401
    assert api(ATTACKER, "two words").get("/api/boards/").status_code == 429


def test_requests_without_a_token_are_not_counted(client, sam):
    for _ in range(settings.API_TOKEN_FAILURE_LIMIT + 5):
        assert APIClient(REMOTE_ADDR=ATTACKER).get("/api/boards/").status_code == 401
    good = Token.objects.create(user=sam).key
    assert api(ATTACKER, good).get("/api/boards/").status_code == 200


@pytest.mark.parametrize(("proxies", "forwarded", "remote", "expected"), [
    (0, "6.6.6.6", "10.0.0.1", "10.0.0.1"),                  # no proxy: X-Forwarded-For is the client's claim
    (1, "6.6.6.6, 198.51.100.20", "10.0.0.1", "198.51.100.20"),  # one proxy: the address it saw
    (2, "6.6.6.6, 198.51.100.20, 10.0.0.2", "10.0.0.1", "198.51.100.20"),
    (1, "", "10.0.0.1", "10.0.0.1"),
    (1, "not-an-address", "10.0.0.1", "10.0.0.1"),           # garbage never reaches axes' inet column
    (0, "", "", None),                                       # e.g. gunicorn on a unix socket
])
def test_the_client_address_trusts_only_the_configured_proxies(rf, settings, proxies, forwarded, remote, expected):
    from mlkanban.auth import client_ip

    settings.NUM_PROXIES = proxies
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
@pytest.mark.parametrize("username", ["x" * 5000, "sam\x00", "\x00" * 300])
def test_hostile_usernames_are_refused_without_a_server_error(client, sam, settings, path, username):
    """axes records the username (a 255-character column; PostgreSQL refuses NUL)."""
    settings.NUM_PROXIES = 1
    response = client.post(path, {"username": username, "password": "x"}, REMOTE_ADDR=ATTACKER,
                           HTTP_X_FORWARDED_FOR="'; DROP TABLE axes_accessattempt; --")
    assert response.status_code in (200, 422)
