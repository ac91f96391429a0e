"""Hostile input on every URL of the project: the answer is never a 5xx.

Every URL pattern (enumerated with get_resolver, so a new one cannot be
forgotten: see the guard at the end) gets every query parameter and form or
JSON field it reads, one at a time with the others valid, set to values that
broke it before or could: Unicode digits that isdigit() accepts and int()
refuses, NUL bytes (PostgreSQL refuses them in text), numbers beyond 64 bits,
very long strings, wrong JSON types and JSON nested thousands deep. Then
Hypothesis mixes them: each of a few examples sends one request to every URL.
Requests are made as the board's owner; each runs in a savepoint that is
rolled back, so every request meets the same board.

(The test client re-raises what a view lets escape; each test collects them
all and fails listing every URL, parameter and value that broke.)
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.urls import URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from board import forms as board_forms
from board import services, views
from board.models import Membership, Ticket
from board.serializers import (
    HypothesisCreateSerializer,
    HypothesisPatchSerializer,
    MoveSerializer,
    TicketWriteSerializer,
)
from experiments.serializers import RunCreateSerializer, SweepCreateSerializer
from tests.factories import UserFactory, make_ticket

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}

# --- the values ----------------------------------------------------------------

UNICODE_DIGITS = ["²", "10²", "①", "٣", "MLK-²", "MLK-①", "𝟠"]
NULS = ["\x00", "a\x00b"]
HUGE = [str(10**30), str(2**63), str(-(2**63) - 1), "-1", "0", "9" * 400]
ODD = ["1.5", "1e309", "NaN", " 7 ", "", " ", "x" * 5_000, "\u202e\ufeff😀", "[]", "null", "a\r\nb\u2028c"]
KNOWN_BAD = UNICODE_DIGITS + NULS + HUGE + ODD
# What each parameter gets in the fixed table (the whole list goes into the Hypothesis mixtures):
# one of each kind, and a list where one value is expected.
CORE = ["²", "10²", "①", "\x00", str(10**30), str(2**63), "-1", "x" * 5_000, "", "a\r\nb\u2028c", ["1", "2"]]
# Body fields get the sharpest one at a time, and the other CORE values in all fields at once.
SHARP = ["²", "\x00", str(10**30), ["1", "2"]]

# JSON bodies get wrong types too (a field value, or the body as a whole).
JSON_BAD = [*KNOWN_BAD, None, True, 0, -1, 10**30, 2**63, 1.5, 1e308, [], {}, ["x"], [None], [["x"]],
            {"a": "b"}, "\ud800"]
JSON_CORE = ["²", "\x00", str(10**30), "x" * 5_000, None, True, 10**30, -(2**63) - 1, 1.5, [], {}, [["x"]], "\ud800"]
DEEP = "__DEEP__"  # replaced by JSON nested thousands deep (json.dumps itself would recurse)
NESTED_BODIES = [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    "[" * 600 + "]" * 600,  # parses; refused as too deep
    "[]", "null", "1", '"x"', "{", "", "\x00", '{"title": "\\u0000"}',
]


def deep_json(body: dict) -> list[str]:
    """The body with a field nested 600 and 100,000 levels deep."""
    text = json.dumps({**body, "title": DEEP})
    return [text.replace(json.dumps(DEEP), "[" * depth + "]" * depth) for depth in (600, 100_000)]


# --- the board every request meets ---------------------------------------------------

@pytest.fixture
def world(board, columns, alice, bob, vera):
    erin = UserFactory(username="erin")
    erin_membership = Membership.objects.create(board=board, user=erin, role=Membership.Role.VIEWER)
    label = services.label_create(board=board, name="vision", color="#1f7a8c")
    epic = services.epic_create(board=board, name="Retrieval", color="#445566")
    sprint = services.sprint_create(board=board, name="Sprint 1", start=date(2026, 1, 5), end=date(2026, 1, 16))
    tickets = [make_ticket(board, alice, title=f"Card {i}", column=columns[i % 2]) for i in range(3)]
    runs = _training_runs(board, tickets[0], alice)
    board.refresh_from_db()
    return SimpleNamespace(board=board, columns=columns, tickets=tickets, label=label, epic=epic, sprint=sprint,
                           erin_membership=erin_membership, owner=alice, runs=runs)


def _training_runs(board, ticket, actor) -> SimpleNamespace:
    """For the run pages: a hypothesis, a finished run with a curve and an
    artifact, a queued run and a sweep (the run is ended here, no worker)."""
    import tempfile
    from pathlib import Path

    from board.services import results
    from experiments import runner
    from experiments import services as run_services
    from experiments.models import Artifact

    spec = run_services.JobSpec.clean(trainer=RUN_TRAINER, dataset="iris", params={})
    hypothesis = results.hypothesis_create(board=board, ticket_id=ticket.pk, actor=actor, statement="Accurate",
                                           metric="accuracy", target=0.9)
    done = run_services.job_claim(run_services.job_create(board=board, ticket_id=ticket.pk, actor=actor, spec=spec).pk,
                                  worker="fuzz-host")
    run_services.metrics_insert(done.pk, [("loss", 0, 1.0, done.started_at), ("loss", 1, 0.5, done.started_at)])
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "model.joblib"
        model.write_bytes(b"model")
        run_services.job_finish(done, runner.RunOutcome(state="succeeded", final_metrics={"accuracy": 0.95},
                                artifacts=[runner.ArtifactFile(name="model.joblib", path=model, kind="model", size=5)]))
    queued = run_services.job_create(board=board, ticket_id=ticket.pk, actor=actor, spec=spec)
    sweep = run_services.sweep_create(board=board, ticket_id=ticket.pk, actor=actor, spec=spec, mode="grid",
                                      space={"C": [1.0]}, metric="accuracy")
    return SimpleNamespace(done=done.pk, queued=queued.pk, artifact=Artifact.objects.get(job_id=done.pk).pk,
                           sweep=sweep.pk, hypothesis=hypothesis.pk)


def _ticket(w) -> Ticket:
    return Ticket.objects.get(pk=w.tickets[0].pk)


def _fields(form_name: str, fallback=()) -> tuple:
    """A form's fields, read from the form so that a new field is fuzzed too."""
    form = getattr(board_forms, form_name, None)
    return tuple(form.base_fields) if form is not None else tuple(fallback)


