"""The permission matrix: every page and endpoint against every role.

Roles: owner (alice), member (bob), viewer (vera), non-member (charlie) and
anonymous. Reads need viewer, card writes need member, settings need owner;
a non-member gets 404 for anything under a board, an anonymous visitor is sent
to the login page (pages) or refused (API). A refused write changes nothing.
An invitation is answered by its invitee (frank) only: everyone else gets 404.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace

import pytest
from django.test import Client

from board import services
from board.models import (
    Board,
    Column,
    Comment,
    Epic,
    Hypothesis,
    Invitation,
    Label,
    Membership,
    Sprint,
    Ticket,
    TicketEvent,
)
from board.services import results as board_results
from experiments import runner
from experiments import services as run_services
from experiments.models import Artifact, TrainingJob
from tests.factories import UserFactory, make_board, make_ticket

RUN_PAGES_MARK = "runs: "  # the training-run pages' endpoints (experiments.urls), set up by _runs below

HTMX = {"HTTP_HX_REQUEST": "true"}

READ, WRITE, ADMIN, ANY_USER = "read", "write", "admin", "any-user"
INVITEE = "invitee"  # the person an invitation is for, whatever their role


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str  # GET | POST | PATCH | DELETE
    url: Callable  # ctx -> path
    needs: str  # READ | WRITE | ADMIN | ANY_USER (not under a board) | INVITEE
    ok_status: int  # what an allowed request answers
    data: Callable = lambda ctx: {}
    htmx: bool = False
    api: bool = False
    setup: Callable | None = None  # ctx -> None: state the endpoint needs (an active sprint to close)
    redirect: Callable | None = None  # ctx -> where a 302 goes (the settings page when None)
    bumps_version: bool = True  # False for writes that leave the card as it is (a run queued, not yet ended)

    def __str__(self):
        return self.name


def _b(ctx):
    return f"/b/{ctx.board.pk}"


def _ticket_form(ctx, **overrides):
    t = Ticket.objects.get(pk=ctx.ticket.pk)
    data = {
        "version": t.version, "title": "Renamed by the matrix", "description": "", "kind": "story",
        "points": "", "assignee": "", "epic": "", "sprint": "", "timebox_days": 3, "blocked_reason": "",
    }
    data.update(overrides)
    return data


def _move_data(ctx):
    t = Ticket.objects.get(pk=ctx.ticket.pk)
    return {"ticket": t.pk, "version": t.version, "column": ctx.columns[1].pk, "position": "bottom"}


def _runs(ctx):
    """What the run pages need: a hypothesis, a finished run with a curve and an
    image artifact, a queued run and a sweep (no worker: the run is ended here)."""
    import tempfile
    from pathlib import Path

    actor = ctx.users["owner"]
    spec = run_services.JobSpec.clean(trainer="experiments.trainers.builtin:logistic_regression", dataset="iris",
                                      params={})
    ctx.hypothesis = board_results.hypothesis_create(board=ctx.board, ticket_id=ctx.ticket.pk, actor=actor,
                                                     statement="Accurate", metric="accuracy", target=0.9)
    done = run_services.job_create(board=ctx.board, ticket_id=ctx.ticket.pk, actor=actor, spec=spec)
    claimed = run_services.job_claim(done.pk, worker="matrix-host")
    run_services.metrics_insert(done.pk, [("loss", 0, 1.0, claimed.started_at), ("loss", 1, 0.5, claimed.started_at)])
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "confusion_matrix.png"
        image.write_bytes(b"\x89PNG\r\n\x1a\n")
        run_services.job_finish(claimed, runner.RunOutcome(
            state="succeeded", final_metrics={"accuracy": 0.95},
            artifacts=[runner.ArtifactFile(name="confusion_matrix.png", path=image, kind="image", size=8)]))
    ctx.run_done = TrainingJob.objects.get(pk=done.pk)
    ctx.artifact = Artifact.objects.get(job=done)
    ctx.run_queued = run_services.job_create(board=ctx.board, ticket_id=ctx.ticket.pk, actor=actor, spec=spec)
    ctx.sweep = run_services.sweep_create(board=ctx.board, ticket_id=ctx.ticket.pk, actor=actor, spec=spec,
                                          mode="grid", space={"C": [1.0]}, metric="accuracy")


ENDPOINTS = [
    # --- pages (reads) ---
    Endpoint("board list", "GET", lambda c: "/", ANY_USER, 200),
    # --- answering an invitation (its invitee only) ---
    Endpoint("invitation accept", "POST", lambda c: f"/invitations/{c.invitation.pk}/accept/", INVITEE, 302),
    Endpoint("invitation decline", "POST", lambda c: f"/invitations/{c.invitation.pk}/decline/", INVITEE, 302),
    Endpoint("board page", "GET", lambda c: f"{_b(c)}/", READ, 200),
    Endpoint("poll", "GET", lambda c: f"{_b(c)}/poll/?v=0&layout={c.board.layout_version}", READ, 200),
    Endpoint("column more", "GET", lambda c: f"{_b(c)}/columns/{c.columns[0].pk}/more/?after=", READ, 200),
    Endpoint("ticket detail GET", "GET", lambda c: f"{_b(c)}/t/{c.ticket.number}/", READ, 200),
    Endpoint("ticket modal GET", "GET", lambda c: f"{_b(c)}/t/{c.ticket.number}/", READ, 200, htmx=True),
    Endpoint("ticket title as text", "GET", lambda c: f"{_b(c)}/t/{c.ticket.number}/fields/title/", READ, 200,
             htmx=True),
    Endpoint("standup", "GET", lambda c: f"{_b(c)}/standup/", READ, 200),
    Endpoint("standup for one person", "GET", lambda c: f"{_b(c)}/standup/?since=week&person=bob", READ, 200),
    Endpoint("settings GET", "GET", lambda c: f"{_b(c)}/settings/", ADMIN, 200),
    Endpoint("reports page", "GET", lambda c: f"{_b(c)}/reports/?start=2026-11-01&end=2026-11-10", READ, 200),
    Endpoint("sprint list", "GET", lambda c: f"{_b(c)}/sprints/", READ, 200),
    Endpoint("sprint page", "GET", lambda c: f"{_b(c)}/sprints/{c.sprint.pk}/", READ, 200),
    Endpoint("sprint planning", "GET", lambda c: f"{_b(c)}/sprints/{c.sprint.pk}/plan/", READ, 200),
    # --- sprints (members and owners) ---
    Endpoint("sprint create", "POST", lambda c: f"{_b(c)}/sprints/", WRITE, 302,
             lambda c: {"name": "Sprint 10", "start": "2026-12-07", "end": "2026-12-18"},
             redirect=lambda c: f"{_b(c)}/sprints/{Sprint.objects.latest('id').pk}/"),
    Endpoint("sprint update", "POST", lambda c: f"{_b(c)}/sprints/{c.sprint.pk}/", WRITE, 302,
             lambda c: {"name": "Sprint 3b", "start": "2026-11-02", "end": "2026-11-12", "goal": "Ship"},
             redirect=lambda c: f"{_b(c)}/sprints/{c.sprint.pk}/"),
    Endpoint("sprint start", "POST", lambda c: f"{_b(c)}/sprints/{c.sprint.pk}/start/", WRITE, 302,
             redirect=lambda c: f"{_b(c)}/sprints/{c.sprint.pk}/"),
    Endpoint("sprint close", "POST", lambda c: f"{_b(c)}/sprints/{c.sprint.pk}/close/", WRITE, 302,
             lambda c: {"unfinished_to": "backlog"}, redirect=lambda c: f"{_b(c)}/sprints/{c.sprint.pk}/",
             setup=lambda c: services.sprint_start(board=c.board, sprint_id=c.sprint.pk, actor=c.users["owner"])),
    Endpoint("sprint plan", "POST", lambda c: f"{_b(c)}/sprints/{c.sprint.pk}/plan/", WRITE, 200,
             lambda c: {"action": "remove", "tickets": c.ticket.pk}, htmx=True),
    # --- card writes ---
    Endpoint("move", "POST", lambda c: f"{_b(c)}/move/", WRITE, 200, _move_data, htmx=True),
    Endpoint("ticket create", "POST", lambda c: f"{_b(c)}/tickets/new/", WRITE, 204,
             lambda c: {"title": "New from the matrix", "kind": "bug", "column": c.columns[0].pk}, htmx=True),
    Endpoint("ticket detail POST", "POST", lambda c: f"{_b(c)}/t/{c.ticket.number}/", WRITE, 200,
             _ticket_form, htmx=True),
    Endpoint("ticket title editor", "GET", lambda c: f"{_b(c)}/t/{c.ticket.number}/fields/title/?edit=1", WRITE,
             200, htmx=True),
    Endpoint("ticket field save", "POST", lambda c: f"{_b(c)}/t/{c.ticket.number}/fields/points/", WRITE, 200,
             lambda c: {"points": 5}, htmx=True),
    Endpoint("comment add", "POST", lambda c: f"{_b(c)}/t/{c.ticket.number}/comments/", WRITE, 200,
             lambda c: {"body": "A comment from the matrix"}, htmx=True),
    Endpoint("ticket archive", "POST", lambda c: f"{_b(c)}/t/{c.ticket.number}/archive/", WRITE, 200, htmx=True),
    Endpoint("ticket restore", "POST", lambda c: f"{_b(c)}/t/{c.archived.number}/restore/", WRITE, 200, htmx=True),
    # --- hard delete (owners, typing the key) ---
    Endpoint("ticket delete", "POST", lambda c: f"{_b(c)}/t/{c.ticket.number}/delete/", ADMIN, 200,
             lambda c: {"confirm": f"{c.board.key}-{c.ticket.number}"}, htmx=True),
    # --- settings actions (owners); success redirects back to the settings page ---
    Endpoint("settings board", "POST", lambda c: f"{_b(c)}/settings/board/", ADMIN, 302,
             lambda c: {"name": "Renamed board", "key": "NEW", "wip_mode": "hard"}),
    Endpoint("settings invite", "POST", lambda c: f"{_b(c)}/settings/invite/", ADMIN, 302,
             lambda c: {"identifier": "dave", "role": "viewer"}),
    Endpoint("settings invite_cancel", "POST", lambda c: f"{_b(c)}/settings/invite_cancel/{c.invitation.pk}/",
             ADMIN, 302),
    Endpoint("settings member_role", "POST", lambda c: f"{_b(c)}/settings/member_role/{c.erin_membership.pk}/",
             ADMIN, 302, lambda c: {"role": "member"}),
    Endpoint("settings member_remove", "POST",
             lambda c: f"{_b(c)}/settings/member_remove/{c.erin_membership.pk}/", ADMIN, 302),
    Endpoint("settings column_add", "POST", lambda c: f"{_b(c)}/settings/column_add/", ADMIN, 302,
             lambda c: {"name": "Evaluation", "wip_limit": "2", "category": "in_progress"}),
    Endpoint("settings column_update", "POST", lambda c: f"{_b(c)}/settings/column_update/{c.columns[1].pk}/",
             ADMIN, 302, lambda c: {"name": "Design", "wip_limit": "5", "category": "in_progress"}),
    Endpoint("settings column_left", "POST", lambda c: f"{_b(c)}/settings/column_left/{c.columns[1].pk}/",
             ADMIN, 302),
    Endpoint("settings column_right", "POST", lambda c: f"{_b(c)}/settings/column_right/{c.columns[1].pk}/",
             ADMIN, 302),
    Endpoint("settings column_delete", "POST", lambda c: f"{_b(c)}/settings/column_delete/{c.columns[3].pk}/",
             ADMIN, 302),
    Endpoint("settings label_add", "POST", lambda c: f"{_b(c)}/settings/label_add/", ADMIN, 302,
             lambda c: {"name": "nlp", "color": "#112233"}),
    Endpoint("settings label_delete", "POST", lambda c: f"{_b(c)}/settings/label_delete/{c.label.pk}/",
             ADMIN, 302),
    Endpoint("settings epic_add", "POST", lambda c: f"{_b(c)}/settings/epic_add/", ADMIN, 302,
             lambda c: {"name": "Retrieval", "color": "#445566"}),
    Endpoint("settings epic_delete", "POST", lambda c: f"{_b(c)}/settings/epic_delete/{c.epic.pk}/", ADMIN, 302),
    Endpoint("settings sprint_delete", "POST", lambda c: f"{_b(c)}/settings/sprint_delete/{c.sprint.pk}/",
             ADMIN, 302),
    Endpoint("settings sprint_add", "POST", lambda c: f"{_b(c)}/settings/sprint_add/", ADMIN, 302,
             lambda c: {"name": "Sprint 9", "start": "2026-01-05", "end": "2026-01-16"}),
    Endpoint("settings run_moves", "POST", lambda c: f"{_b(c)}/settings/run_moves/", ADMIN, 302,
             lambda c: {"on_success": c.columns[3].pk, "on_failure": ""}),
    # --- hypotheses on the ticket modal (members) ---
    Endpoint("hypothesis create", "POST", lambda c: f"{_b(c)}/t/{c.ticket.number}/hypotheses/", WRITE, 200,
             lambda c: {"statement": "From the matrix", "metric": "f1", "direction": "higher", "target": "0.8"},
             htmx=True),
    Endpoint("hypothesis override", "POST", lambda c: f"{_b(c)}/hypotheses/{c.hypothesis.pk}/override/", WRITE, 200,
             lambda c: {"status": "refuted", "reason": "The matrix says so"}, htmx=True, setup=lambda c: _runs(c)),
    Endpoint("hypothesis delete", "POST", lambda c: f"{_b(c)}/hypotheses/{c.hypothesis.pk}/delete/", WRITE, 200,
             htmx=True, setup=lambda c: _runs(c)),
    # --- REST API ---
    Endpoint("api board list", "GET", lambda c: "/api/boards/", ANY_USER, 200, api=True),
    Endpoint("api board", "GET", lambda c: f"/api/boards/{c.board.pk}/", READ, 200, api=True),
    Endpoint("api tickets", "GET", lambda c: f"/api/boards/{c.board.pk}/tickets/", READ, 200, api=True),
    Endpoint("api move", "POST", lambda c: f"/api/boards/{c.board.pk}/tickets/{c.ticket.pk}/move/", WRITE, 200,
             lambda c: {"version": Ticket.objects.get(pk=c.ticket.pk).version, "column": c.columns[1].pk,
                        "position": "bottom"}, api=True),
    Endpoint("api ticket create", "POST", lambda c: f"/api/boards/{c.board.pk}/tickets/", WRITE, 201,
             lambda c: {"title": "Created through the API", "kind": "experiment", "labels": ["vision"]}, api=True),
    Endpoint("api ticket", "GET", lambda c: f"/api/boards/{c.board.pk}/tickets/{c.ticket.pk}/", READ, 200, api=True),
    Endpoint("api ticket edit", "PATCH", lambda c: f"/api/boards/{c.board.pk}/tickets/{c.ticket.pk}/", WRITE, 200,
             lambda c: {"version": Ticket.objects.get(pk=c.ticket.pk).version, "points": 8}, api=True),
    # --- hypotheses, runs, sweeps and trainers (board.api, experiments.api) ---
    Endpoint("api hypotheses", "GET", lambda c: f"/api/boards/{c.board.pk}/tickets/{c.ticket.pk}/hypotheses/", READ,
             200, api=True),
    Endpoint("api hypothesis create", "POST", lambda c: f"/api/boards/{c.board.pk}/tickets/{c.ticket.pk}/hypotheses/",
             WRITE, 201, lambda c: {"statement": "From the matrix", "metric": "f1", "target": 0.8}, api=True),
    Endpoint("api hypothesis", "GET", lambda c: f"/api/boards/{c.board.pk}/hypotheses/{c.hypothesis.pk}/", READ, 200,
             api=True, setup=lambda c: _runs(c)),
    Endpoint("api hypothesis override", "PATCH", lambda c: f"/api/boards/{c.board.pk}/hypotheses/{c.hypothesis.pk}/",
             WRITE, 200, lambda c: {"status": "refuted", "reason": "The matrix says so"}, api=True,
             setup=lambda c: _runs(c)),
    Endpoint("api hypothesis delete", "DELETE", lambda c: f"/api/boards/{c.board.pk}/hypotheses/{c.hypothesis.pk}/",
             WRITE, 204, api=True, setup=lambda c: _runs(c)),
    Endpoint("api trainers", "GET", lambda c: "/api/trainers/", ANY_USER, 200, api=True),
    *[Endpoint(f"api {name}", method, url, needs, ok, data or (lambda c: {}), api=True, setup=lambda c: _runs(c),
               bumps_version=bumps)
      for name, method, url, needs, ok, data, bumps in [
          ("runs", "GET", lambda c: f"/api/boards/{c.board.pk}/runs/?ticket={c.ticket.pk}", READ, 200, None, True),
          ("run create", "POST", lambda c: f"/api/boards/{c.board.pk}/runs/", WRITE, 201,
           lambda c: {"ticket": c.ticket.pk, "trainer": "experiments.trainers.builtin:logistic_regression",
                      "dataset": "iris", "params": {"C": 2}}, False),  # queued: the card changes when it ends
          ("run", "GET", lambda c: f"/api/boards/{c.board.pk}/runs/{c.run_done.pk}/", READ, 200, None, True),
          ("run cancel", "POST", lambda c: f"/api/boards/{c.board.pk}/runs/{c.run_queued.pk}/cancel/", WRITE, 200,
           None, True),
          ("run retry", "POST", lambda c: f"/api/boards/{c.board.pk}/runs/{c.run_done.pk}/retry/", WRITE, 201, None,
           False),
          ("run metrics", "GET", lambda c: f"/api/boards/{c.board.pk}/runs/{c.run_done.pk}/metrics/?key=loss", READ,
           200, None, True),
          ("run artifacts", "GET", lambda c: f"/api/boards/{c.board.pk}/runs/{c.run_done.pk}/artifacts/", READ, 200,
           None, True),
          ("sweeps", "GET", lambda c: f"/api/boards/{c.board.pk}/sweeps/", READ, 200, None, True),
          ("sweep create", "POST", lambda c: f"/api/boards/{c.board.pk}/sweeps/", WRITE, 201,
           lambda c: {"ticket": c.ticket.pk, "trainer": "experiments.trainers.builtin:logistic_regression",
                      "dataset": "iris", "mode": "grid", "space": {"C": [0.5, 2]}, "metric": "accuracy"}, False),
          ("sweep", "GET", lambda c: f"/api/boards/{c.board.pk}/sweeps/{c.sweep.pk}/", READ, 200, None, True),
      ]],
    # --- chart data (reads) ---
    Endpoint("api burndown", "GET", lambda c: f"/api/boards/{c.board.pk}/sprints/{c.sprint.pk}/burndown/?unit=tickets",
             READ, 200, api=True),
    Endpoint("api forecast", "GET", lambda c: f"/api/boards/{c.board.pk}/sprints/{c.sprint.pk}/forecast/", READ, 200,
             api=True),
    Endpoint("api velocity", "GET", lambda c: f"/api/boards/{c.board.pk}/velocity/?last=3", READ, 200, api=True),
    Endpoint("api cfd", "GET", lambda c: f"/api/boards/{c.board.pk}/cfd/", READ, 200, api=True),
    # --- training runs (experiments.urls) ---
    *[Endpoint(RUN_PAGES_MARK + name, method, url, needs, ok, data or (lambda c: {}), htmx=htmx, setup=lambda c: _runs(c),
               bumps_version=bumps, redirect=redirect)
      for name, method, url, needs, ok, data, htmx, bumps, redirect in [
          ("ticket-runs", "GET", lambda c: f"{_b(c)}/t/{c.ticket.number}/runs/", READ, 200, None, True, True, None),
          ("run-create form", "GET", lambda c: f"{_b(c)}/t/{c.ticket.number}/runs/new/", WRITE, 200, None, True, True,
           None),
          ("run-create", "POST", lambda c: f"{_b(c)}/t/{c.ticket.number}/runs/new/", WRITE, 200,
           lambda c: {"trainer": "experiments.trainers.builtin:logistic_regression", "dataset": "iris",
                      "timeout_s": "60", "memory_mb": "256", "queue": "train"}, True, False, None),
          ("sweep-create form", "GET", lambda c: f"{_b(c)}/t/{c.ticket.number}/sweeps/new/", WRITE, 200, None, True,
           True, None),
          ("sweep-create", "POST", lambda c: f"{_b(c)}/t/{c.ticket.number}/sweeps/new/", WRITE, 200,
           lambda c: {"trainer": "experiments.trainers.builtin:logistic_regression", "dataset": "iris",
                      "mode": "grid", "values_C": "0.5,2", "metric": "accuracy", "direction": "higher",
                      "timeout_s": "60", "memory_mb": "256", "queue": "train"}, True, False, None),
          ("compare", "GET", lambda c: f"{_b(c)}/t/{c.ticket.number}/compare/?runs={c.run_done.pk},{c.run_queued.pk}",
           READ, 200, None, False, True, None),
          ("run", "GET", lambda c: f"{_b(c)}/runs/{c.run_done.pk}/", READ, 200, None, False, True, None),
          ("run state", "GET", lambda c: f"{_b(c)}/runs/{c.run_queued.pk}/?part=state", READ, 200, None, True, True,
           None),
          ("run-metrics", "GET", lambda c: f"{_b(c)}/runs/{c.run_done.pk}/metrics/", READ, 200, None, False, True,
           None),
          ("artifact", "GET", lambda c: f"{_b(c)}/runs/{c.run_done.pk}/artifacts/{c.artifact.pk}/", READ, 200, None,
           False, True, None),
          ("sweep", "GET", lambda c: f"{_b(c)}/sweeps/{c.sweep.pk}/", READ, 200, None, False, True, None),
          ("run-cancel", "POST", lambda c: f"{_b(c)}/runs/{c.run_queued.pk}/cancel/", WRITE, 200, None, True, True,
           None),
          ("run-retry", "POST", lambda c: f"{_b(c)}/runs/{c.run_done.pk}/retry/", WRITE, 200, None, True, False, None),
          ("run-baseline", "POST", lambda c: f"{_b(c)}/runs/{c.run_done.pk}/baseline/", WRITE, 302,
           lambda c: {"hypothesis": c.hypothesis.pk}, False, True, lambda c: f"{_b(c)}/runs/{c.run_done.pk}/"),
      ]],
    Endpoint("api accuracy", "GET", lambda c: f"/api/boards/{c.board.pk}/accuracy/?sprint={c.sprint.pk}", READ, 200,
             api=True),
]

UNDER_BOARD = [e for e in ENDPOINTS if e.needs != ANY_USER]
READS = [e for e in UNDER_BOARD if e.needs == READ]
CARD_WRITES = [e for e in ENDPOINTS if e.needs == WRITE]
OWNER_ONLY = [e for e in ENDPOINTS if e.needs == ADMIN]
INVITEE_ONLY = [e for e in ENDPOINTS if e.needs == INVITEE]
WRITES = [e for e in ENDPOINTS if e.method != "GET" and e.needs != INVITEE]
PAGES = [e for e in ENDPOINTS if not e.api]
API = [e for e in ENDPOINTS if e.api]


@pytest.fixture
def ctx(request, board, columns, alice, bob, vera, charlie):
    erin = UserFactory(username="erin")
    UserFactory(username="dave")  # someone to invite
    frank = UserFactory(username="frank")  # invited, not answered yet
    erin_membership = Membership.objects.create(board=board, user=erin, role=Membership.Role.VIEWER)
    invitation = services.invitation_create(board=board, identifier="frank", role="member", invited_by=alice)
    label = services.label_create(board=board, name="vision", color="#1f7a8c")
    epic = services.epic_create(board=board, name="Distillation")
    sprint = services.sprint_create(board=board, name="Sprint 3", start=date(2026, 11, 2), end=date(2026, 11, 13))
    ticket = make_ticket(board, alice, title="Tune the learning rate", epic=epic, sprint=sprint)
    archived = make_ticket(board, alice, title="An old idea")
    services.ticket_archive(board=board, ticket_id=archived.pk, actor=alice)
    board.refresh_from_db()
    context = SimpleNamespace(
        board=board, columns=columns, ticket=ticket, archived=archived, label=label, epic=epic, sprint=sprint,
        erin_membership=erin_membership,
        invitation=invitation, invitee=frank,
        users={"owner": alice, "member": bob, "viewer": vera, "non_member": charlie, "anonymous": None},
    )
    endpoint = getattr(request.node, "callspec", None) and request.node.callspec.params.get("endpoint")
    if isinstance(endpoint, Endpoint) and endpoint.setup is not None:
        endpoint.setup(context)
        board.refresh_from_db()
    return context


def _request(client, endpoint, ctx, user):
    if user is not None:
        client.force_login(user)
    url = endpoint.url(ctx)
    extra = HTMX if endpoint.htmx else {}
    if endpoint.method == "GET":
        return client.get(url, **extra)
    if endpoint.method in ("PATCH", "DELETE"):
        send = client.patch if endpoint.method == "PATCH" else client.delete
        return send(url, endpoint.data(ctx), content_type="application/json", **extra)
    if endpoint.api:
        return client.post(url, endpoint.data(ctx), content_type="application/json", **extra)
    return client.post(url, endpoint.data(ctx), **extra)


def _snapshot(board_id):
    """Everything a write on the board could change."""
    board = Board.objects.get(pk=board_id)
    return {
        "board": (board.name, board.key, board.wip_mode, board.version, board.layout_version, board.ticket_seq),
        "memberships": sorted(Membership.objects.filter(board=board).values_list("user_id", "role")),
        "invitations": sorted(Invitation.objects.filter(board=board).values_list("user_id", "role")),
        "columns": sorted(Column.objects.filter(board=board).values_list("id", "name", "position", "wip_limit")),
        "labels": sorted(Label.objects.filter(board=board).values_list("id", "name")),
        "epics": Epic.objects.filter(board=board).count(),
        "sprints": Sprint.objects.filter(board=board).count(),
        "tickets": sorted(Ticket.objects.filter(board=board).values_list(
            "id", "column_id", "rank", "title", "version", "archived_at")),
        "events": TicketEvent.objects.filter(board=board).count(),
        "comments": Comment.objects.filter(ticket__board=board).count(),
        "runs": sorted(TrainingJob.objects.filter(board=board).values_list("id", "state")),
        "hypotheses": sorted(Hypothesis.objects.filter(board=board).values_list("id", "baseline", "status")),
    }


def _assert_allowed(response, endpoint, ctx, before):
    assert response.status_code == endpoint.ok_status, response.content[:500]
    if endpoint.ok_status == 302:
        assert response.url == (endpoint.redirect(ctx) if endpoint.redirect else f"/b/{ctx.board.pk}/settings/")
    if endpoint.method != "GET":
        after = _snapshot(ctx.board.pk)
        assert after != before, "an allowed write changed nothing"
        if endpoint.bumps_version:
            assert after["board"][3] > before["board"][3], "an allowed write must bump Board.version"


# --- anonymous ----------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", PAGES, ids=str)
def test_anonymous_visitor_is_redirected_to_login_for_every_page(client, ctx, endpoint):
    before = _snapshot(ctx.board.pk)

    response = _request(client, endpoint, ctx, user=None)

    if endpoint.htmx:  # htmx follows HX-Redirect instead of swapping a login form into the card
        assert response.status_code == 200
        assert response["HX-Redirect"].startswith("/accounts/login/")
    else:
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/?next=")
    assert _snapshot(ctx.board.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", API, ids=str)
def test_anonymous_visitor_is_refused_by_every_api_endpoint(client, ctx, endpoint):
    before = _snapshot(ctx.board.pk)

    response = _request(client, endpoint, ctx, user=None)

    assert response.status_code in (401, 403)
    assert _snapshot(ctx.board.pk) == before


# --- non-members ----------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", UNDER_BOARD, ids=str)
def test_non_member_gets_404_for_everything_under_the_board(client, ctx, endpoint):
    before = _snapshot(ctx.board.pk)

    response = _request(client, endpoint, ctx, user=ctx.users["non_member"])

    assert response.status_code == 404
    assert _snapshot(ctx.board.pk) == before


@pytest.mark.django_db
def test_non_member_sees_the_board_list_without_the_board(client, ctx):
    client.force_login(ctx.users["non_member"])

    response = client.get("/")

    assert response.status_code == 200
    assert ctx.board.name not in response.content.decode()
    assert f"/b/{ctx.board.pk}/" not in response.content.decode()


@pytest.mark.django_db
def test_non_member_gets_an_empty_board_list_from_the_api(client, ctx):
    client.force_login(ctx.users["non_member"])

    response = client.get("/api/boards/")

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.django_db
def test_board_list_shows_the_board_to_every_member(client, ctx):
    for role in ("owner", "member", "viewer"):
        client.force_login(ctx.users[role])
        assert ctx.board.name in client.get("/").content.decode()
        assert [b["id"] for b in client.get("/api/boards/").json()["results"]] == [ctx.board.pk]


# --- viewers --------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.needs in (READ, ANY_USER)], ids=str)
def test_viewer_can_read_every_page_and_api_endpoint(client, ctx, endpoint):
    response = _request(client, endpoint, ctx, user=ctx.users["viewer"])

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", WRITES + [e for e in OWNER_ONLY if e.method == "GET"], ids=str)
def test_viewer_cannot_write_anything_and_nothing_changes(client, ctx, endpoint):
    before = _snapshot(ctx.board.pk)

    response = _request(client, endpoint, ctx, user=ctx.users["viewer"])

    assert response.status_code == 403
    assert _snapshot(ctx.board.pk) == before


@pytest.mark.django_db
def test_viewer_cannot_move_a_card(client, ctx):
    client.force_login(ctx.users["viewer"])
    version_before = Board.objects.get(pk=ctx.board.pk).version

    response = client.post(f"/b/{ctx.board.pk}/move/", _move_data(ctx), **HTMX)

    assert response.status_code == 403
    assert Board.objects.get(pk=ctx.board.pk).version == version_before
    assert Ticket.objects.get(pk=ctx.ticket.pk).column_id == ctx.columns[0].pk


# --- members --------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", READS + CARD_WRITES, ids=str)
def test_member_can_read_and_write_cards(client, ctx, endpoint):
    before = _snapshot(ctx.board.pk)

    response = _request(client, endpoint, ctx, user=ctx.users["member"])

    _assert_allowed(response, endpoint, ctx, before)


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", OWNER_ONLY, ids=str)
def test_member_cannot_open_or_change_settings_and_nothing_changes(client, ctx, endpoint):
    before = _snapshot(ctx.board.pk)

    response = _request(client, endpoint, ctx, user=ctx.users["member"])

    assert response.status_code == 403
    assert _snapshot(ctx.board.pk) == before


# --- owners ---------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.needs != INVITEE], ids=str)
def test_owner_can_do_everything(client, ctx, endpoint):
    before = _snapshot(ctx.board.pk)

    response = _request(client, endpoint, ctx, user=ctx.users["owner"])

    _assert_allowed(response, endpoint, ctx, before)


# --- invitees ---------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "member", "viewer", "non_member"])
@pytest.mark.parametrize("endpoint", INVITEE_ONLY, ids=str)
def test_only_the_invitee_answers_an_invitation_everyone_else_gets_404(client, ctx, endpoint, role):
    before = _snapshot(ctx.board.pk)

    response = _request(client, endpoint, ctx, user=ctx.users[role])

    assert response.status_code == 404
    assert _snapshot(ctx.board.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", INVITEE_ONLY, ids=str)
def test_the_invitee_answers_their_invitation(client, ctx, endpoint):
    before = _snapshot(ctx.board.pk)

    response = _request(client, endpoint, ctx, user=ctx.invitee)

    assert response.status_code == endpoint.ok_status
    assert response.url == {"invitation accept": f"/b/{ctx.board.pk}/", "invitation decline": "/"}[endpoint.name]
    after = _snapshot(ctx.board.pk)
    assert after["invitations"] == [] and after["board"][3] > before["board"][3]
    joined = (ctx.invitee.pk, Membership.Role.MEMBER) in after["memberships"]
    assert joined == (endpoint.name == "invitation accept")


def test_the_matrix_covers_every_board_and_api_url():
    """A new URL must be added to the matrix above."""
    from board import api_urls, urls

    assert {p.name for p in urls.urlpatterns} == {
        "index", "detail", "poll", "ticket-move", "ticket-create", "column-more", "ticket", "ticket-field", "comment-add",
        "settings", "settings-action", "settings-item", "invitation-accept", "invitation-decline",
        "ticket-archive", "ticket-restore", "ticket-delete", "standup",
        "sprints", "sprint", "sprint-start", "sprint-close", "sprint-plan",
        "reports", "hypothesis-create", "hypothesis-override", "hypothesis-delete",
    }
    assert {p.name for p in api_urls.urlpatterns} == {
        "boards", "board", "tickets", "ticket", "ticket-move",
        "chart-burndown", "chart-forecast", "chart-velocity", "chart-cfd", "chart-accuracy",
        "hypotheses", "hypothesis",
    }
    assert {e.name for e in INVITEE_ONLY} == {"invitation accept", "invitation decline"}
    settings_actions = {e.name.removeprefix("settings ") for e in OWNER_ONLY
                        if e.method == "POST" and e.name.startswith("settings ")}
    assert settings_actions == {
        "board", "invite", "invite_cancel", "member_role", "member_remove", "column_add", "column_update",
        "column_left", "column_right", "column_delete", "label_add", "label_delete", "epic_add", "epic_delete",
        "sprint_add", "sprint_delete", "run_moves",
    }


def test_the_matrix_covers_every_experiments_api_url():
    """A new endpoint of experiments.api_urls must be added to the matrix above."""
    from experiments import api_urls as run_api_urls

    covered = {"trainers", "runs", "run-create", "run", "run-cancel", "run-retry", "run-metrics", "run-artifacts",
               "sweeps", "sweep-create", "sweep"}
    assert {e.name.removeprefix("api ").replace(" ", "-") for e in API} >= covered
    assert {p.name for p in run_api_urls.urlpatterns} | {"run-create", "sweep-create"} == covered


def test_the_matrix_covers_every_training_run_page():
    """A new run page must be added to the matrix above."""
    from experiments import urls as run_urls

    covered = {e.name.removeprefix(RUN_PAGES_MARK).split(" ")[0] for e in ENDPOINTS if e.name.startswith(RUN_PAGES_MARK)}
    assert {p.name for p in run_urls.urlpatterns} == covered


# --- another board's objects ---------------------------------------------------------

@pytest.mark.django_db
def test_owner_of_one_board_cannot_touch_another_boards_items_through_their_own(client, ctx, charlie):
    """Item ids in settings URLs are looked up within the board of the URL."""
    other = make_board(charlie, name="Charlie's board")
    other_label = services.label_create(board=other, name="secret", color="#000000")
    other_membership = Membership.objects.get(board=other, user=charlie)
    other_column = other.columns.order_by("position").last()
    other_invitation = services.invitation_create(board=other, identifier="dave", role="member", invited_by=charlie)
    client.force_login(ctx.users["owner"])
    before = _snapshot(other.pk)

    responses = [
        client.post(f"/b/{ctx.board.pk}/settings/invite_cancel/{other_invitation.pk}/"),
        client.post(f"/b/{ctx.board.pk}/settings/label_delete/{other_label.pk}/"),
        client.post(f"/b/{ctx.board.pk}/settings/member_remove/{other_membership.pk}/"),
        client.post(f"/b/{ctx.board.pk}/settings/member_role/{other_membership.pk}/", {"role": "viewer"}),
        client.post(f"/b/{ctx.board.pk}/settings/column_delete/{other_column.pk}/"),
        client.post(f"/b/{ctx.board.pk}/settings/column_update/{other_column.pk}/",
                    {"name": "x", "wip_limit": "", "category": "done"}),
        client.post(f"/b/{ctx.board.pk}/settings/column_left/{other_column.pk}/"),
        client.get(f"/b/{ctx.board.pk}/columns/{other_column.pk}/more/"),
    ]

    assert [r.status_code for r in responses] == [404] * len(responses)
    assert _snapshot(other.pk) == before


# --- CSRF -------------------------------------------------------------------------

CSRF_CASES = {
    "move": lambda ctx: (f"/b/{ctx.board.pk}/move/", _move_data(ctx), {}),
    "ticket edit": lambda ctx: (f"/b/{ctx.board.pk}/t/{ctx.ticket.number}/", _ticket_form(ctx), {}),
    "settings action": lambda ctx: (
        f"/b/{ctx.board.pk}/settings/board/", {"name": "CSRF board", "key": "CSRF", "wip_mode": "warn"}, {}),
    "api move": lambda ctx: (
        f"/api/boards/{ctx.board.pk}/tickets/{ctx.ticket.pk}/move/",
        {"version": Ticket.objects.get(pk=ctx.ticket.pk).version, "column": ctx.columns[1].pk},
        {"content_type": "application/json"}),
}


@pytest.fixture
def csrf_client(ctx):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ctx.users["owner"])
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("case", CSRF_CASES)
def test_post_without_csrf_token_is_refused_and_changes_nothing(csrf_client, ctx, case):
    csrf_client.get(f"/b/{ctx.board.pk}/")  # a cookie alone is not enough
    url, data, extra = CSRF_CASES[case](ctx)
    before = _snapshot(ctx.board.pk)

    response = csrf_client.post(url, data, **extra)

    assert response.status_code == 403
    assert _snapshot(ctx.board.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("case", CSRF_CASES)
def test_post_with_the_cookies_csrf_token_in_the_header_succeeds(csrf_client, ctx, case):
    page = csrf_client.get(f"/b/{ctx.board.pk}/")
    assert page.status_code == 200
    token = csrf_client.cookies["csrftoken"].value
    url, data, extra = CSRF_CASES[case](ctx)
    version_before = Board.objects.get(pk=ctx.board.pk).version

    response = csrf_client.post(url, data, HTTP_X_CSRFTOKEN=token, **extra)

    assert response.status_code in (200, 302)
    assert Board.objects.get(pk=ctx.board.pk).version > version_before


@pytest.mark.django_db
def test_post_with_a_wrong_csrf_token_is_refused(csrf_client, ctx):
    csrf_client.get(f"/b/{ctx.board.pk}/")
    url, data, _ = CSRF_CASES["move"](ctx)
    before = _snapshot(ctx.board.pk)

    response = csrf_client.post(url, data, HTTP_X_CSRFTOKEN="x" * 32)

    assert response.status_code == 403
    assert _snapshot(ctx.board.pk) == before


# --- the Django admin ----------------------------------------------------------------

def _admin_urls(ctx):
    """Every admin page of every registered model: list, add, change, delete, history."""
    from django.contrib import admin
    from django.urls import NoReverseMatch, reverse

    urls = []
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        obj = model.objects.order_by("pk").first()
        urls.append(reverse(f"{name}_changelist"))
        urls.append(reverse(f"{name}_add"))
        if obj is not None:
            for page in ("change", "delete", "history"):
                try:
                    urls.append(reverse(f"{name}_{page}", args=[obj.pk]))
                except NoReverseMatch:
                    pass
    return urls


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "member", "viewer", "non_member"])
def test_the_admin_is_closed_to_every_user_who_is_not_staff(client, ctx, role):
    """Board roles give nothing in the admin: every page of every model sends a
    non-staff user to the admin's login, and a POST changes nothing."""
    client.force_login(ctx.users[role])
    before = _snapshot(ctx.board.pk)
    urls = _admin_urls(ctx)
    assert len(urls) > 40

    for url in urls:
        for response in (client.get(url), client.post(url, {"post": "yes", "title": "Hacked", "name": "Hacked"})):
            assert response.status_code == 302, url
            assert response.url.startswith("/admin/login/"), url
    assert _snapshot(ctx.board.pk) == before
