"""Thin views of training runs: check the role, call a selector or a service, render.

Status codes as on the board: 422 invalid input (the form with its errors,
swapped in by htmx), 409 a request the run's state refuses (the message goes
where the person clicked), 400 a malformed compare request, 403 a viewer
writing, 404 anything not on a board of yours.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseClientRefresh,
    reswap,
    retarget,
    trigger_client_event,
)

from board.models import Hypothesis, Ticket
from board.permissions import READ, WRITE_CARDS, board_for, can
from board.services import results as board_results

from . import selectors, services
from .forms import BaselineForm, RunForm, SweepForm
from .models import Artifact, Sweep, TrainingJob

DB_ID_MAX = 2**63 - 1


def _id(value) -> int:
    """A path id the database can hold, else 404 (PostgreSQL refuses bigger ones with an error)."""
    if not 0 < int(value) <= DB_ID_MAX:
        raise Http404("No such item on this board.")
    return int(value)


def _ticket_or_404(board, number) -> Ticket:
    try:
        return Ticket.objects.get(board=board, number=_id(number))
    except Ticket.DoesNotExist:
        raise Http404("No such card on this board.") from None


def _run_or_404(board, run_id) -> TrainingJob:
    try:
        return selectors.run_for(board, _id(run_id))
    except TrainingJob.DoesNotExist as missing:
        raise Http404(str(missing)) from None


def _changed(response, message: str = "", level: str = "success"):
    """Tell the board to poll now (and show a toast)."""
    trigger_client_event(response, "mk:changed", {})
    if message:
        trigger_client_event(response, "mk:toast", {"message": message, "level": level})
    return response


def _hypotheses(ticket) -> list[Hypothesis]:
    return list(Hypothesis.objects.filter(ticket=ticket).order_by("id"))


# --- the ticket modal's section -------------------------------------------------

def _section_context(request, board, membership, ticket, **extra) -> dict:
    return {"board": board, "ticket": ticket, "can_edit": can(membership, WRITE_CARDS),
            "runs": selectors.ticket_runs(ticket), **extra}


def _section(request, board, membership, ticket, *, status=200, **extra):
    return render(request, "experiments/_runs_section.html",
                  _section_context(request, board, membership, ticket, **extra), status=status)


@login_required
@require_GET
def ticket_runs(request, board_id, number):
    """The card's "Training runs" section; ?part=list is the list alone (its poll)."""
    board, membership = board_for(request.user, board_id, needs=READ)
    ticket = _ticket_or_404(board, number)
    template = "experiments/_runs_section.html"
    part = request.GET.get("part")
    if part == "none":  # the form slot, emptied (a form's Close button)
        return HttpResponse("")
    if part == "list":
        template += "#list"
    return render(request, template, _section_context(request, board, membership, ticket))


@login_required
@require_http_methods(["GET", "POST"])
def run_create(request, board_id, number):
    """The run form (GET, ?trainer= picks the trainer) and starting a run (POST)."""
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    ticket = _ticket_or_404(board, number)
    hypotheses = _hypotheses(ticket)
    if request.method == "GET":
        form = RunForm(hypotheses=hypotheses, trainer_ref=request.GET.get("trainer"))
        return _form_response(request, board, ticket, form, "run")
    form = RunForm(request.POST, hypotheses=hypotheses)
    job = None
    if form.is_valid() and (spec := form.spec()) is not None:
        try:
            job = services.job_create(board=board, ticket_id=ticket.pk, actor=request.user, spec=spec,
                                      hypothesis_id=form.cleaned_data["hypothesis"])
        except ValidationError as error:
            form.add_service_errors(error)
    if job is None:
        return _form_response(request, board, ticket, form, "run", status=422)
    if not request.htmx:
        messages.success(request, f"Started {job.label}.")
        return redirect("experiments:run", board_id=board.pk, run_id=job.pk)
    return _changed(_section(request, board, membership, ticket, notice=f"{job.label} queued."),
                    f"{job.label} queued on {job.queue}.")


