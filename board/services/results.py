"""Hypotheses, and results that training runs write back onto tickets.

The board knows nothing of how runs are made: the experiments app calls
`ticket_record_run` / `ticket_record_sweep` with plain data when a run or a
sweep ends. Everything the card shows of finished runs lives in
`Ticket.results` (written only here), so the board page needs no extra query:

    {"runs": {"total": 3, "succeeded": 2, "failed": 1},
     "last": {"run": 12, "label": "run 12", "state": "succeeded", "summary": "roc_auc 0.962",
              "error": "", "url": "/runs/12/", "at": "2026-…"},
     "metrics": {"roc_auc": 0.962, ...},          # the last successful run's final metrics
     "hypotheses": [{"id": 1, "status": "supported", "metric": "roc_auc", "direction": "higher",
                     "target": 0.93, "best": 0.962, "best_run": 12}],
     "sweep": {"sweep": 3, "label": "sweep 3", "metric": "roc_auc", "best_run": 15, "rows": [...]}}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from board.models import Board, BoardPulse, Column, EventSource, Hypothesis, Ticket

from .common import History, Writer, column_event, enter_column, key_after_last, lock_board
from .tickets import _check_wip_on_entry

Status = Hypothesis.Status
SUCCEEDED = "succeeded"
METRIC_NAME_MAX = 100


@dataclass(frozen=True)
class RunOutcome:
    """A finished run, as the board needs it: plain data, no experiments model."""

    run_id: int
    state: str  # succeeded, failed, timed_out, cancelled, lost
    metrics: dict = field(default_factory=dict)  # final value per metric key
    hypothesis_id: int | None = None
    error: str = ""
    url: str = ""
    user: object = None  # who started the run

    @property
    def label(self) -> str:
        return f"run {self.run_id}"


def verdict(h: Hypothesis) -> str:
    """What the runs say: supported once the best value meets the target;
    refuted when it misses and does not beat the baseline (or there is none);
    inconclusive when it beats the baseline but misses the target, or when
    runs tested it without logging its metric."""
    if h.best_value is None:
        return Status.INCONCLUSIVE if h.runs_tested else Status.OPEN
    if h.meets(h.best_value):
        return Status.SUPPORTED
    if h.baseline is not None and h.better(h.best_value, h.baseline):
        return Status.INCONCLUSIVE
    return Status.REFUTED


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _hypothesis_summary(h: Hypothesis) -> dict:
    return {
        "id": h.pk, "status": h.status, "metric": h.metric, "direction": h.direction, "target": h.target,
        "best": h.best_value, "best_run": h.best_run, "overridden": h.overridden,
    }


def _refresh_summary(ticket: Ticket) -> None:
    ticket.results = {
        **(ticket.results or {}),
        "hypotheses": [_hypothesis_summary(h) for h in Hypothesis.objects.filter(ticket=ticket).order_by("id")],
    }


def _status_event(history: History, ticket: Ticket, h: Hypothesis, old: str, why: str = "") -> None:
    label = Status(h.status).label.lower()
    history.add(
        ticket, "hypothesis", {"id": h.pk, "status": old}, {"id": h.pk, "status": h.status},
        f"“{h.statement}”: {Status(old).label.lower()}", f"“{h.statement}”: {label}{why}",
    )


def _save_ticket(ticket: Ticket, history: History, *extra_fields: str) -> None:
    ticket.updated_at = history.at
    ticket.save(update_fields=["results", "board_version", "updated_at", *extra_fields])


def _finite(value, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError({name: "Enter a number."}) from None
    if not math.isfinite(number) or abs(number) > 1e15:
        raise ValidationError({name: "Enter a finite number (at most 1e15 in size)."})
    return number


def _clean_hypothesis(statement, metric, direction, target, baseline) -> tuple[str, str, str, float, float | None]:
    statement = (statement or "").strip()
    metric = (metric or "").strip()
    errors = {}
    if not statement:
        errors["statement"] = "Say what you expect, e.g. “Gradient boosting lifts ROC AUC above 0.93”."
    elif len(statement) > 300 or "\x00" in statement:
        errors["statement"] = "Keep the statement under 300 characters of text."
    if not metric:
        errors["metric"] = "Name the metric that decides it, e.g. roc_auc."
    elif len(metric) > METRIC_NAME_MAX or not metric.replace("_", "").replace(".", "").replace("-", "").isascii() \
            or not all(c.isalnum() or c in "_.-/" for c in metric):
        errors["metric"] = "A metric name is letters, digits and _ . - / (at most 100)."
    if direction not in Hypothesis.Direction.values:
        errors["direction"] = "Choose whether higher or lower is better."
    try:
        target = _finite(target, "target")
        if target is None:
            errors["target"] = "Give the target value the metric must reach."
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        baseline = _finite(baseline, "baseline")
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return statement, metric, direction, target, baseline


@transaction.atomic
def hypothesis_create(*, board: Board, ticket_id: int, actor, statement: str, metric: str, direction: str = "higher",
                      target, baseline=None, baseline_run: int | None = None) -> Hypothesis:
    """A new claim on a ticket. `baseline_run` names the run the baseline
    value was read from (the caller reads it: the board does not know runs)."""
    statement, metric, direction, target, baseline = _clean_hypothesis(statement, metric, direction, target, baseline)
    board = lock_board(board.pk)
    ticket = _ticket(board, ticket_id)
    h = Hypothesis.objects.create(
        board=board, ticket=ticket, statement=statement, metric=metric, direction=direction, target=target,
        baseline=baseline, baseline_run=baseline_run if baseline is not None else None,
        created_by=Writer.of(actor).user,
    )
    history = History(board, actor)
    history.add(ticket, "hypothesis", None, {"id": h.pk, "status": h.status}, "", f"“{statement}”: open")
    _refresh_summary(ticket)
    _save_ticket(ticket, history)
    history.save()
    return h


@transaction.atomic
def hypothesis_override(*, board: Board, hypothesis_id: int, actor, status: str, reason: str) -> Hypothesis:
    """A person decides a hypothesis against (or beyond) what the runs say;
    status "" clears the override and the runs decide again."""
    reason = (reason or "").strip()
    if status and status not in Status.values:
        raise ValidationError({"status": "Choose open, supported, refuted or inconclusive."})
    if status and not reason:
        raise ValidationError({"reason": "Say why you override what the runs say."})
    if len(reason) > 500 or "\x00" in reason:
        raise ValidationError({"reason": "Keep the reason under 500 characters of text."})
    board = lock_board(board.pk)
    h = _hypothesis(board, hypothesis_id)
    old = h.status
    if status:
        h.status, h.override_reason, h.overridden_by = status, reason, Writer.of(actor).user
    else:
        h.status, h.override_reason, h.overridden_by = h.status_from_runs, "", None
    h.save(update_fields=["status", "override_reason", "overridden_by"])
    history = History(board, actor)
    if h.status != old or status:
        _status_event(history, h.ticket, h, old, f" (overridden: {reason})" if status else " (as the runs say)")
    _refresh_summary(h.ticket)
    _save_ticket(h.ticket, history)
    history.save()
    return h


@transaction.atomic
def hypothesis_set_baseline(*, board: Board, hypothesis_id: int, actor, baseline, baseline_run: int | None = None
                            ) -> Hypothesis:
    """Set (or clear, with None) the value the hypothesis must beat, e.g. an
    earlier run's metric (`baseline_run` names it); the verdict is re-derived."""
    baseline = _finite(baseline, "baseline")
    board = lock_board(board.pk)
    h = _hypothesis(board, hypothesis_id)
    old_words = "none" if h.baseline is None else _fmt(h.baseline)
    h.baseline, h.baseline_run = baseline, baseline_run if baseline is not None else None
    old_status = h.status
    h.status_from_runs = verdict(h)
    if not h.overridden:
        h.status = h.status_from_runs
    h.save(update_fields=["baseline", "baseline_run", "status_from_runs", "status"])
    history = History(board, actor)
    new_words = "none" if baseline is None else _fmt(baseline) + (f" (run {baseline_run})" if baseline_run else "")
    history.add(h.ticket, "hypothesis", {"id": h.pk, "baseline": old_words}, {"id": h.pk, "baseline": baseline},
                f"“{h.statement}”: baseline {old_words}", f"“{h.statement}”: baseline {new_words}")
    if h.status != old_status:
        _status_event(history, h.ticket, h, old_status, " (baseline changed)")
    _refresh_summary(h.ticket)
    _save_ticket(h.ticket, history)
    history.save()
    return h


