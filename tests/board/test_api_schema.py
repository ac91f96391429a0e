"""The OpenAPI schema describes the API as it behaves: request bodies, status
codes, error bodies, nullable fields. (tests/board/test_schemathesis.py then
checks real answers against it.)"""

import jsonschema
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from board import services
from tests.factories import make_ticket

API_OPERATIONS = {
    ("/api/boards/", "get"): "boards_list",
    ("/api/boards/{board_id}/", "get"): "boards_retrieve",
    ("/api/boards/{board_id}/tickets/", "get"): "tickets_list",
    ("/api/boards/{board_id}/tickets/", "post"): "tickets_create",
    ("/api/boards/{board_id}/tickets/{ticket_id}/", "get"): "tickets_retrieve",
    ("/api/boards/{board_id}/tickets/{ticket_id}/", "patch"): "tickets_partial_update",
    ("/api/boards/{board_id}/tickets/{ticket_id}/move/", "post"): "tickets_move",
    ("/api/boards/{board_id}/sprints/{sprint_id}/burndown/", "get"): "charts_burndown",
    ("/api/boards/{board_id}/sprints/{sprint_id}/forecast/", "get"): "charts_forecast",
    ("/api/boards/{board_id}/velocity/", "get"): "charts_velocity",
    ("/api/boards/{board_id}/cfd/", "get"): "charts_cfd",
    ("/api/boards/{board_id}/accuracy/", "get"): "charts_accuracy",
    ("/api/boards/{board_id}/tickets/{ticket_id}/hypotheses/", "get"): "hypotheses_list",
    ("/api/boards/{board_id}/tickets/{ticket_id}/hypotheses/", "post"): "hypotheses_create",
    ("/api/boards/{board_id}/hypotheses/{hypothesis_id}/", "get"): "hypotheses_retrieve",
    ("/api/boards/{board_id}/hypotheses/{hypothesis_id}/", "patch"): "hypotheses_partial_update",
    ("/api/boards/{board_id}/hypotheses/{hypothesis_id}/", "delete"): "hypotheses_destroy",
    ("/api/boards/{board_id}/runs/", "get"): "runs_list",
    ("/api/boards/{board_id}/runs/", "post"): "runs_create",
    ("/api/boards/{board_id}/runs/{run_id}/", "get"): "runs_retrieve",
    ("/api/boards/{board_id}/runs/{run_id}/cancel/", "post"): "runs_cancel",
    ("/api/boards/{board_id}/runs/{run_id}/retry/", "post"): "runs_retry",
    ("/api/boards/{board_id}/runs/{run_id}/metrics/", "get"): "runs_metrics",
    ("/api/boards/{board_id}/runs/{run_id}/artifacts/", "get"): "runs_artifacts",
    ("/api/boards/{board_id}/sweeps/", "get"): "sweeps_list",
    ("/api/boards/{board_id}/sweeps/", "post"): "sweeps_create",
    ("/api/boards/{board_id}/sweeps/{sweep_id}/", "get"): "sweeps_retrieve",
}
WRITE_ERRORS = {"400", "401", "403", "404", "409", "422", "429"}
READ_ERRORS = {"401", "429"}
# Operations whose errors differ from those defaults: no version to conflict with
# (409), no body (400), a query that cannot be read (400), a state that refuses (409).
OWN_ERRORS = {
    "hypotheses_create": WRITE_ERRORS - {"409"},
    "hypotheses_partial_update": WRITE_ERRORS - {"409"},
    "hypotheses_destroy": {"401", "403", "404", "429"},
    "runs_list": {"400", "401", "404", "429"},
    "runs_create": {"400", "401", "403", "404", "429"},
    "runs_cancel": {"401", "403", "404", "409", "429"},
    "runs_retry": {"401", "403", "404", "409", "422", "429"},
    "runs_metrics": {"400", "401", "404", "429"},
    "sweeps_list": {"400", "401", "404", "429"},
    "sweeps_create": {"400", "401", "403", "404", "429"},
}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operation(schema, path, method):
    return schema["paths"][path][method]


def _component(schema, ref_holder):
    ref = ref_holder["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def _body_schema(operation, status=None):
    holder = operation["responses"][status] if status else operation["requestBody"]
    return holder["content"]["application/json"]["schema"]


def test_the_schema_validates_with_no_warning_or_error(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))

    assert "tickets_move" in (tmp_path / "schema.yml").read_text()


def test_every_api_operation_has_an_id_a_tag_and_a_summary(schema):
    operations = {(path, method): op for path, ops in schema["paths"].items() if path.startswith("/api/boards")
                  for method, op in ops.items()}

    assert {key: op["operationId"] for key, op in operations.items()} == API_OPERATIONS
    for op in operations.values():
        assert op["tags"] in (["boards"], ["tickets"], ["charts"], ["hypotheses"], ["runs"], ["sweeps"]) \
            and op["summary"], op["operationId"]


@pytest.mark.parametrize("path, method", list(API_OPERATIONS))
def test_every_api_operation_documents_its_error_answers_as_json(schema, path, method):
    op = _operation(schema, path, method)
    errors = {code for code in op["responses"] if code[0] in "45"}

    expected = (WRITE_ERRORS if method != "get" else READ_ERRORS | ({"404"} if "{board_id}" in path else set()))
    if op["tags"] == ["charts"]:  # query values that cannot be read, or a refused range
        expected = expected | {"400"}
    expected = OWN_ERRORS.get(op["operationId"], expected)
    assert errors == expected
    for code in errors:
        assert _body_schema(op, code)["$ref"].rsplit("/", 1)[1] in ("Error", "ValidationError", "Refusal")