FILTERS = ("q", "assignee", "label", "kind", "epic", "blocked", "sprint")


@dataclass(frozen=True)
class Target:
    """One URL name and method, what it reads, and a valid request to start from."""

    name: str
    method: str = "GET"
    query: tuple = ()  # query parameters the view reads (a few a client might send, for views that read none)
    fields: tuple = ()  # body fields, likewise
    json: bool = False  # the body is JSON (the API)
    kwargs: Callable = lambda w: {}
    base_query: Callable = lambda w: {}
    base_body: Callable = lambda w: {}
    htmx: bool = False
    relogin: bool = False  # the request may sign the client out
    ok_5xx: frozenset = frozenset()  # a 5xx that is the answer, not a crash
    label: str = ""

    def __str__(self):
        return f"{self.method} {self.name}{self.label}"

    def url(self, w) -> str:
        return reverse(self.name, kwargs=self.kwargs(w))


def _board(w):
    return {"board_id": w.board.pk}


def _card(w):
    return {"board_id": w.board.pk, "number": w.tickets[0].number}


def _api_ticket(w):
    return {"board_id": w.board.pk, "ticket_id": w.tickets[0].pk}


RUN_TRAINER = "experiments.trainers.builtin:logistic_regression"
RUN_FIELDS = ("trainer", "dataset", "param_C", "param_max_iter", "timeout_s", "memory_mb", "queue", "hypothesis")
SWEEP_FIELDS = (*RUN_FIELDS[:2], "mode", "samples", "metric", "direction", "values_C", "min_C", "max_C",
                "values_max_iter", "min_max_iter", "max_max_iter", *RUN_FIELDS[4:])


def _run(w, run_id):
    return {"board_id": w.board.pk, "run_id": run_id}


def _hypothesis(w):
    return {"board_id": w.board.pk, "hypothesis_id": w.runs.hypothesis}


def _ticket_form(w):
    t = _ticket(w)
    return {"version": t.version, "title": t.title, "description": "", "kind": "story", "points": "",
            "assignee": "", "epic": "", "sprint": "", "timebox_days": 3, "blocked_reason": ""}