@login_required
@require_http_methods(["GET", "POST"])
def sweep_create(request, board_id, number):
    """The sweep form (GET) and starting a sweep: one run per point (POST)."""
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    ticket = _ticket_or_404(board, number)
    hypotheses = _hypotheses(ticket)
    if request.method == "GET":
        form = SweepForm(hypotheses=hypotheses, trainer_ref=request.GET.get("trainer"))
        return _form_response(request, board, ticket, form, "sweep")
    form = SweepForm(request.POST, hypotheses=hypotheses)
    sweep = None
    if form.is_valid() and (spec := form.spec()) is not None:
        data = form.cleaned_data
        try:
            sweep = services.sweep_create(
                board=board, ticket_id=ticket.pk, actor=request.user, spec=spec, mode=data["mode"],
                space=data["space"], samples=data["samples"], metric=data["metric"], direction=data["direction"],
                hypothesis_id=data["hypothesis"],
            )
        except ValidationError as error:
            form.add_service_errors(error)
    if sweep is None:
        return _form_response(request, board, ticket, form, "sweep", status=422)
    count = sweep.jobs.count()
    if not request.htmx:
        messages.success(request, f"Started sweep {sweep.pk}: {count} runs.")
        return redirect("experiments:sweep", board_id=board.pk, sweep_id=sweep.pk)
    return _changed(_section(request, board, membership, ticket, notice=f"Sweep {sweep.pk} queued: {count} runs."),
                    f"Sweep {sweep.pk} queued: {count} runs.")


def _form_response(request, board, ticket, form, kind: str, status: int = 200):
    """The form alone into the card's form slot (htmx), or a page of its own."""
    standalone = not request.htmx or request.GET.get("page") == "1"
    context = {"board": board, "ticket": ticket, "form": form, "kind": kind, "standalone": standalone}
    if not request.htmx:
        return render(request, "experiments/form_page.html", context, status=status)
    response = render(request, f"experiments/_{kind}_form.html", context, status=status)
    if status == 422:  # the form posts to the whole section; its errors go back into the form's slot
        response = reswap(retarget(response, f"#runs-form-{ticket.pk}"), "innerHTML")
    return response


# --- cancel, retry, baseline ---------------------------------------------------------

def _refused(request, board, run_id, message: str, status: int):
    """The refusal, shown where the person clicked (the run's message slot)."""
    if request.htmx:
        response = HttpResponse(format_html('<span class="run-refused" role="alert">{}</span>', message),
                                status=status)
        return reswap(retarget(response, f"#run-msg-{run_id}"), "innerHTML")
    return render(request, "experiments/refused.html", {"board": board, "message": message,
                                                        "run_url": reverse("experiments:run", args=[board.pk, run_id])},
                  status=status)


def _after_run_action(request, board, membership, job: TrainingJob, message: str):
    """Back to where the button was: the run page, or the card's runs section."""
    on_page = request.POST.get("from") == "page"
    url = reverse("experiments:run", args=[board.pk, job.pk])
    if not request.htmx:
        messages.success(request, message)
        return redirect(url if on_page else reverse("board:ticket", args=[board.pk, job.ticket.number]))
    if on_page:
        messages.success(request, message)
        return _changed(HttpResponseClientRedirect(url))
    return _changed(_section(request, board, membership, job.ticket, notice=message), message)


@login_required
@require_POST
def run_cancel(request, board_id, run_id):
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    try:
        job = services.job_cancel(board=board, job_id=_id(run_id), actor=request.user)
    except TrainingJob.DoesNotExist as missing:
        raise Http404(str(missing)) from None
    except services.JobRefused as refused:
        return _refused(request, board, run_id, str(refused), 409)
    return _after_run_action(request, board, membership, job, f"Cancelled {job.label}.")


@login_required
@require_POST
def run_retry(request, board_id, run_id):
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    try:
        job = services.job_retry(board=board, job_id=_id(run_id), actor=request.user)
    except TrainingJob.DoesNotExist as missing:
        raise Http404(str(missing)) from None
    except services.JobRefused as refused:
        return _refused(request, board, run_id, str(refused), 409)
    except ValidationError as error:  # the spec no longer holds: a trainer removed from the allowlist, …
        return _refused(request, board, run_id, " ".join(error.messages), 422)
    job = TrainingJob.objects.select_related("ticket").get(pk=job.pk)
    return _after_run_action(request, board, membership, job, f"Retrying run {run_id} as {job.label}.")


@login_required
@require_POST
def run_baseline(request, board_id, run_id):
    """Use this run's final value of a hypothesis's metric as that hypothesis's baseline."""
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    job = _run_or_404(board, run_id)
    form = BaselineForm(request.POST)
    error = ""
    hypothesis = None
    if not form.is_valid():
        error = "Choose the hypothesis whose baseline this run sets."
    else:
        hypothesis = Hypothesis.objects.filter(pk=form.cleaned_data["hypothesis"], ticket_id=job.ticket_id).first()
        if hypothesis is None:
            error = "That hypothesis is not on this run's card."
        elif not isinstance((job.final_metrics or {}).get(hypothesis.metric), int | float):
            error = (f"{job.label} has no final value of {hypothesis.metric}, the metric of this hypothesis: "
                     "pick a run that logged it.")
    if not error:
        try:
            board_results.hypothesis_set_baseline(
                board=board, hypothesis_id=hypothesis.pk, actor=request.user,
                baseline=job.final_metrics[hypothesis.metric], baseline_run=job.pk,
            )
        except ValidationError as refused:
            error = " ".join(refused.messages)
    if error:
        if request.htmx:
            return reswap(retarget(HttpResponse(format_html('<span class="run-refused" role="alert">{}</span>', error),
                                                status=422), "#baseline-msg"), "innerHTML")
        return render(request, "experiments/run.html", _run_context(request, board, membership, job,
                                                                     baseline_error=error), status=422)
    message = f"Baseline of “{hypothesis.statement}” set to {job.label}'s {hypothesis.metric}."
    messages.success(request, message)
    url = reverse("experiments:run", args=[board.pk, job.pk])
    return _changed(HttpResponseClientRedirect(url)) if request.htmx else redirect(url)