@transaction.atomic
def hypothesis_delete(*, board: Board, hypothesis_id: int, actor) -> None:
    board = lock_board(board.pk)
    h = _hypothesis(board, hypothesis_id)
    ticket = h.ticket
    history = History(board, actor)
    history.add(ticket, "hypothesis", {"id": h.pk, "status": h.status}, None, f"“{h.statement}”", "removed")
    h.delete()
    _refresh_summary(ticket)
    _save_ticket(ticket, history)
    history.save()


def _ticket(board: Board, ticket_id) -> Ticket:
    try:
        return Ticket.objects.get(pk=int(ticket_id), board=board)
    except (Ticket.DoesNotExist, TypeError, ValueError, OverflowError):
        raise ValidationError({"ticket": "That card is not on this board."}) from None


def _hypothesis(board: Board, hypothesis_id) -> Hypothesis:
    try:
        return Hypothesis.objects.select_related("ticket").get(pk=int(hypothesis_id), board=board)
    except (Hypothesis.DoesNotExist, TypeError, ValueError, OverflowError):
        raise ValidationError({"hypothesis": "That hypothesis is not on this board."}) from None


def _run_words(outcome: RunOutcome, h: Hypothesis | None) -> str:
    state = outcome.state.replace("_", " ")
    if outcome.state != SUCCEEDED:
        return f"{outcome.label} {state}" + (f": {outcome.error}" if outcome.error else "")
    if h is not None and h.metric in outcome.metrics:
        value = outcome.metrics[h.metric]
        sign = ("≥" if h.meets(value) else "<") if h.direction == Hypothesis.Direction.HIGHER else \
            ("≤" if h.meets(value) else ">")
        return f"{outcome.label} succeeded: {h.metric} {_fmt(value)} {sign} {_fmt(h.target)}"
    shown = ", ".join(f"{k} {_fmt(v)}" for k, v in list(sorted(outcome.metrics.items()))[:3])
    return f"{outcome.label} succeeded" + (f": {shown}" if shown else "")