TARGETS = [
    Target("healthz", query=("verbose", "format"), ok_5xx=frozenset({503})),  # 503: a service is down
    Target("login", query=("next",)),
    Target("login", "POST", fields=("username", "password", "next"),
           base_body=lambda w: {"username": "alice", "password": "wrong"}, relogin=True),
    Target("logout", "POST", query=("next",), fields=("next",), relogin=True),
    Target("signup", query=("next",)),
    Target("signup", "POST", fields=_fields("SignupForm", ("username", "email", "password1", "password2")),
           base_body=lambda w: {"username": "newbie", "email": "n@example.org", "password1": "a-long-pass-1",
                                "password2": "a-long-pass-1"}, relogin=True),
    Target("password_change"),
    Target("password_change", "POST", fields=("old_password", "new_password1", "new_password2"), relogin=True),
    Target("api-schema", query=("format", "lang", "version")),
    Target("api-root", query=("format",)),
    Target("api-docs"),
    Target("api-redoc"),
    Target("board:index"),
    Target("board:invitation-accept", "POST", kwargs=lambda w: {"invitation_id": 1}),
    Target("board:invitation-decline", "POST", kwargs=lambda w: {"invitation_id": 1}),
    Target("board:index", "POST", fields=_fields("BoardCreateForm"),
           base_body=lambda w: {"name": "Fuzz", "template": "simple", "key": "FZ"}),
    Target("board:detail", query=(*FILTERS, "lanes"), kwargs=_board),
    Target("board:poll", query=("v", "layout", *FILTERS, "lanes"), kwargs=_board,
           base_query=lambda w: {"v": "0", "layout": str(w.board.layout_version)}),
    Target("board:column-more", query=("after", "lane", "lanes", *FILTERS), kwargs=lambda w: {
        "board_id": w.board.pk, "column_id": w.columns[0].pk}, htmx=True),
    Target("board:ticket-move", "POST", fields=_fields("MoveForm"), kwargs=_board, htmx=True,
           base_body=lambda w: {"ticket": w.tickets[0].pk, "version": _ticket(w).version,
                                "column": w.columns[1].pk, "position": "bottom"}),
    Target("board:ticket-create", "POST", fields=_fields("TicketQuickAddForm"), kwargs=_board, htmx=True,
           base_body=lambda w: {"title": "New", "kind": "bug", "column": w.columns[0].pk}),
    Target("board:ticket", kwargs=_card),
    Target("board:ticket", "POST", fields=_fields("TicketForm"), kwargs=_card, htmx=True, base_body=_ticket_form),
    Target("board:ticket-field", query=("edit",), kwargs=lambda w: {**_card(w), "part": "title"}),
    *(Target("board:ticket-field", "POST", fields=(*board_forms.TICKET_FIELD_GROUPS[part], "version"), htmx=True,
             kwargs=lambda w, p=part: {**_card(w), "part": p}, label=f"[{part}]")
      for part in board_forms.TICKET_FIELD_GROUPS),
    Target("board:comment-add", "POST", fields=_fields("CommentForm"), kwargs=_card, htmx=True,
           base_body=lambda w: {"body": "A comment"}),
    Target("board:ticket-archive", "POST", fields=("version",), kwargs=_card, htmx=True),
    Target("board:ticket-restore", "POST", fields=("version",), kwargs=_card, htmx=True),
    Target("board:ticket-delete", "POST", fields=_fields("TicketDeleteForm", ("confirm",)), kwargs=_card, htmx=True,
           base_body=lambda w: {"confirm": "nope"}),
    Target("board:settings", kwargs=_board),
    Target("board:standup", query=("since", "person"), kwargs=_board),
    Target("board:sprints", kwargs=_board),
    Target("board:sprints", "POST", fields=("name", "start", "end", "goal"), kwargs=_board, label=" create"),
    Target("board:sprint", kwargs=lambda w: {"board_id": w.board.pk, "sprint_id": w.sprint.pk}),
    Target("board:sprint", "POST", fields=("name", "start", "end", "goal"), label=" update",
           kwargs=lambda w: {"board_id": w.board.pk, "sprint_id": w.sprint.pk}),
    Target("board:sprint-start", "POST", kwargs=lambda w: {"board_id": w.board.pk, "sprint_id": w.sprint.pk}),
    Target("board:sprint-close", "POST", fields=("unfinished_to",),
           kwargs=lambda w: {"board_id": w.board.pk, "sprint_id": w.sprint.pk}),
    Target("board:sprint-plan", kwargs=lambda w: {"board_id": w.board.pk, "sprint_id": w.sprint.pk}),
    Target("board:sprint-plan", "POST", fields=("action", "tickets"), htmx=True,
           kwargs=lambda w: {"board_id": w.board.pk, "sprint_id": w.sprint.pk}),
    Target("board:reports", query=("start", "end", "sprint"), kwargs=_board),
    # board:settings-action and board:settings-item: one target per action, below.
    Target("api:boards", query=("limit", "offset", "format")),
    Target("api:board", query=("format",), kwargs=_board),
    Target("api:tickets", query=(*FILTERS, "limit", "offset", "format"), kwargs=_board),
    Target("api:tickets", "POST", fields=tuple(TicketWriteSerializer(board=None).fields), json=True, kwargs=_board,
           base_body=lambda w: {"title": "From the fuzz"}),
    Target("api:ticket", query=("format",), kwargs=_api_ticket),
    Target("api:ticket", "PATCH", fields=tuple(TicketWriteSerializer(board=None).fields), json=True,
           kwargs=_api_ticket, base_body=lambda w: {"version": _ticket(w).version}),
    Target("api:ticket-move", "POST", fields=tuple(MoveSerializer().fields), json=True, kwargs=_api_ticket,
           base_body=lambda w: {"version": _ticket(w).version, "column": w.columns[1].pk}),
    Target("api:chart-burndown", query=("unit", "format"), kwargs=lambda w: {
        "board_id": w.board.pk, "sprint_id": w.sprint.pk}),
    Target("api:chart-forecast", query=("format",), kwargs=lambda w: {"board_id": w.board.pk, "sprint_id": w.sprint.pk}),
    Target("api:chart-velocity", query=("last", "format"), kwargs=_board),
    Target("api:chart-cfd", query=("start", "end", "format"), kwargs=_board),
    Target("api:chart-accuracy", query=("sprint", "format"), kwargs=_board),
    # --- hypotheses (board) ---
    Target("board:hypothesis-create", "POST", fields=_fields("HypothesisForm"), kwargs=_card, htmx=True,
           base_body=lambda w: {"statement": "Fuzzed claim", "metric": "f1", "direction": "higher", "target": "0.8"}),
    Target("board:hypothesis-override", "POST", fields=_fields("HypothesisOverrideForm"), kwargs=_hypothesis,
           htmx=True, base_body=lambda w: {"status": "refuted", "reason": "fuzz"}),
    Target("board:hypothesis-delete", "POST", kwargs=_hypothesis, htmx=True),
    Target("api:hypotheses", query=("limit", "offset", "format"), kwargs=_api_ticket),
    Target("api:hypotheses", "POST", fields=tuple(HypothesisCreateSerializer().fields), json=True, kwargs=_api_ticket,
           base_body=lambda w: {"statement": "Fuzzed claim", "metric": "f1", "target": 0.8}),
    Target("api:hypothesis", query=("format",), kwargs=_hypothesis),
    Target("api:hypothesis", "PATCH", fields=tuple(HypothesisPatchSerializer().fields), json=True, kwargs=_hypothesis,
           base_body=lambda w: {"status": "refuted", "reason": "fuzz", "baseline": 0.5}),
    Target("api:hypothesis", "DELETE", kwargs=_hypothesis, json=True),
    # --- runs, sweeps and trainers (experiments.api_urls) ---
    Target("experiments_api:trainers", query=("limit", "offset", "format")),
    Target("experiments_api:runs", query=("ticket", "state", "limit", "offset", "format"), kwargs=_board),
    Target("experiments_api:runs", "POST", fields=tuple(RunCreateSerializer().fields), json=True, kwargs=_board,
           base_body=lambda w: {"ticket": w.tickets[0].pk, "trainer": RUN_TRAINER, "dataset": "iris",
                                "params": {"C": 0.5}, "hypothesis": w.runs.hypothesis}),
    Target("experiments_api:run", query=("format",), kwargs=lambda w: _run(w, w.runs.done)),
    Target("experiments_api:run-cancel", "POST", json=True, kwargs=lambda w: _run(w, w.runs.queued)),
    Target("experiments_api:run-retry", "POST", json=True, kwargs=lambda w: _run(w, w.runs.done)),
    Target("experiments_api:run-metrics", query=("key", "format"), kwargs=lambda w: _run(w, w.runs.done)),
    Target("experiments_api:run-artifacts", query=("limit", "offset", "format"), kwargs=lambda w: _run(w, w.runs.done)),
    Target("experiments_api:sweeps", query=("ticket", "limit", "offset", "format"), kwargs=_board),
    Target("experiments_api:sweeps", "POST", fields=tuple(SweepCreateSerializer().fields), json=True, kwargs=_board,
           base_body=lambda w: {"ticket": w.tickets[0].pk, "trainer": RUN_TRAINER, "dataset": "iris", "mode": "grid",
                                "space": {"C": [0.5, 2]}, "metric": "accuracy"}),
    Target("experiments_api:sweep", query=("format",), kwargs=lambda w: {"board_id": w.board.pk,
                                                                          "sweep_id": w.runs.sweep}),
    # --- training runs (experiments.urls) ---
    Target("experiments:ticket-runs", query=("part",), kwargs=_card, htmx=True),
    Target("experiments:run-create", query=("trainer", "page"), kwargs=_card, htmx=True),
    Target("experiments:run-create", "POST", fields=RUN_FIELDS, kwargs=_card, htmx=True, base_body=lambda w: {
        "trainer": RUN_TRAINER, "dataset": "iris", "param_C": "0.5", "timeout_s": "60", "memory_mb": "256",
        "queue": "train", "hypothesis": w.runs.hypothesis}),
    Target("experiments:sweep-create", query=("trainer", "page"), kwargs=_card, htmx=True),
    Target("experiments:sweep-create", "POST", fields=SWEEP_FIELDS, kwargs=_card, htmx=True, base_body=lambda w: {
        "trainer": RUN_TRAINER, "dataset": "iris", "mode": "random", "samples": "2", "min_C": "0.1", "max_C": "1",
        "metric": "accuracy", "direction": "higher", "timeout_s": "60", "memory_mb": "256", "queue": "train"}),
    Target("experiments:compare", query=("runs",), kwargs=_card,
           base_query=lambda w: {"runs": f"{w.runs.done},{w.runs.queued}"}),
    Target("experiments:run", query=("part", "was"), kwargs=lambda w: _run(w, w.runs.done), htmx=True,
           base_query=lambda w: {"part": "state", "was": "active"}),
    Target("experiments:run-metrics", query=("format",), kwargs=lambda w: _run(w, w.runs.done)),
    Target("experiments:run-cancel", "POST", fields=("from",), kwargs=lambda w: _run(w, w.runs.queued), htmx=True),
    Target("experiments:run-retry", "POST", fields=("from",), kwargs=lambda w: _run(w, w.runs.done), htmx=True),
    Target("experiments:run-baseline", "POST", fields=("hypothesis",), kwargs=lambda w: _run(w, w.runs.done),
           base_body=lambda w: {"hypothesis": w.runs.hypothesis}),
    Target("experiments:artifact", kwargs=lambda w: {**_run(w, w.runs.done), "artifact_id": w.runs.artifact}),
    Target("experiments:sweep", query=("part", "was"), htmx=True,
           kwargs=lambda w: {"board_id": w.board.pk, "sweep_id": w.runs.sweep}),
]


