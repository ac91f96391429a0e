"""Hypotheses on a card: how runs decide them, a person's override, the
ticket modal and the API; and where runs send their cards when they end.

Runs are played with board.services.results.ticket_record_run and a
RunOutcome, as the experiments app does when a run ends."""

import pytest

from board import services
from board.models import Board, Hypothesis, Ticket, TicketEvent
from board.services import results
from board.services.boards import board_set_run_moves
from board.services.results import RunOutcome
from tests.factories import make_board, make_ticket

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def card(board, alice, columns):
    # columns of the ML sprint template: Backlog, Whiteboarding, Implementation, Code review, Done
    return make_ticket(board, alice, title="Try gradient boosting on churn", column=columns[2])


def _hypothesis(board, card, alice, **fields):
    values = {"statement": "Gradient boosting lifts ROC AUC above 0.93", "metric": "roc_auc", "direction": "higher",
              "target": 0.93, **fields}
    return results.hypothesis_create(board=board, ticket_id=card.pk, actor=alice, **values)


_next_run = iter(range(100, 10_000))


def _run(board, card, h=None, state="succeeded", **metrics) -> int:
    run_id = next(_next_run)
    results.ticket_record_run(board=board, ticket_id=card.pk, outcome=RunOutcome(
        run_id=run_id, state=state, metrics=metrics, hypothesis_id=h.pk if h else None,
        error="" if state == "succeeded" else "ValueError: boom"))
    return run_id


def _words(card, field):
    return [e.new_display for e in TicketEvent.objects.filter(ticket_id=card.pk, field=field).order_by("board_version")]


# --- verdicts -----------------------------------------------------------------------

def test_a_run_that_reaches_the_target_supports_the_hypothesis_and_says_so(board, card, alice):
    h = _hypothesis(board, card, alice)

    run = _run(board, card, h, roc_auc=0.962)

    h.refresh_from_db()
    assert (h.status, h.best_value, h.best_run, h.runs_tested, h.decided_by_run) == ("supported", 0.962, run, 1, run)
    assert _words(card, "run") == [f"run {run} succeeded: roc_auc 0.962 ≥ 0.93, hypothesis supported"]
    verdict = TicketEvent.objects.filter(ticket_id=card.pk, field="hypothesis").latest("board_version")
    assert (verdict.new_display, verdict.source, verdict.source_detail) == (
        f"“{h.statement}”: supported", "run", f"run {run}")
    assert Ticket.objects.get(pk=card.pk).results["hypotheses"][0]["status"] == "supported"


def test_a_run_below_the_target_without_a_baseline_refutes_it(board, card, alice):
    h = _hypothesis(board, card, alice)

    _run(board, card, h, roc_auc=0.91)

    h.refresh_from_db()
    assert h.status == "refuted"
    assert "roc_auc 0.91 < 0.93, hypothesis refuted" in _words(card, "run")[-1]


def test_beating_the_baseline_but_missing_the_target_is_inconclusive(board, card, alice):
    h = _hypothesis(board, card, alice, baseline=0.88)

    _run(board, card, h, roc_auc=0.91)

    h.refresh_from_db()
    assert h.status == "inconclusive"


def test_missing_the_target_and_not_beating_the_baseline_refutes_it(board, card, alice):
    h = _hypothesis(board, card, alice, baseline=0.92)

    _run(board, card, h, roc_auc=0.91)

    h.refresh_from_db()
    assert h.status == "refuted"


def test_a_run_that_does_not_log_the_metric_leaves_it_inconclusive(board, card, alice):
    h = _hypothesis(board, card, alice)

    _run(board, card, h, accuracy=0.99)

    h.refresh_from_db()
    assert (h.status, h.best_value, h.runs_tested) == ("inconclusive", None, 1)
    assert "roc_auc not logged" in _words(card, "run")[-1]


@pytest.mark.parametrize("loss, status", [(0.15, "supported"), (0.2, "supported"), (0.31, "refuted")])
def test_when_lower_is_better_the_target_is_a_ceiling(board, card, alice, loss, status):
    h = _hypothesis(board, card, alice, statement="Label smoothing keeps the loss under 0.2", metric="loss",
                    direction="lower", target=0.2)

    _run(board, card, h, loss=loss)

    h.refresh_from_db()
    assert h.status == status


