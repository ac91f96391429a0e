"""Sprint pages: the list, a sprint, planning; start and close.

Thin views as in board/views.py: the role through board.permissions, reads
from board.sprint_selectors, writes through board.services. Readers see
every page; members and owners create, plan, start and close. Refusals come
back where the person looks: 422 for bad input, 409 for a sprint in the
wrong state (starting a second active sprint, closing twice, planning into a
closed sprint), 404 for a sprint of another board.
"""

import re

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from . import services, sprint_selectors
from .models import Sprint
from .permissions import READ, WRITE_CARDS, board_for, can

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class SprintForm(forms.Form):
    name = forms.CharField(max_length=80)
    start = forms.DateField(widget=DATE)
    end = forms.DateField(widget=DATE)
    goal = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class CloseForm(forms.Form):
    unfinished_to = forms.CharField(max_length=20)


class PlanForm(forms.Form):
    action = forms.ChoiceField(choices=[("add", "Add to sprint"), ("remove", "Remove")])


def _status(error: ValidationError) -> int:
    """A sprint in the wrong state is a conflict (409); anything else is bad input (422)."""
    return 409 if "state" in getattr(error, "message_dict", {}) else 422


def _text(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return " ".join(m for msgs in error.message_dict.values() for m in msgs)
    return " ".join(error.messages)


def _sprint_or_404(board, sprint_id) -> Sprint:
    try:
        return sprint_selectors.sprint_get(board, sprint_id)
    except Sprint.DoesNotExist:
        raise Http404("No such sprint on this board.") from None


def _next_name(groups) -> str:
    """“Sprint 16” after “Sprint 15”: one more than the highest number ending a sprint's name."""
    sprints = [s for group in groups.values() for s in group]
    numbers = [int(m.group()) for s in sprints if (m := re.search(r"\d{1,6}$", s.name))]
    return f"Sprint {max(numbers, default=len(sprints)) + 1}"


@login_required
@require_http_methods(["GET", "POST"])
def sprint_list(request, board_id):
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS if request.method == "POST" else READ)
    form = None
    if request.method == "POST":
        form = SprintForm(request.POST)
        if form.is_valid():
            try:
                sprint = services.sprint_create(board=board, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                for field, msgs in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, msgs)
            else:
                messages.success(request, f"Created “{sprint.name}”: plan it next.")
                return redirect("board:sprint", board_id=board.pk, sprint_id=sprint.pk)
    groups = sprint_selectors.sprint_list(board)
    if form is None:
        start, end = services.sprint_default_dates(board)
        form = SprintForm(initial={"name": _next_name(groups), "start": start, "end": end})
    return render(request, "board/sprints/list.html", {
        "board": board, "membership": membership, "groups": groups, "form": form,
        "can_edit": can(membership, WRITE_CARDS), "velocity": sprint_selectors.velocity(board),
    }, status=422 if form.errors else 200)


def _detail(request, board, membership, sprint, *, status=200, error="", edit_form=None, close_error=""):
    groups = sprint_selectors.sprint_list(board)
    return render(request, "board/sprints/detail.html", {
        "board": board, "membership": membership, "sprint": sprint, "can_edit": can(membership, WRITE_CARDS),
        "groups": sprint_selectors.sprint_cards_by_category(sprint), "planned_sprints": [
            s for s in groups["planned"] if s.pk != sprint.pk],
        "other_active": next((s for s in groups["active"] if s.pk != sprint.pk), None),
        "edit_form": edit_form or SprintForm(initial={
            "name": sprint.name, "start": sprint.start, "end": sprint.end, "goal": sprint.goal}),
        "error": error, "close_error": close_error,
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def sprint_detail(request, board_id, sprint_id):
    """The sprint; a POST edits its name, goal and dates."""
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS if request.method == "POST" else READ)
    sprint = _sprint_or_404(board, sprint_id)
    if request.method == "GET":
        return _detail(request, board, membership, sprint)
    form = SprintForm(request.POST)
    if form.is_valid():
        try:
            services.sprint_update(board=board, sprint_id=sprint.pk, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            if _status(error) == 409:
                return _detail(request, board, membership, sprint, status=409, error=_text(error))
            for field, msgs in error.message_dict.items():
                form.add_error(field if field in form.fields else None, msgs)
        else:
            messages.success(request, "Sprint saved.")
            return redirect("board:sprint", board_id=board.pk, sprint_id=sprint.pk)
    return _detail(request, board, membership, sprint, status=422, edit_form=form)


@login_required
@require_POST
def sprint_start(request, board_id, sprint_id):
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    sprint = _sprint_or_404(board, sprint_id)
    try:
        sprint = services.sprint_start(board=board, sprint_id=sprint.pk, actor=request.user)
    except ValidationError as error:
        return _detail(request, board, membership, sprint, status=_status(error), error=_text(error))
    messages.success(request, f"“{sprint.name}” started with {sprint.committed_points} points committed.")
    return redirect("board:sprint", board_id=board.pk, sprint_id=sprint.pk)


@login_required
@require_POST
def sprint_close(request, board_id, sprint_id):
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    sprint = _sprint_or_404(board, sprint_id)
    form = CloseForm(request.POST)
    if not form.is_valid():
        return _detail(request, board, membership, sprint, status=422,
                       close_error="Choose where the unfinished cards go: the backlog or a planned sprint.")
    try:
        sprint = services.sprint_close(board=board, sprint_id=sprint.pk, actor=request.user,
                                       unfinished_to=form.cleaned_data["unfinished_to"])
    except ValidationError as error:
        return _detail(request, board, membership, sprint, status=_status(error), close_error=_text(error))
    messages.success(request, f"“{sprint.name}” closed: {sprint.completed_points} points completed.")
    return redirect("board:sprint", board_id=board.pk, sprint_id=sprint.pk)


@login_required
@require_http_methods(["GET", "POST"])
def sprint_plan(request, board_id, sprint_id):
    """Backlog on the left, the sprint on the right. A POST adds or removes
    the chosen cards (checkboxes, or one dragged card through htmx)."""
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS if request.method == "POST" else READ)
    sprint = _sprint_or_404(board, sprint_id)
    error, status = "", 200
    if request.method == "POST":
        form = PlanForm(request.POST)
        if not form.is_valid():
            error, status = "Choose “Add to sprint” or “Remove”.", 422
        else:
            try:
                n = services.sprint_plan(board=board, sprint_id=sprint.pk, actor=request.user,
                                         ticket_ids=request.POST.getlist("tickets"),
                                         add=form.cleaned_data["action"] == "add")
            except ValidationError as error_:
                error, status = _text(error_), _status(error_)
            else:
                done = "added to" if form.cleaned_data["action"] == "add" else "taken out of"
                if not request.htmx:
                    messages.success(request, f"{n} card{'s' if n != 1 else ''} {done} “{sprint.name}”.")
                    return redirect("board:sprint-plan", board_id=board.pk, sprint_id=sprint.pk)
    template = "board/sprints/_planning.html" if request.htmx else "board/sprints/plan.html"
    return render(request, template, {
        "board": board, "membership": membership, "sprint": sprint, "can_edit": can(membership, WRITE_CARDS),
        "plan": sprint_selectors.planning(board, sprint), "error": error,
        "open": sprint.state != Sprint.State.CLOSED,
        "selectable": can(membership, WRITE_CARDS) and sprint.state != Sprint.State.CLOSED,
    }, status=status)