def _settings_actions() -> tuple[list[str], list[str]]:
    """Every settings action: those with a form of their own, and those about one item
    (read from the view, so that a new action is fuzzed without editing this file)."""
    named = set(re.findall(r'action == "(\w+)"', inspect.getsource(views._run_settings_action)))
    for group in re.findall(r"action in \(([^)]*)\)", inspect.getsource(views._run_settings_action)):
        named |= set(re.findall(r'"(\w+)"', group))
    with_form = sorted(views.SETTINGS_FORMS)
    return with_form, sorted(named - set(with_form))


FORM_ACTIONS, ITEM_ACTIONS = _settings_actions()
ACTION_FORMS = {"member_role": "RoleForm", "column_update": "ColumnForm", "column_delete": "ColumnDeleteForm"}


def _item_id(w, action: str) -> int:
    kind = action.split("_", 1)[0]
    return {"member": w.erin_membership.pk, "column": w.columns[2].pk, "label": w.label.pk, "epic": w.epic.pk,
            "sprint": w.sprint.pk}.get(kind, 1)


for _action in FORM_ACTIONS:
    TARGETS.append(Target("board:settings-action", "POST", fields=tuple(views.SETTINGS_FORMS[_action].base_fields),
                          kwargs=lambda w, a=_action: {"board_id": w.board.pk, "action": a}, label=f"[{_action}]"))