def test_the_best_value_is_kept_across_runs_and_a_worse_run_does_not_undo_it(board, card, alice):
    h = _hypothesis(board, card, alice)
    _run(board, card, h, roc_auc=0.90)
    best = _run(board, card, h, roc_auc=0.95)

    _run(board, card, h, roc_auc=0.80)

    h.refresh_from_db()
    assert (h.status, h.best_value, h.best_run, h.runs_tested) == ("supported", 0.95, best, 3)


def test_a_failed_run_does_not_decide_a_hypothesis(board, card, alice):
    h = _hypothesis(board, card, alice)

    _run(board, card, h, state="failed")

    h.refresh_from_db()
    assert (h.status, h.runs_tested) == ("open", 0)


def test_an_override_stands_against_the_runs_until_it_is_cleared(board, card, alice, bob):
    h = _hypothesis(board, card, alice)
    results.hypothesis_override(board=board, hypothesis_id=h.pk, actor=bob, status="refuted",
                                reason="Leakage in the validation split")

    _run(board, card, h, roc_auc=0.97)
    h.refresh_from_db()
    assert (h.status, h.status_from_runs, h.override_reason) == ("refuted", "supported", "Leakage in the validation "
                                                                                          "split")

    results.hypothesis_override(board=board, hypothesis_id=h.pk, actor=bob, status="", reason="")
    h.refresh_from_db()
    assert (h.status, h.override_reason, h.overridden_by) == ("supported", "", None)
    assert _words(card, "hypothesis") == [
        f"“{h.statement}”: open",
        f"“{h.statement}”: refuted (overridden: Leakage in the validation split)",
        f"“{h.statement}”: supported (as the runs say)",
    ]


def test_every_change_of_status_is_an_event_in_words(board, card, alice):
    h = _hypothesis(board, card, alice, baseline=0.85)
    _run(board, card, h, roc_auc=0.80)  # refuted
    _run(board, card, h, roc_auc=0.90)  # inconclusive: beats the baseline
    _run(board, card, h, roc_auc=0.95)  # supported

    statuses = [e.new["status"] for e in TicketEvent.objects.filter(ticket_id=card.pk, field="hypothesis")
                .order_by("board_version")]

    assert statuses == ["open", "refuted", "inconclusive", "supported"]


# --- where cards go when runs end ---------------------------------------------------------

@pytest.fixture
def moves(board, columns):
    return board_set_run_moves(board=board, on_success_id=columns[3].pk, on_failure_id=columns[1].pk)


def test_a_succeeded_run_moves_its_card_on_as_the_board_says(board, card, alice, columns, moves):
    run = _run(board, card, roc_auc=0.9)

    assert Ticket.objects.get(pk=card.pk).column == columns[3]
    moved = TicketEvent.objects.filter(ticket_id=card.pk, field="column").latest("board_version")
    assert (moved.old_display, moved.new_display, moved.source_detail) == ("Implementation", "Code review",
                                                                           f"run {run}")


def test_a_failed_run_moves_its_card_to_the_failure_column(board, card, columns, moves):
    _run(board, card, state="failed")

    assert Ticket.objects.get(pk=card.pk).column == columns[1]


def test_a_cancelled_run_leaves_the_card_where_it_is(board, card, columns, moves):
    _run(board, card, state="cancelled")

    assert Ticket.objects.get(pk=card.pk).column == columns[2]


def test_only_a_card_in_an_in_progress_column_moves(board, alice, columns, moves):
    backlog_card = make_ticket(board, alice, title="Not started", column=columns[0])

    _run(board, backlog_card, roc_auc=0.9)

    assert Ticket.objects.get(pk=backlog_card.pk).column == columns[0]


def test_a_hard_wip_limit_leaves_the_card_and_the_event_says_why(board, card, alice, columns, moves):
    services.board_update(board=board, name=board.name, wip_mode=Board.WipMode.HARD, key=board.key)
    services.column_update(board=board, column_id=columns[3].pk, name="Code review", wip_limit=1,
                           category="in_progress")
    make_ticket(board, alice, title="Under review", column=columns[3])
    board.refresh_from_db()

    run = _run(board, card, roc_auc=0.9)

    assert Ticket.objects.get(pk=card.pk).column == columns[2]
    words = _words(card, "run")[-1]
    assert words.startswith(f"run {run} succeeded") and "(not moved to Code review:" in words


