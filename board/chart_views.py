"""The board's reports page: velocity, cumulative flow and estimation accuracy
(and the active sprint's burndown and forecast). The charts draw themselves
from the JSON endpoints (board/api_charts.py); the page only picks the range."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from . import charts
from .models import Sprint
from .permissions import READ, board_for


class ReportsForm(forms.Form):
    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"}))
    sprint = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Accuracy of")

    def __init__(self, data, sprints):
        super().__init__(data)
        self.fields["sprint"].choices = [("", "All sprints"), *((s.pk, s.name) for s in sprints)]


@login_required
@require_GET
def reports(request, board_id):
    board, membership = board_for(request.user, board_id, needs=READ)
    sprints = list(Sprint.objects.filter(board=board).exclude(state=Sprint.State.PLANNED).order_by("-start", "-id"))
    form = ReportsForm(request.GET or None, sprints)
    start = end = sprint_id = None
    status = 200
    if form.is_bound and form.is_valid():
        start, end, sprint_id = form.cleaned_data["start"], form.cleaned_data["end"], form.cleaned_data["sprint"]
        try:
            start, end = charts.cfd_range(board, start, end)
        except ValidationError as error:
            form.add_error(None, " ".join(error.messages))
    if form.is_bound and form.errors:
        status, start, end, sprint_id = 400, None, None, None
    start, end = charts.cfd_range(board, start, end)
    api = {"board_id": board.pk}
    cfd_url = f"{reverse('api:chart-cfd', kwargs=api)}?start={start.isoformat()}&end={end.isoformat()}"
    accuracy_url = reverse("api:chart-accuracy", kwargs=api) + (f"?sprint={sprint_id}" if sprint_id else "")
    active = next((s for s in sprints if s.state == Sprint.State.ACTIVE), None)
    sprint_urls = None
    if active is not None:
        ids = {"board_id": board.pk, "sprint_id": active.pk}
        sprint_urls = {"burndown": reverse("api:chart-burndown", kwargs=ids),
                       "forecast": reverse("api:chart-forecast", kwargs=ids)}
    return render(request, "board/reports.html", {
        "board": board, "membership": membership, "form": form, "start": start, "end": end,
        "velocity_url": reverse("api:chart-velocity", kwargs=api), "cfd_url": cfd_url,
        "accuracy_url": accuracy_url, "active": active, "sprint_urls": sprint_urls,
    }, status=status)