for _action in ITEM_ACTIONS:
    TARGETS.append(Target("board:settings-item", "POST",
                          fields=_fields(ACTION_FORMS.get(_action, "")),
                          kwargs=lambda w, a=_action: {"board_id": w.board.pk, "action": a, "item_id": _item_id(w, a)},
                          label=f"[{_action}/<id>]"))
    TARGETS.append(Target("board:settings-action", "POST",  # the same action without an item id
                          kwargs=lambda w, a=_action: {"board_id": w.board.pk, "action": a}, label=f"[{_action}]"))


# --- sending ------------------------------------------------------------------------

@dataclass
class Findings:
    """Sends requests (each in a savepoint rolled back after it) and keeps the
    5xx answers and escaped exceptions, with what caused them."""

    client: object
    world: SimpleNamespace
    items: list = field(default_factory=list)
    sent: int = 0

    def send(self, target: Target, what: str, **request) -> None:
        """One request to the target (see _request for the keywords)."""
        self.check(target, what, partial(_request, self.client, target, self.world, **request))

    def check(self, target: Target, what: str, call: Callable) -> None:
        self.sent += 1
        try:
            with transaction.atomic():
                response = call()
                transaction.set_rollback(True)
        except Exception as error:  # noqa: BLE001 - every escape is a finding
            frame = _last_project_frame(error)
            self.items.append(f"{target} {what}: {type(error).__name__}: {str(error)[:200]} ({frame})")
            return
        finally:
            if target.relogin:  # a sign-in, sign-out or password change may have replaced the session
                self.client.force_login(self.world.owner)
        if response.status_code >= 500 and response.status_code not in target.ok_5xx:
            self.items.append(f"{target} {what}: {response.status_code} {response.content[:200]!r}")

    def assert_none(self):
        assert not self.items, f"{len(self.items)} of {self.sent} hostile requests broke:\n" + "\n".join(self.items)