def test_without_moves_configured_the_card_stays_put(board, card, columns):
    _run(board, card, roc_auc=0.9)
    _run(board, card, state="failed")

    assert Ticket.objects.get(pk=card.pk).column == columns[2]


def test_run_moves_refuse_another_boards_column_and_change_nothing(board, alice, columns):
    other = make_board(alice, name="Other")
    before = Board.objects.get(pk=board.pk).version

    with pytest.raises(Exception) as refused:
        board_set_run_moves(board=board, on_success_id=other.columns.first().pk, on_failure_id=columns[1].pk)

    assert "on_success" in refused.value.message_dict
    fresh = Board.objects.get(pk=board.pk)
    assert (fresh.move_on_success, fresh.move_on_failure, fresh.version) == (None, None, before)


# --- the settings page ---------------------------------------------------------------------

def test_owner_chooses_where_run_cards_go_on_the_settings_page(client, board, alice, columns):
    client.force_login(alice)
    page = client.get(f"/b/{board.pk}/settings/")
    assert "When a training run on a card ends" in page.content.decode()

    response = client.post(f"/b/{board.pk}/settings/run_moves/", {"on_success": columns[3].pk, "on_failure": ""})

    assert response.status_code == 302
    fresh = Board.objects.get(pk=board.pk)
    assert (fresh.move_on_success, fresh.move_on_failure) == (columns[3], None)
    assert f'<option value="{columns[3].pk}" selected>Code review</option>' in \
        client.get(f"/b/{board.pk}/settings/").content.decode()


def test_settings_refuse_another_boards_column_next_to_the_field(client, board, alice):
    other = make_board(alice, name="Other")
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/settings/run_moves/", {"on_success": "", "on_failure":
                                                                  other.columns.first().pk})

    assert response.status_code == 422
    assert "Choose a column of this board" in response.content.decode()
    assert Board.objects.get(pk=board.pk).move_on_failure is None


# --- the ticket modal ------------------------------------------------------------------------

def _modal(client, board, card):
    return client.get(f"/b/{board.pk}/t/{card.number}/", **HTMX).content.decode()


def test_a_card_without_hypotheses_says_how_to_frame_one(client, board, card, bob):
    client.force_login(bob)

    assert "Frame the research as a hypothesis: a metric and a target" in _modal(client, board, card)


def test_the_modal_lists_each_hypothesis_with_its_numbers(client, board, card, alice, vera):
    h = _hypothesis(board, card, alice, baseline=0.9, baseline_run=None)
    run = _run(board, card, h, roc_auc=0.962)
    client.force_login(vera)

    html = _modal(client, board, card)

    assert h.statement in html
    assert '<span class="hyp hyp-supported">Supported</span>' in html
    assert f"0.962 in run {run}" in html and "≥ 0.93" in html and "0.9" in html
    assert "Add a hypothesis" not in html and "Override the status" not in html  # viewers only look


def test_a_member_adds_a_hypothesis_and_the_modal_comes_back_with_it(client, board, card, bob):
    client.force_login(bob)

    response = client.post(f"/b/{board.pk}/t/{card.number}/hypotheses/", {
        "statement": "An MLP beats 0.95 accuracy on digits", "metric": "accuracy", "direction": "higher",
        "target": "0.95", "baseline": "0.9"}, **HTMX)

    assert response.status_code == 200
    assert "mk:changed" in response["HX-Trigger"]
    assert "An MLP beats 0.95 accuracy on digits" in response.content.decode()
    assert "<html" not in response.content.decode()
    h = Hypothesis.objects.get(ticket=card)
    assert (h.metric, h.target, h.baseline, h.status, h.created_by) == ("accuracy", 0.95, 0.9, "open", bob)


@pytest.mark.parametrize("field, value, message", [
    ("statement", "", "This field is required."),
    ("metric", "roc auc!", "A metric name is letters, digits"),
    ("target", "NaN", "Enter a number."),
    ("target", "1e300", "Enter a finite number"),
    ("direction", "sideways", "Select a valid choice."),
    ("baseline_run", "77", "Run 77 has not ended on this card."),
])
def test_bad_input_is_refused_next_to_the_field_and_nothing_is_saved(client, board, card, bob, field, value,
                                                                      message):
    client.force_login(bob)
    data = {"statement": "A claim", "metric": "roc_auc", "direction": "higher", "target": "0.9", "baseline": "0.8",
            field: value}
    events = TicketEvent.objects.count()

    response = client.post(f"/b/{board.pk}/t/{card.number}/hypotheses/", data, **HTMX)

    assert response.status_code == 422
    html = response.content.decode()
    marker = f'has-error field-{field}"'
    assert marker in html and html.index(marker) < html.index(message)  # the message is next to its field
    assert not Hypothesis.objects.exists()
    assert TicketEvent.objects.count() == events


