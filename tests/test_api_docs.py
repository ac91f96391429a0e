"""The API can be found from its root: /api/ lists the endpoints, /api/docs/
(Swagger UI) and /api/redoc/ (ReDoc) document them from this site's own
copies, and the schema is readable in a browser. Signed-out people get what
the rest of the API gives them (401), or the login page for the documentation."""

import pytest
from rest_framework.authtoken.models import Token

from tests.test_csp import directives, parse

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_the_api_root_lists_the_endpoints_of_boards_and_experiments_with_the_docs(signed_in):
    response = signed_in.get("/api/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    data = response.json()
    assert data["documentation"] == "http://testserver/api/docs/"
    assert data["redoc"] == "http://testserver/api/redoc/"
    assert data["schema"] == "http://testserver/api/schema/"
    endpoints = data["endpoints"]
    assert endpoints["boards"] == "http://testserver/api/boards/"
    # Paths with ids are templates, written as the schema writes them.
    assert endpoints["ticket-move"] == "http://testserver/api/boards/{board_id}/tickets/{ticket_id}/move/"
    assert endpoints["runs"] == "http://testserver/api/boards/{board_id}/runs/"
    assert endpoints["trainers"] == "http://testserver/api/trainers/"


def test_the_api_root_answers_a_token_client_too(client, alice):
    token = Token.objects.create(user=alice)
    response = client.get("/api/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert "boards" in response.json()["endpoints"]


def test_a_browser_gets_the_api_root_as_a_page_with_links(signed_in):
    response = signed_in.get("/api/", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert 'href="http://testserver/api/docs/"' in response.content.decode()


@pytest.mark.parametrize("path", ["/api/", "/api/schema/"])
def test_signed_out_the_root_and_the_schema_answer_401_like_the_rest_of_the_api(client, db, path):
    response = client.get(path, HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_signed_out_the_documentation_pages_send_people_to_the_login_page(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_a_browser_reads_the_schema_as_text_instead_of_downloading_it(signed_in):
    response = signed_in.get("/api/schema/", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert not response.get("Content-Disposition", "").startswith("attachment")
    assert response.content.decode().startswith("openapi: 3")


def test_tools_still_get_the_schema_in_its_openapi_types(signed_in):
    assert signed_in.get("/api/schema/")["Content-Type"].startswith("application/vnd.oai.openapi")
    as_json = signed_in.get("/api/schema/?format=json", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert as_json["Content-Type"].startswith("application/json")
    assert as_json.json()["info"]["title"] == "mlkanban API"


def test_swagger_ui_is_served_from_this_site_with_its_start_up_script_as_a_file(signed_in):
    response = signed_in.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert 'src="/api/docs/?script="' in page
    assert "https://" not in page  # offline: no CDN
    # Nothing the site's CSP would block: no inline script, no <style> element.
    assert parse(page).problems == []
    policy = directives(response["Content-Security-Policy"])
    assert "'unsafe-inline'" not in policy["script-src"] and policy["style-src"] == ["'self'"]

    script = signed_in.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert 'url: "/api/schema/"' in script.content.decode()


def test_redoc_is_served_from_this_site_without_web_fonts(signed_in):
    response = signed_in.get("/api/redoc/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in page
    assert 'data-spec-url="/api/schema/"' in page
    assert "/static/js/redoc_init.js" in page  # starts ReDoc: no inline script
    assert "https://" not in page
    assert parse(page).problems == []
    # ReDoc's own <style> elements get in with this request's nonce, on this page only; its search runs in a blob: worker.
    policy = directives(response["Content-Security-Policy"])
    assert any(source.startswith("'nonce-") for source in policy["style-src"])
    assert "'unsafe-inline'" not in policy["style-src"] and "'unsafe-inline'" not in policy["script-src"]
    assert policy["worker-src"] == ["'self'", "blob:"]
    board_page_policy = directives(signed_in.get("/")["Content-Security-Policy"])
    assert board_page_policy["style-src"] == ["'self'"]


def test_the_documentation_pages_are_not_operations_of_the_schema(signed_in):
    paths = signed_in.get("/api/schema/?format=json").json()["paths"]
    assert not {"/api/", "/api/docs/", "/api/redoc/"} & set(paths)