def _last_project_frame(error: BaseException) -> str:
    tb, where = error.__traceback__, "?"
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if "/site-packages/" not in filename and "/tests/" not in filename:
            where = f"{filename.rsplit('/', 2)[-2]}/{filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}…({len(text)} chars)"


def _request(client, target: Target, w, *, query=None, body=None, raw_body=None, url=None):
    url = url or target.url(w)
    extra = HTMX if target.htmx else {}
    if target.method == "GET":
        return client.get(url, query or {}, **extra)
    if query:
        url = f"{url}?{_encode(query)}"
    send = getattr(client, target.method.lower())
    if target.json:
        payload = raw_body if raw_body is not None else json.dumps(body)
        return send(url, payload, content_type="application/json", **extra)
    if target.method != "POST":  # the test client sends a multipart body with POST only
        return send(url, _encode(body or {}), content_type="application/x-www-form-urlencoded", **extra)
    return send(url, body or {}, **extra)


def _encode(query: dict) -> str:
    return urlencode(query, doseq=True)


def _fixed_table(w, target: Target, findings: Findings) -> None:
    """Each parameter and field in turn set to each known-bad value, the others
    valid; then every field at once; for JSON, bodies nested too deep."""
    base_query = target.base_query(w)
    for name in target.query:
        for value in CORE:
            findings.send(target, f"?{name}={_short(value)}", query={**base_query, name: value})
    if target.method == "GET":
        return
    base_body = target.base_body(w)
    for name in target.fields:
        for value in JSON_CORE if target.json else SHARP:
            findings.send(target, f"{name}={_short(value)}", body={**base_body, name: value})
    form_target = Target(target.name, target.method, kwargs=target.kwargs, htmx=target.htmx, relogin=target.relogin)
    text_base = {k: str(v) for k, v in base_body.items()}
    for value in [v for v in CORE if v not in SHARP] if target.fields else []:  # the API takes forms too
        body = {**text_base, **{name: value for name in target.fields}}
        findings.send(form_target, f"form body, every field={_short(value)}", body=body)
    if target.json:
        for raw in NESTED_BODIES + deep_json(base_body):
            findings.send(target, f"body {_short(raw)}", raw_body=raw)


@pytest.fixture
def owner_client(client, world):
    client.force_login(world.owner)
    return client


def _group(target: Target) -> str:
    if target.name.startswith("api:"):
        return "api"
    if target.name.startswith("experiments:"):
        return "run pages"
    if target.name.startswith("experiments_api:"):
        return "runs api"
    if target.name.startswith("board:settings"):
        return "board settings"
    return "board pages" if target.name.startswith("board:") else "accounts and the rest"


@pytest.mark.parametrize("group", sorted({_group(t) for t in TARGETS}))
def test_known_bad_values_in_every_parameter_never_get_a_5xx(owner_client, world, group):
    findings = Findings(owner_client, world)
    for target in TARGETS:
        if _group(target) == group:
            _fixed_table(world, target, findings)
            findings.send(target, "as is", query=target.base_query(world), body=target.base_body(world))
    findings.assert_none()


# --- Hypothesis: mixtures, with a small budget per URL -----------------------------

EXAMPLES = min(settings().max_examples, 5)

text_values = st.one_of(
    st.sampled_from(KNOWN_BAD),
    st.text(max_size=30),
    st.integers().map(str),
    st.lists(st.sampled_from(KNOWN_BAD), min_size=2, max_size=3),
)
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                      st.text(max_size=30), st.sampled_from(JSON_BAD))
json_values = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=5), inner, max_size=3), max_leaves=8)
path_ids = st.one_of(st.just(None), st.sampled_from([0, 2**63, 10**30]), st.integers(min_value=0))