def test_a_baseline_from_a_run_that_ended_on_the_card_is_shown_with_its_run(client, board, card, bob):
    run = _run(board, card, roc_auc=0.88)
    client.force_login(bob)

    client.post(f"/b/{board.pk}/t/{card.number}/hypotheses/", {
        "statement": "Beat run's AUC", "metric": "roc_auc", "direction": "higher", "target": "0.93",
        "baseline": "0.88", "baseline_run": str(run)}, **HTMX)

    assert Hypothesis.objects.get(ticket=card).baseline_run == run
    assert f"0.88 (from run {run})" in _modal(client, board, card)


def test_a_member_overrides_with_a_reason_and_clears_it(client, board, card, alice, bob):
    h = _hypothesis(board, card, alice)
    client.force_login(bob)

    response = client.post(f"/b/{board.pk}/hypotheses/{h.pk}/override/",
                           {"status": "inconclusive", "reason": "Too few seeds"}, **HTMX)

    assert response.status_code == 200
    assert "overridden: Too few seeds" in response.content.decode()
    h.refresh_from_db()
    assert (h.status, h.override_reason, h.overridden_by) == ("inconclusive", "Too few seeds", bob)

    client.post(f"/b/{board.pk}/hypotheses/{h.pk}/override/", {"status": "", "reason": ""}, **HTMX)

    h.refresh_from_db()
    assert (h.status, h.override_reason) == ("open", "")


def test_an_override_without_a_reason_is_refused_next_to_the_reason(client, board, card, alice, bob):
    h = _hypothesis(board, card, alice)
    client.force_login(bob)

    response = client.post(f"/b/{board.pk}/hypotheses/{h.pk}/override/", {"status": "supported", "reason": " "},
                           **HTMX)

    assert response.status_code == 422
    assert "Say why you override what the runs say." in response.content.decode()
    h.refresh_from_db()
    assert (h.status, h.override_reason) == ("open", "")


def test_a_member_removes_a_hypothesis_and_history_keeps_it(client, board, card, alice, bob):
    h = _hypothesis(board, card, alice)
    client.force_login(bob)

    response = client.post(f"/b/{board.pk}/hypotheses/{h.pk}/delete/", **HTMX)

    assert response.status_code == 200
    assert not Hypothesis.objects.exists()
    assert _words(card, "hypothesis")[-1] == "removed"


def test_without_htmx_the_actions_go_back_to_the_card_page(client, board, card, bob):
    client.force_login(bob)

    response = client.post(f"/b/{board.pk}/t/{card.number}/hypotheses/", {
        "statement": "A claim", "metric": "f1", "direction": "higher", "target": "0.8"})

    assert response.status_code == 302
    assert response.url == f"/b/{board.pk}/t/{card.number}/"


@pytest.mark.parametrize("action", ["override", "delete"])
def test_another_boards_hypothesis_is_404_through_this_board(client, board, alice, charlie, action):
    other = make_board(charlie, name="Charlie's")
    theirs = _hypothesis(other, make_ticket(other, charlie, title="Theirs"), charlie)
    client.force_login(alice)

    response = client.post(f"/b/{board.pk}/hypotheses/{theirs.pk}/{action}/",
                           {"status": "refuted", "reason": "mine now"}, **HTMX)

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "open"


# --- the API ---------------------------------------------------------------------------------

def test_the_api_adds_lists_and_reads_hypotheses(client, board, card, bob):
    client.force_login(bob)
    url = f"/api/boards/{board.pk}/tickets/{card.pk}/hypotheses/"

    created = client.post(url, {"statement": "Dropout 0.3 lowers the loss below 0.4", "metric": "loss",
                                "direction": "lower", "target": 0.4}, content_type="application/json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["direction"], body["overridden"], body["best_value"]) == ("open", "lower", False,
                                                                                          None)
    assert [h["id"] for h in client.get(url).json()["results"]] == [body["id"]]
    assert client.get(f"/api/boards/{board.pk}/hypotheses/{body['id']}/").json()["statement"] == body["statement"]
    event = TicketEvent.objects.filter(ticket_id=card.pk, field="hypothesis").get()
    assert event.source == "api"


