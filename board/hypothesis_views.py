"""Hypotheses on the ticket modal: add one, override its status with a
reason (or hand it back to the runs), remove it. Members write, viewers only
read (the list is part of the ticket modal). Every change goes through
board.services.results; an answer re-renders the ticket modal (htmx) or
goes back to the card's page, with 422 and the message next to the field
when the input is refused."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from .forms import HypothesisForm, HypothesisOverrideForm
from .models import Hypothesis, Ticket, TicketEvent
from .permissions import WRITE_CARDS, board_for
from .services import results
from .views import _errors_to_form, _ticket_context, _ticket_or_404


def hypothesis_or_404(board, hypothesis_id) -> Hypothesis:
    """A hypothesis of this board (another board's is no hypothesis here)."""
    try:
        hypothesis_id = int(hypothesis_id)
    except (TypeError, ValueError):
        raise Http404("No such hypothesis on this board.") from None
    h = Hypothesis.objects.select_related("ticket").filter(pk=hypothesis_id, board=board).first() \
        if 0 < hypothesis_id < 2**63 else None
    if h is None:
        raise Http404("No such hypothesis on this board.")
    return h


def check_baseline_run(ticket: Ticket, baseline_run, baseline) -> None:
    """A baseline said to come from a run must name a run that ended on this
    card (its history records every run that ended; the board knows no more of runs)."""
    if baseline_run in (None, ""):
        return
    if baseline is None:
        raise ValidationError({"baseline": "Give the baseline value read from that run."})
    if not TicketEvent.objects.filter(ticket_id=ticket.pk, field="run", new__run=int(baseline_run)).exists():
        raise ValidationError({"baseline_run": f"Run {baseline_run} has not ended on this card."})


def _answer(request, board, membership, number, *, status=200, notice="", **forms):
    """The ticket modal again (htmx) or the card's page; 422 keeps the bound forms."""
    if not request.htmx and status == 200:
        messages.success(request, notice)
        return redirect("board:ticket", board_id=board.pk, number=number)
    ticket = _ticket_or_404(board, number)
    context = _ticket_context(request, board, membership, ticket, notice=notice if status == 200 else "")
    context.update(forms)
    template = "board/_ticket_modal.html" if request.htmx else "board/ticket_page.html"
    response = render(request, template, context, status=status)
    return trigger_client_event(response, "mk:changed", {}) if status == 200 else response


@login_required
@require_POST
def hypothesis_create(request, board_id, number):
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    ticket = _ticket_or_404(board, number)
    form = HypothesisForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            check_baseline_run(ticket, d["baseline_run"], d["baseline"])
            results.hypothesis_create(
                board=board, ticket_id=ticket.pk, actor=request.user, statement=d["statement"], metric=d["metric"],
                direction=d["direction"], target=d["target"], baseline=d["baseline"], baseline_run=d["baseline_run"],
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            return _answer(request, board, membership, ticket.number, notice="Saved.")
    return _answer(request, board, membership, ticket.number, status=422, hypothesis_form=form)


@login_required
@require_POST
def hypothesis_override(request, board_id, hypothesis_id):
    """Set the status by hand with a reason, or ("" status) let the runs decide again."""
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    h = hypothesis_or_404(board, hypothesis_id)
    form = HypothesisOverrideForm(request.POST)
    if form.is_valid():
        try:
            results.hypothesis_override(board=board, hypothesis_id=h.pk, actor=request.user,
                                        status=form.cleaned_data["status"], reason=form.cleaned_data["reason"])
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            return _answer(request, board, membership, h.ticket.number, notice="Saved.")
    return _answer(request, board, membership, h.ticket.number, status=422, override_form=form, override_id=h.pk)


@login_required
@require_POST
def hypothesis_delete(request, board_id, hypothesis_id):
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    h = hypothesis_or_404(board, hypothesis_id)
    results.hypothesis_delete(board=board, hypothesis_id=h.pk, actor=request.user)
    return _answer(request, board, membership, h.ticket.number, notice=f"Removed the hypothesis “{h.statement}”.")