# No shrinking: an example is one request per URL, the failure message names the
# ones that broke, and replaying dozens of requests per shrink step takes minutes.
@settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_mixtures_of_hostile_values_never_get_a_5xx(owner_client, world, data):
    """Each example sends one request to every target: a few of its parameters
    and fields at once, drawn from the known-bad values and random text, JSON
    of any shape for the API, and out-of-range ids in the path."""
    findings = Findings(owner_client, world)
    for target in TARGETS:
        query = data.draw(st.dictionaries(st.sampled_from(target.query), text_values, max_size=4)) if target.query else {}
        body = target.base_body(world) if target.method != "GET" else {}
        if target.fields:
            values = json_values if target.json else text_values
            drawn = data.draw(st.dictionaries(st.sampled_from(target.fields), values, max_size=4))
            body = {**body, **drawn}
        kwargs = target.kwargs(world)
        for key in kwargs:
            if key.endswith("_id") or key == "number":
                replacement = data.draw(path_ids)
                if replacement is not None:
                    kwargs[key] = replacement
        url = reverse(target.name, kwargs=kwargs)
        findings.send(target, f"{url} ?{query} body={_short(body)}", query={**target.base_query(world), **query},
                      body=body, url=url)
    findings.assert_none()


# --- the admin ----------------------------------------------------------------------

ADMIN_QUERY = {"q": "10²", "p": str(10**30), "o": "①.\x00", "e": "٣", "all": "\x00", "_changelist_filters": "a\x00b",
               "next": "\x00", "id__exact": str(2**63), "_popup": "²", "_to_field": "\x00"}
ADMIN_SAMPLES = {"object_id": "1", "app_label": "board", "content_type_id": "1", "url": "nowhere/", "id": "1",
                 "uidb64": "MQ", "token": "x"}


def _walk(patterns, namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, namespace + (f"{p.namespace}:" if p.namespace else ""))
        else:
            yield namespace, p


def _admin_urls() -> list[str]:
    urls = []
    for namespace, p in _walk(get_resolver().url_patterns):
        if namespace.startswith("admin:") and p.name:
            kwargs = {k: ADMIN_SAMPLES.get(k, "1") for k in p.pattern.regex.groupindex}
            urls.append(reverse(f"{namespace}{p.name}", kwargs=kwargs))
    return sorted(set(urls))


@pytest.mark.parametrize("who", ["owner", "superuser"])
def test_every_admin_url_with_hostile_parameters_never_gets_a_5xx(client, world, who):
    """The owner is sent to the admin's login; a superuser reaches every page."""
    if who == "superuser":
        client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    else:
        client.force_login(world.owner)
    findings = Findings(client, world)
    admin_target = Target("admin")
    urls = _admin_urls()
    assert len(urls) > 20
    for url in urls:
        findings.check(admin_target, f"{url} (hostile query)", partial(client.get, url, ADMIN_QUERY))
    findings.assert_none()


# --- the guard ----------------------------------------------------------------------

def test_every_url_pattern_of_the_project_is_fuzzed():
    """A new URL must get its parameters into TARGETS above (the admin is covered as a whole)."""
    names = {f"{namespace}{p.name}" if p.name else f"{namespace}<unnamed {p.pattern}>"
             for namespace, p in _walk(get_resolver().url_patterns) if not namespace.startswith("admin:")}
    names.discard("admin:<unnamed (?P<url>.*)$>")
    assert names - {t.name for t in TARGETS} == set()
    assert set(ITEM_ACTIONS) >= {"member_role", "member_remove", "column_left", "column_right", "column_delete",
                                 "label_delete"}, ITEM_ACTIONS


# --- the fixes, one by one (each failed with a 500 before) --------------------------

@pytest.mark.parametrize("q", ["²", "10²", "①", "MLK-②"])
@pytest.mark.parametrize("url, params", [
    ("/b/{b}/", {}), ("/b/{b}/poll/", {"v": "0"}), ("/b/{b}/columns/{c}/more/", {}), ("/api/boards/{b}/tickets/", {}),
])
def test_a_search_for_unicode_digits_is_a_text_search(owner_client, world, url, params, q):
    Ticket.objects.filter(pk=world.tickets[1].pk).update(title="Loss 10² ① MLK-②")

    response = owner_client.get(url.format(b=world.board.pk, c=world.columns[0].pk), {**params, "q": q}, **HTMX)

    assert response.status_code == 200
    if url.startswith("/api/"):
        assert [t["id"] for t in response.json()["results"]] == [world.tickets[1].pk]