def _move_after_run(board: Board, ticket: Ticket, history: History, outcome: RunOutcome) -> str:
    """Move the card where the board says runs' cards go; returns a note for
    the event when the move could not be made."""
    target_id = board.move_on_success_id if outcome.state == SUCCEEDED else board.move_on_failure_id
    if target_id is None or target_id == ticket.column_id or ticket.archived_at is not None:
        return ""
    current = Column.objects.get(pk=ticket.column_id)
    if current.category != Column.Category.IN_PROGRESS:
        return ""  # only work in progress moves on its own; a done or backlog card stays
    target = Column.objects.get(pk=target_id)
    try:
        _check_wip_on_entry(board, target, exclude_id=ticket.pk)
    except Exception as refused:  # MoveRefused: a hard WIP limit
        return f" (not moved to {target.name}: {refused})"
    ticket.rank = key_after_last(target.pk)
    enter_column(ticket, target, history.at)
    column_event(history, ticket, current, target)
    return ""


@transaction.atomic
def ticket_record_run(*, board: Board, ticket_id: int, outcome: RunOutcome) -> Ticket:
    """A run ended: its summary goes onto the card, the hypothesis it tested
    is re-decided, history says it in words, and the card moves where the
    board is configured so. One transaction, under the board lock."""
    board = lock_board(board.pk)
    ticket = Ticket.objects.get(pk=ticket_id, board=board)
    history = History(board, Writer(user=outcome.user, source=EventSource.RUN, detail=outcome.label))
    h = None
    if outcome.hypothesis_id is not None:
        h = Hypothesis.objects.filter(pk=outcome.hypothesis_id, ticket=ticket).first()
    words, old_status = _run_words(outcome, h), None
    if h is not None and outcome.state == SUCCEEDED:
        old_status = h.status
        words += _retest(h, outcome)
    results = dict(ticket.results or {})
    runs = {"total": 0, "succeeded": 0, "failed": 0, "cancelled": 0, **(results.get("runs") or {})}
    runs["total"] += 1
    runs[{SUCCEEDED: "succeeded", "cancelled": "cancelled"}.get(outcome.state, "failed")] += 1
    results["runs"] = runs
    results["last"] = {
        "run": outcome.run_id, "label": outcome.label, "state": outcome.state, "error": outcome.error[:300],
        "summary": words.split(": ", 1)[1] if ": " in words and outcome.state == SUCCEEDED else "",
        "url": outcome.url, "at": history.at.isoformat(),
    }
    if outcome.state == SUCCEEDED:
        results["metrics"] = {k: v for k, v in list(outcome.metrics.items())[:20]}
    ticket.results = results
    # In history: the run, then the verdict it caused, then the move.
    run_event = history.add(ticket, "run", None, {"run": outcome.run_id, "state": outcome.state}, "", words)
    if h is not None and old_status is not None and h.status != old_status:
        _status_event(history, ticket, h, old_status)  # the event's writer is the run
    if outcome.state != "cancelled":
        run_event.new_display += _move_after_run(board, ticket, history, outcome)
    _refresh_summary(ticket)
    ticket.version += 1
    _save_ticket(ticket, history, "version", "column", "rank", "entered_column_at", "started_at", "done_at")
    history.save()
    return ticket


