"""A board left open after its session ended (mlkanban/middleware.py): htmx
requests get HX-Redirect to the login page with next= the page the user is on,
the board poll gets 401 with the login URL as JSON, and a plain page request
keeps its 302."""

from importlib import import_module

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import make_ticket

BOARD_PAGE = "http://testserver/b/{pk}/?q=loss"


@pytest.fixture
def ticket(board, alice):
    return make_ticket(board, alice, title="Plot the loss curve")


def end_session(client) -> None:
    """The session ends on the server (expiry, a sign-out elsewhere); the
    browser still sends its old cookies."""
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    import_module(settings.SESSION_ENGINE).SessionStore(session_key=key).delete()


@pytest.fixture
def stale(client, alice):
    client.force_login(alice)
    end_session(client)
    return client


def test_an_htmx_request_after_the_session_ended_gets_hx_redirect_with_next(stale, board, ticket):
    response = stale.get(
        f"/b/{board.pk}/t/{ticket.number}/",
        HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=BOARD_PAGE.format(pk=board.pk),
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/accounts/login/?next=/b/{board.pk}/%3Fq%3Dloss"
    assert b"password" not in response.content  # no login form to swap into the card


def test_an_htmx_post_after_the_session_ended_gets_hx_redirect_too(alice, board, ticket):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(f"/b/{board.pk}/")  # sets the CSRF cookie, as the board page does
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    end_session(client)
    response = client.post(
        f"/b/{board.pk}/tickets/new/", {"title": "Lost?", "kind": "bug"},
        HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token, HTTP_HX_CURRENT_URL=f"http://testserver/b/{board.pk}/",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/accounts/login/?next=/b/{board.pk}/"


def test_an_htmx_post_from_a_browser_whose_cookies_are_gone_gets_hx_redirect_not_a_csrf_403(board):
    client = Client(enforce_csrf_checks=True)  # no session, no CSRF cookie
    response = client.post(
        f"/b/{board.pk}/tickets/new/", {"title": "Lost?", "kind": "bug"},
        HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver/b/{board.pk}/",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/accounts/login/?next=/b/{board.pk}/"


@pytest.mark.parametrize("current_url", [
    "https://evil.example/b/1/",       # another origin
    "http://testserver.evil.example/",  # a look-alike host
    "javascript:alert(1)",
    "",
], ids=["other-origin", "look-alike", "javascript", "missing"])
def test_next_is_left_out_unless_the_current_page_is_on_this_site(stale, board, ticket, current_url):
    headers = {"HTTP_HX_REQUEST": "true"}
    if current_url:
        headers["HTTP_HX_CURRENT_URL"] = current_url
    response = stale.get(f"/b/{board.pk}/t/{ticket.number}/", **headers)
    assert response["HX-Redirect"] == "/accounts/login/"


def test_the_board_poll_after_the_session_ended_gets_401_json_with_the_login_url(stale, board):
    response = stale.get(
        f"/b/{board.pk}/poll/?v=0&layout=0",
        HTTP_ACCEPT="application/json", HTTP_REFERER=BOARD_PAGE.format(pk=board.pk),
    )
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"login_url": f"/accounts/login/?next=/b/{board.pk}/%3Fq%3Dloss"}


def test_the_poll_takes_next_only_from_a_same_origin_referer(stale, board):
    response = stale.get(f"/b/{board.pk}/poll/?v=0", HTTP_ACCEPT="application/json", HTTP_REFERER="https://evil.example/")
    assert response.status_code == 401
    assert response.json() == {"login_url": "/accounts/login/"}


def test_a_page_request_after_the_session_ended_still_gets_a_302(stale, board):
    response = stale.get(f"/b/{board.pk}/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/b/{board.pk}/"
    assert not response.has_header("HX-Redirect")


def test_signed_in_requests_are_left_alone(client, alice, vera, board, ticket):
    client.force_login(alice)
    modal = client.get(f"/b/{board.pk}/t/{ticket.number}/", HTTP_HX_REQUEST="true")
    assert modal.status_code == 200 and not modal.has_header("HX-Redirect")
    assert client.get(f"/b/{board.pk}/poll/?v=0", HTTP_ACCEPT="application/json").status_code == 200
    # A viewer's refused move stays a 403: only signed-out users are sent to sign in.
    client.force_login(vera)
    refused = client.post(f"/b/{board.pk}/move/", {"ticket": ticket.pk, "version": 1}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 403 and not refused.has_header("HX-Redirect")


def test_the_api_keeps_its_own_answers(client, board):
    response = client.get("/api/boards/", HTTP_ACCEPT="application/json")
    assert response.status_code in (401, 403)
    assert "login_url" not in response.json()