# --- the run page, its metrics and artifacts ----------------------------------------

def _run_context(request, board, membership, job, **extra) -> dict:
    return {"board": board, "ticket": job.ticket, "run": job, "can_edit": can(membership, WRITE_CARDS),
            "key_metric": selectors.key_metric(job), **selectors.run_page(job), **extra}


@login_required
@require_GET
def run_page(request, board_id, run_id):
    """A run: parameters, curves, artifacts, log, timings, versions. ?part=state
    is its state alone, polled every 2 s while it is active; when it ends the
    page reloads to show the results."""
    board, membership = board_for(request.user, board_id, needs=READ)
    job = _run_or_404(board, run_id)
    if request.GET.get("part") == "state" and request.htmx:
        if request.GET.get("was") == "active" and not job.is_active:
            return HttpResponseClientRefresh()
        return render(request, "experiments/run.html#state",
                      {"board": board, "run": job, "key_metric": selectors.key_metric(job)})
    return render(request, "experiments/run.html", _run_context(request, board, membership, job))


@login_required
@require_GET
def run_metrics(request, board_id, run_id):
    """The run's curves as JSON, at most METRIC_POINTS_MAX points a key (three queries)."""
    board, _ = board_for(request.user, board_id, needs=READ)
    run_id = _id(run_id)
    if not TrainingJob.objects.filter(pk=run_id, board=board).exists():
        return JsonResponse({"detail": "No such run on this board."}, status=404)
    return JsonResponse(selectors.run_metrics(run_id))


@login_required
@require_GET
def artifact(request, board_id, run_id, artifact_id):
    """An artifact's file, to members of the board only. Images of the usual
    kinds are shown inline; everything else (svg included: it can carry
    script) is a download, sandboxed and never sniffed."""
    board, _ = board_for(request.user, board_id, needs=READ)
    try:
        item = Artifact.objects.get(pk=_id(artifact_id), job_id=_id(run_id), job__board=board)
    except Artifact.DoesNotExist:
        raise Http404("No such artifact.") from None
    try:
        handle = item.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("The file of this artifact is missing.") from None
    image_type = selectors.artifact_image_type(item)
    filename = PurePosixPath(item.file.name).name or "artifact"
    response = FileResponse(handle, as_attachment=image_type is None, filename=filename,
                            content_type=image_type or "application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- compare and sweeps ---------------------------------------------------------------

@login_required
@require_GET
def compare(request, board_id, number):
    """Runs of a card side by side: ?runs=1,2,3 (or runs=1&runs=2), at most 20."""
    board, membership = board_for(request.user, board_id, needs=READ)
    ticket = _ticket_or_404(board, number)
    context = {"board": board, "ticket": ticket}
    try:
        ids = selectors.parse_run_ids(request.GET.getlist("runs"))
        context.update(selectors.compare_runs(ticket, ids))
    except selectors.CompareRefused as refused:
        return render(request, "experiments/compare.html", {**context, "error": str(refused)}, status=400)
    except TrainingJob.DoesNotExist as missing:
        return render(request, "experiments/compare.html", {**context, "error": str(missing)}, status=404)
    return render(request, "experiments/compare.html", context)


@login_required
@require_GET
def sweep_page(request, board_id, sweep_id):
    """A sweep: its space, its runs, the best one; ?part=runs is the runs alone (polled while active)."""
    board, membership = board_for(request.user, board_id, needs=READ)
    try:
        sweep = selectors.sweep_for(board, _id(sweep_id))
    except Sweep.DoesNotExist as missing:
        raise Http404(str(missing)) from None
    context = {"board": board, "ticket": sweep.ticket, "sweep": sweep, **selectors.sweep_page(sweep)}
    template = "experiments/sweep.html"
    if request.GET.get("part") == "runs" and request.htmx:
        if request.GET.get("was") == "active" and not context["active"]:
            return HttpResponseClientRefresh()
        template += "#runs"
    return render(request, template, context)