def test_creating_documents_201_with_the_ticket_and_the_write_body(schema):
    op = _operation(schema, "/api/boards/{board_id}/tickets/", "post")

    assert set(op["responses"]) & {"200", "201"} == {"201"}
    assert _body_schema(op, "201")["$ref"].endswith("/Ticket")
    body = _component(schema, _body_schema(op))
    assert body["required"] == ["title"]
    assert {"title", "labels", "assignee", "column", "version"} <= set(body["properties"])
    assert op["requestBody"]["required"] is True


def test_editing_documents_a_body_that_needs_the_version_and_nothing_else(schema):
    op = _operation(schema, "/api/boards/{board_id}/tickets/{ticket_id}/", "patch")
    body = _component(schema, _body_schema(op))

    assert body["required"] == ["version"]
    assert "title" in body["properties"] and "column" not in body["properties"]  # moves have their own endpoint
    assert op["requestBody"]["required"] is True
    assert _body_schema(op, "200")["$ref"].endswith("/Ticket")


def test_moving_documents_its_body_and_the_warning_in_its_answer(schema):
    op = _operation(schema, "/api/boards/{board_id}/tickets/{ticket_id}/move/", "post")

    assert _component(schema, _body_schema(op))["required"] == ["column", "version"]
    answer = _component(schema, _body_schema(op, "200"))
    assert answer["properties"]["warning"] == {
        "type": "string", "readOnly": True, "nullable": True,
        "description": "Set when the move took a column over its WIP limit (soft limits).",
    }
    assert "warning" in answer["required"]


def test_the_assignee_of_a_ticket_is_documented_as_nullable(schema):
    for name in ("Ticket", "MoveResult"):
        assignee = schema["components"]["schemas"][name]["properties"]["assignee"]
        assert (assignee["type"], assignee["nullable"]) == ("string", True)


def test_lists_document_their_filters_and_the_bounds_of_limit(schema):
    op = _operation(schema, "/api/boards/{board_id}/tickets/", "get")
    params = {p["name"]: p for p in op["parameters"]}

    assert {"q", "assignee", "label", "kind", "epic", "blocked", "limit", "offset", "board_id"} == set(params)
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 1000)
    assert params["board_id"]["schema"]["minimum"] == 1


# --- the documented error bodies are the ones the views send ------------------------

@pytest.fixture
def ctx(db, board, columns, alice, bob, vera):
    ticket = make_ticket(board, alice, title="Schema")
    return {"board": board, "columns": columns, "ticket": ticket, "bob": bob, "vera": vera}


def _api(user):
    client = Client()
    token = Token.objects.create(user=user)
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    return client


def _errors_schema(schema, name):
    return schema["components"]["schemas"][name]


@pytest.mark.django_db
def test_each_error_answer_matches_its_documented_body(schema, ctx, settings):
    board, ticket = ctx["board"], ctx["ticket"]
    b, t = board.pk, ticket.pk
    member, viewer = _api(ctx["bob"]), _api(ctx["vera"])
    services.label_create(board=board, name="vision", color="#1f7a8c")
    as_json = {"content_type": "application/json"}

    answers = {
        "400 fields": member.post(f"/api/boards/{b}/tickets/", {"title": "", "labels": [1, [2]]}, **as_json),
        "400 body": member.post(f"/api/boards/{b}/tickets/", "[" * 5000, **as_json),
        "400 not an object": member.post(f"/api/boards/{b}/tickets/{t}/move/", "[1]", **as_json),
        "401": Client().get("/api/boards/"),
        "401 wrong token": Client().get("/api/boards/", HTTP_AUTHORIZATION="Token nope"),
        "403": viewer.post(f"/api/boards/{b}/tickets/", {"title": "x"}, **as_json),
        "404 board": member.get(f"/api/boards/{b + 1000}/"),
        "404 ticket": member.get(f"/api/boards/{b}/tickets/{t + 1000}/"),
        "409": member.patch(f"/api/boards/{b}/tickets/{t}/", {"version": ticket.version + 5, "title": "y"}, **as_json),
        "422 field": member.patch(f"/api/boards/{b}/tickets/{t}/", {"title": "no version"}, **as_json),
        "422 rule": member.post(f"/api/boards/{b}/tickets/{t}/move/", {"version": ticket.version, "column": 10**9},
                                **as_json),
    }
    settings.API_TOKEN_FAILURE_LIMIT = 1
    cache.clear()
    Client().get("/api/boards/", HTTP_AUTHORIZATION="Token wrong")
    answers["429"] = Client().get("/api/boards/", HTTP_AUTHORIZATION="Token wrong")
    cache.clear()

    components = {"400": "ValidationError", "422": "Refusal"}
    for name, response in answers.items():
        code = name.split()[0]
        assert str(response.status_code) == code, (name, response.content)
        assert response["Content-Type"] == "application/json", name
        jsonschema.validate(response.json(), _errors_schema(schema, components.get(code, "Error")))


def test_a_field_error_body_would_fail_the_error_schema_if_it_were_a_list(schema):
    """The error schemas are not vacuous: a body of the wrong shape fails them."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"title": "not a list"}, _errors_schema(schema, "ValidationError"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"detail": ["a list"]}, _errors_schema(schema, "Error"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"detail": 3}, _errors_schema(schema, "Refusal"))