@pytest.mark.parametrize("payload, status, field", [
    ({"metric": "loss", "target": 0.4}, 400, "statement"),
    ({"statement": "x", "metric": "loss", "target": "high"}, 400, "target"),
    ({"statement": "x", "metric": "loss", "target": 0.4, "direction": "up"}, 400, "direction"),
    ({"statement": "x", "metric": "a b", "target": 0.4}, 422, "metric"),
    ({"statement": "x", "metric": "loss", "target": 1e300}, 422, "target"),
    ({"statement": "x", "metric": "loss", "target": 0.4, "baseline_run": 12345}, 422, "baseline"),
])
def test_the_api_refuses_bad_hypotheses_naming_the_field(client, board, card, bob, payload, status, field):
    client.force_login(bob)

    response = client.post(f"/api/boards/{board.pk}/tickets/{card.pk}/hypotheses/", payload,
                           content_type="application/json")

    assert response.status_code == status
    assert field in response.json()
    assert not Hypothesis.objects.exists()


def test_the_api_overrides_clears_and_sets_the_baseline(client, board, card, alice, bob):
    h = _hypothesis(board, card, alice)
    _run(board, card, h, roc_auc=0.91)  # refuted
    client.force_login(bob)
    url = f"/api/boards/{board.pk}/hypotheses/{h.pk}/"

    overridden = client.patch(url, {"status": "supported", "reason": "Held-out set agrees"},
                              content_type="application/json")
    assert overridden.status_code == 200, overridden.content
    assert (overridden.json()["status"], overridden.json()["overridden_by"]) == ("supported", "bob")

    cleared = client.patch(url, {"status": ""}, content_type="application/json")
    assert (cleared.json()["status"], cleared.json()["overridden"]) == ("refuted", False)

    with_baseline = client.patch(url, {"baseline": 0.89}, content_type="application/json")
    assert (with_baseline.json()["baseline"], with_baseline.json()["status"]) == (0.89, "inconclusive")


@pytest.mark.parametrize("payload, field", [
    ({}, "detail"),
    ({"reason": "just because"}, "status"),
    ({"status": "refuted"}, "reason"),
    ({"status": "refuted", "reason": "x", "baseline": 1e300}, "baseline"),
])
def test_a_refused_patch_changes_nothing(client, board, card, alice, bob, payload, field):
    h = _hypothesis(board, card, alice)
    client.force_login(bob)
    events = TicketEvent.objects.count()

    response = client.patch(f"/api/boards/{board.pk}/hypotheses/{h.pk}/", payload, content_type="application/json")

    assert response.status_code == 422
    assert field in response.json()
    h.refresh_from_db()
    assert (h.status, h.baseline, TicketEvent.objects.count()) == ("open", None, events)


def test_the_api_removes_a_hypothesis(client, board, card, alice, bob):
    h = _hypothesis(board, card, alice)
    client.force_login(bob)

    response = client.delete(f"/api/boards/{board.pk}/hypotheses/{h.pk}/")

    assert response.status_code == 204
    assert not Hypothesis.objects.exists()


def test_a_member_of_another_board_gets_404_for_this_boards_hypotheses(client, board, card, alice, charlie):
    h = _hypothesis(board, card, alice)
    theirs = make_board(charlie, name="Charlie's")
    client.force_login(charlie)

    responses = [
        client.get(f"/api/boards/{theirs.pk}/hypotheses/{h.pk}/"),
        client.patch(f"/api/boards/{theirs.pk}/hypotheses/{h.pk}/", {"status": "refuted", "reason": "x"},
                     content_type="application/json"),
        client.delete(f"/api/boards/{theirs.pk}/hypotheses/{h.pk}/"),
        client.get(f"/api/boards/{theirs.pk}/tickets/{card.pk}/hypotheses/"),
        client.post(f"/api/boards/{theirs.pk}/tickets/{card.pk}/hypotheses/",
                    {"statement": "x", "metric": "m", "target": 1}, content_type="application/json"),
        client.get(f"/api/boards/{board.pk}/hypotheses/{h.pk}/"),
    ]

    assert [r.status_code for r in responses] == [404] * len(responses)
    h.refresh_from_db()
    assert h.status == "open" and Hypothesis.objects.count() == 1