@pytest.mark.parametrize("after", ["\x00", "a\x00", "~~~", "a-b", "²", "Z" * 65])
def test_loading_more_after_something_that_is_no_rank_key_is_400(owner_client, world, after):
    response = owner_client.get(f"/b/{world.board.pk}/columns/{world.columns[0].pk}/more/", {"after": after}, **HTMX)

    assert response.status_code == 400
    assert "rank key" in response.content.decode()


def test_loading_more_after_a_real_rank_key_gives_the_cards_after_it(owner_client, world):
    first, second = sorted(Ticket.objects.filter(column=world.columns[0]), key=lambda t: t.rank)

    response = owner_client.get(f"/b/{world.board.pk}/columns/{world.columns[0].pk}/more/", {"after": first.rank},
                                **HTMX)

    assert response.status_code == 200
    assert f'data-id="{second.pk}"' in response.content.decode()
    assert f'data-id="{first.pk}"' not in response.content.decode()


@pytest.mark.parametrize("limit, expected", [
    (str(10**20), 3), ("99999999999999999999", 3), ("-1", 3), ("0", 3), ("abc", 3), ("²", 3), ("٢", 3), ("1.5", 3),
    ("\x00", 3), ("2", 2), ("1", 1),
])
def test_api_lists_parse_limit_strictly_and_cap_it(owner_client, world, limit, expected):
    response = owner_client.get(f"/api/boards/{world.board.pk}/tickets/", {"limit": limit})

    assert response.status_code == 200
    assert len(response.json()["results"]) == expected


@pytest.mark.parametrize("offset, expected", [(str(10**30), 0), ("-1", 3), ("²", 3), ("1", 2), ("9" * 5000, 0)])
def test_api_lists_parse_offset_strictly(owner_client, world, offset, expected):
    response = owner_client.get(f"/api/boards/{world.board.pk}/tickets/", {"offset": offset})

    assert response.status_code == 200
    assert len(response.json()["results"]) == expected


def test_a_limit_above_the_maximum_is_cut_to_it():
    from board.pagination import MAX_LIMIT, parse_count

    assert parse_count(str(10**30), default=100, maximum=MAX_LIMIT, allow_zero=False) == MAX_LIMIT
    assert parse_count("1001", default=100, maximum=MAX_LIMIT, allow_zero=False) == MAX_LIMIT
    assert parse_count("999", default=100, maximum=MAX_LIMIT, allow_zero=False) == 999


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '{"title": ' + "[" * 5_000 + "]" * 5_000 + "}",
    '{"title": "x", "labels": ' + "[" * 100 + "]" * 100 + "}",
])
@pytest.mark.parametrize("endpoint", ["create", "edit", "move"])
def test_json_nested_too_deep_is_a_400_parse_error_on_every_write(owner_client, world, body, endpoint):
    b, t = world.board.pk, world.tickets[0].pk
    send = {"create": lambda: owner_client.post(f"/api/boards/{b}/tickets/", body, content_type="application/json"),
            "edit": lambda: owner_client.patch(f"/api/boards/{b}/tickets/{t}/", body, content_type="application/json"),
            "move": lambda: owner_client.post(f"/api/boards/{b}/tickets/{t}/move/", body,
                                              content_type="application/json")}[endpoint]
    before = sorted(Ticket.objects.filter(board=world.board).values_list("id", "version"))

    response = send()

    assert response.status_code == 400
    assert "nested more than" in response.json()["detail"]
    assert sorted(Ticket.objects.filter(board=world.board).values_list("id", "version")) == before


@pytest.mark.parametrize("version", ["a\nb", "1\r\n2", "x\u2028", "0.1.0"])
def test_the_schema_ignores_the_version_parameter(owner_client, version):
    response = owner_client.get("/api/schema/", {"version": version})

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'inline; filename="mlkanban API.yaml"'
    assert b"version: 0.1.0" in response.content


def test_json_nested_a_little_is_still_read(owner_client, world):
    response = owner_client.post(f"/api/boards/{world.board.pk}/tickets/", {"title": "Plain", "labels": ["vision"]},
                                 content_type="application/json")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("action", ITEM_ACTIONS)
def test_a_settings_action_about_an_item_without_its_id_is_404(owner_client, world, action):
    version = world.board.version

    response = owner_client.post(f"/b/{world.board.pk}/settings/{action}/", {"role": "viewer", "name": "X"})

    assert response.status_code == 404
    assert response.content.decode() == "This action needs the id of the item it is about, in the URL."
    assert world.board.__class__.objects.get(pk=world.board.pk).version == version
