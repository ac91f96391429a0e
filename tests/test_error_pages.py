"""Error pages (mlkanban/errors.py) with DEBUG off, as in production: 403, 404
and 500 come in the app's layout, say why in words and lead back to the
user's boards; htmx gets the reason as text for its toast; the API keeps
answering JSON."""

import pytest
from django.urls import path

from mlkanban.urls import handler403, handler404, handler500  # noqa: F401 (this test's urlconf uses them)
from mlkanban.urls import urlpatterns as site_urlpatterns

BOARDS_LINK = '<a class="btn primary" href="/">Back to your boards</a>'
BRAND_LINK = '<a class="brand" href="/">'


def _boom(request):
    raise RuntimeError("a bug")


# This module is the urlconf of its tests: the site, and two views that fail.
urlpatterns = [path("boom/", _boom), path("api/boom/", _boom), *site_urlpatterns]


@pytest.fixture(autouse=True)
def production_like(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def crashing_client(client):
    client.raise_request_exception = False  # answer the 500 as a server would
    return client


def test_a_viewer_opening_the_settings_gets_a_403_page_saying_only_owners_can(client, vera, board):
    client.force_login(vera)
    response = client.get(f"/b/{board.pk}/settings/")

    assert response.status_code == 403
    page = response.content.decode()
    assert BRAND_LINK in page
    assert "Only the board&#x27;s owners can do that." in page
    assert BOARDS_LINK in page
    assert "Sign out" in page  # the layout knows who is signed in


def test_a_403_without_a_message_still_says_what_happened(rf, alice):
    from django.core.exceptions import PermissionDenied

    from mlkanban.errors import permission_denied

    request = rf.get("/somewhere/")
    request.user = alice
    response = permission_denied(request, PermissionDenied())

    assert response.status_code == 403
    assert "You do not have permission to open this page." in response.content.decode()


def test_a_board_you_are_not_on_gets_a_404_page_naming_what_is_missing(client, charlie, board):
    client.force_login(charlie)
    response = client.get(f"/b/{board.pk}/")

    assert response.status_code == 404
    page = response.content.decode()
    assert BRAND_LINK in page
    assert "No such board." in page
    assert BOARDS_LINK in page


def test_an_address_no_page_answers_gets_a_404_page_in_plain_words(client, alice):
    client.force_login(alice)
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    page = response.content.decode()
    assert "There is no page at this address." in page
    assert "Resolver404" not in page and "matches the given query" not in page
    assert BOARDS_LINK in page


def test_a_failing_view_gets_the_500_page_in_the_layout(crashing_client, alice):
    crashing_client.force_login(alice)
    response = crashing_client.get("/boom/")

    assert response.status_code == 500
    page = response.content.decode()
    assert BRAND_LINK in page
    assert "Something went wrong on our side." in page
    assert BOARDS_LINK in page
    assert "<script" not in page  # rendered without a request: no nonce to give a script


def test_the_500_page_renders_with_no_request_and_no_database():
    from django.template import loader

    html = loader.get_template("500.html").render()  # as Django's own server_error: no context at all

    assert BRAND_LINK in html and BOARDS_LINK in html


def test_htmx_gets_the_reason_as_text_for_its_toast(client, vera, board):
    client.force_login(vera)
    response = client.get(f"/b/{board.pk}/settings/", HTTP_HX_REQUEST="true")

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "Only the board's owners can do that."


def test_the_api_keeps_its_json_errors(client, alice, charlie, board):
    client.force_login(charlie)
    missing_board = client.get(f"/api/boards/{board.pk}/")
    assert missing_board.status_code == 404
    assert missing_board.json() == {"detail": "No such board."}

    unknown_address = client.get("/api/no-such-endpoint/")
    assert unknown_address.status_code == 404
    assert unknown_address["Content-Type"] == "application/json"
    assert "There is no page at this address." in unknown_address.json()["detail"]


def test_an_api_server_error_answers_json(crashing_client, alice):
    crashing_client.force_login(alice)
    response = crashing_client.get("/api/boom/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Something went wrong on our side.")
