"""Schemathesis against the API's OpenAPI schema, in process.

The schema is loaded from the WSGI application itself (GET /api/schema/ with a
board owner's DRF token), and for every operation in it Schemathesis generates
requests from the schema (a few dozen each; mostly on the owner's real board
and ticket, sometimes on random ids) and checks each answer: no 5xx, a
documented status code, the documented content type, and a body that
validates against the documented schema.
"""

import sys
import traceback

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from board import services
from board.models import Ticket
from mlkanban.wsgi import application
from tests.factories import make_ticket

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Every operation of the schema, by id; read without HTTP so that the test ids are known at collection.
OPERATIONS = sorted(op["operationId"] for ops in SchemaGenerator().get_schema(public=True)["paths"].values()
                    for op in ops.values())
# The schema endpoint renders the whole schema on each call: a few examples are enough there.
EXAMPLES = {"schema_retrieve": 3}
DEFAULT_EXAMPLES = min(settings().max_examples, 40)


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, answering inside this test's transaction.

    A real server closes stale database connections at the start and end of
    each request; here that would close the connection holding the test's
    transaction, so (as Django's test client does for each request) that
    handler is off while the test runs."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def server_errors():
    """Tracebacks of exceptions the application turned into a 500, for the report."""
    caught = []

    def keep(sender, request=None, **kwargs):
        caught.append(f"{request.method} {request.get_full_path()}\n{''.join(traceback.format_exception(*sys.exc_info()))}")

    signals.got_request_exception.connect(keep)
    yield caught
    signals.got_request_exception.disconnect(keep)


@pytest.fixture
def owners_board(db, board, columns, alice, bob):
    services.label_create(board=board, name="vision", color="#1f7a8c")
    services.epic_create(board=board, name="Retrieval", color="#445566")
    tickets = [make_ticket(board, alice, title=f"Card {i}", column=columns[i % 3]) for i in range(4)]
    token = Token.objects.create(user=alice)
    return {"board": board, "ticket": tickets[0], "columns": [c.pk for c in columns],
            "headers": {"Authorization": f"Token {token.key}"}}


def _make_current(case, world, column_index: int) -> None:
    """Turn a generated edit or move of the real ticket into one that can succeed:
    the version it holds now, and a column of its board."""
    if case.path_parameters.get("ticket_id") != world["ticket"].pk or not isinstance(case.body, dict):
        return
    case.body["version"] = Ticket.objects.get(pk=world["ticket"].pk).version
    if case.operation.label.endswith("/move/"):
        case.body["column"] = world["columns"][column_index % len(world["columns"])]


@pytest.mark.django_db
@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_every_answer_of_the_api_matches_its_schema(wsgi_app, server_errors, owners_board, operation_id):
    headers = owners_board["headers"]
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, headers=headers)
    operation = schema.find_operation_by_id(operation_id)
    real_ids = {name: value for name, value in (("board_id", owners_board["board"].pk),
                                                ("ticket_id", owners_board["ticket"].pk))
                if any(p.name == name for p in operation.path_parameters)}
    # Mostly the real board and ticket (three to one), so that answers other than 404 are checked too.
    on_real_ids = operation.as_strategy(path_parameters=real_ids)
    anywhere = operation.as_strategy()
    cases = st.integers(0, 3).flatmap(lambda i: on_real_ids if i < 3 else anywhere) if real_ids else anywhere

    @settings(max_examples=EXAMPLES.get(operation_id, DEFAULT_EXAMPLES), deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.filter_too_much])
    @given(case=cases, current=st.booleans(), column_index=st.integers(0, 10))
    def answer_matches_schema(case, current, column_index):
        if current and operation_id in ("tickets_partial_update", "tickets_move"):
            _make_current(case, owners_board, column_index)
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except Exception:
            if server_errors:
                pytest.fail("The application raised:\n" + "\n".join(server_errors[-3:]))
            raise

    answer_matches_schema()