def _retest(h: Hypothesis, outcome: RunOutcome) -> str:
    """Fold one successful run into a hypothesis; returns words for the event."""
    h.runs_tested += 1
    value = outcome.metrics.get(h.metric)
    if value is not None and h.better(value, h.best_value):
        h.best_value, h.best_run = value, outcome.run_id
    decided = verdict(h)
    changed = decided != h.status_from_runs
    h.status_from_runs = decided
    if changed:
        h.decided_by_run = outcome.run_id
    if not h.overridden:
        h.status = decided
    h.save(update_fields=["runs_tested", "best_value", "best_run", "status_from_runs", "status", "decided_by_run"])
    if value is None:
        return f", {h.metric} not logged: hypothesis {Status(h.status).label.lower()}"
    return f", hypothesis {Status(h.status).label.lower()}"


@transaction.atomic
def ticket_record_sweep(*, board: Board, ticket_id: int, sweep_id: int, metric: str, direction: str,
                        rows: list[dict], best_run: int | None, url: str = "", user=None) -> Ticket:
    """A sweep's runs have all ended: the best run and a comparison table
    (one row per run: params, state, metric) go onto the card."""
    board = lock_board(board.pk)
    ticket = Ticket.objects.get(pk=ticket_id, board=board)
    label = f"sweep {sweep_id}"
    history = History(board, Writer(user=user, source=EventSource.RUN, detail=label))
    best = next((row for row in rows if row.get("run") == best_run), None)
    if best is not None and best.get("value") is not None:
        shown = ", ".join(f"{k}={v}" for k, v in sorted((best.get("params") or {}).items()))
        words = f"{label} finished: best run {best_run}, {metric} {_fmt(best['value'])}" + (
            f" ({shown})" if shown else "")
    else:
        words = f"{label} finished: no run logged {metric}"
    ticket.results = {
        **(ticket.results or {}),
        "sweep": {"sweep": sweep_id, "label": label, "metric": metric, "direction": direction,
                  "best_run": best_run, "rows": rows[:50], "url": url, "at": history.at.isoformat()},
    }
    history.add(ticket, "sweep", None, {"sweep": sweep_id, "best_run": best_run}, "", words)
    ticket.version += 1
    _save_ticket(ticket, history, "version")
    history.save()
    return ticket


def pulse(board_id: int) -> None:
    """A running job's progress changed: open boards fetch the live strips.
    Touches only the pulse row, never the board row (no board lock)."""
    if not BoardPulse.objects.filter(board_id=board_id).update(version=F("version") + 1):
        BoardPulse.objects.get_or_create(board_id=board_id, defaults={"version": 1})
