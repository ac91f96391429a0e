"""Thin views: check the role, call a selector or a service, render.

Status codes the front end relies on: 422 for invalid input (htmx is
configured to swap it, so errors show next to the field), 409 for a stale
version, 403 for a role that is too low, 404 for boards you are not on.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from . import live, selectors, services
from .cards import CardRenderer
from .filter_bar import filter_bar
from .forms import (
    TICKET_FIELD_GROUPS,
    BoardCreateForm,
    BoardSettingsForm,
    ColumnDeleteForm,
    ColumnForm,
    CommentForm,
    EpicForm,
    HypothesisForm,
    LabelForm,
    MemberAddForm,
    MoveForm,
    RoleForm,
    RunMovesForm,
    SignupForm,
    SprintForm,
    TicketDeleteForm,
    TicketFieldForm,
    TicketForm,
    TicketQuickAddForm,
)
from .models import Column, Membership, Ticket
from .permissions import ADMIN, READ, WRITE_CARDS, board_for, can
from .services.boards import board_set_run_moves


def _errors_to_form(form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


def _error_text(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return " ".join(m for msgs in error.message_dict.values() for m in msgs)
    return " ".join(error.messages)


def _toast(response, message: str, level: str = "info"):
    return trigger_client_event(response, "mk:toast", {"message": message, "level": level})


def _lanes(request) -> str:
    lanes = request.GET.get("lanes", "")
    return lanes if lanes in selectors.SWIMLANES else ""


# --- accounts --------------------------------------------------------------

class LoginView(auth_views.LoginView):
    """Django's login, answering a wrong password with 422 like every other form."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 422
        return response


@require_http_methods(["GET", "POST"])
def signup(request):
    if not settings.ALLOW_SIGNUP:
        raise Http404("Sign-up is turned off on this installation.")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="mlkanban.auth.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}. Create a board or ask an owner to invite you.")
        return redirect("board:index")
    return render(request, "registration/signup.html", {"form": form}, status=422 if form.errors else 200)


# --- boards ----------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def index(request):
    form = BoardCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            board = services.board_create(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            return redirect("board:detail", board_id=board.pk)
    return _index_page(request, form, status=422 if form.errors else 200)


def _index_page(request, form=None, *, status=200, invitation_error=""):
    return render(request, "board/index.html", {
        "boards": selectors.board_list_for_user(request.user), "form": form or BoardCreateForm(),
        "invitations": selectors.invitations_for_user(request.user), "invitation_error": invitation_error,
    }, status=status)


INVITATION_GONE = "This invitation is not open any more: it was cancelled or answered, or its board was deleted."


@login_required
@require_POST
def invitation_accept(request, invitation_id):
    """The invitee joins the board; anyone else (or a closed invitation) gets 404."""
    try:
        membership = services.invitation_accept(invitation_id=invitation_id, user=request.user)
    except ObjectDoesNotExist:
        return _index_page(request, status=404, invitation_error=INVITATION_GONE)
    messages.success(request, f"You joined {membership.board.name} as {membership.get_role_display().lower()}.")
    return redirect("board:detail", board_id=membership.board_id)


@login_required
@require_POST
def invitation_decline(request, invitation_id):
    try:
        services.invitation_decline(invitation_id=invitation_id, user=request.user)
    except ObjectDoesNotExist:
        return _index_page(request, status=404, invitation_error=INVITATION_GONE)
    messages.success(request, "Invitation declined.")
    return redirect("board:index")


@login_required
@require_GET
def board_detail(request, board_id):
    board, membership = board_for(request.user, board_id)
    # A board with an active sprint opens on it (the sprints are read once, here).
    sprints = selectors.open_sprints(board)
    params = selectors.board_params(request.GET, sprints)
    filters = selectors.ticket_filter(board, params)
    lanes = _lanes(request)
    page = selectors.board_page(board, filters, lanes, sprints=sprints)
    return render(request, "board/board.html", {
        "page": page, "board": board, "membership": membership, "filters": filters, "lanes": lanes,
        "bar": filter_bar(filters, page, lanes),
        "can_edit": can(membership, WRITE_CARDS), "is_owner": can(membership, ADMIN),
        "qs": selectors.filter_querystring(params), "add_form": TicketQuickAddForm(),
        "poll_interval": settings.BOARD_POLL_INTERVAL_MS, "kinds": Ticket.Kind.choices,
        "pulse": selectors.pulse_version(board),
        "card_renderer": CardRenderer(board, page.lookups, can_edit=can(membership, WRITE_CARDS)),
    })


@login_required
@require_GET
def column_more(request, board_id, column_id):
    """The next page of a column, fetched when its sentinel scrolls into view."""
    board, membership = board_for(request.user, board_id)
    filters = selectors.ticket_filter(board, request.GET)
    try:
        column = board.columns.get(pk=column_id)
    except Column.DoesNotExist:
        raise Http404("No such column.") from None
    after = request.GET.get("after", "")
    # A rank key is base-62 (letters and digits, as RankField stores them): NUL
    # bytes and other text never reach the database.
    if after and not (len(after) <= Ticket._meta.get_field("rank").max_length and after.isascii() and after.isalnum()):
        return HttpResponse("`after` must be a card's rank key (letters and digits only).", status=400,
                            content_type="text/plain")
    lane_key = request.GET.get("lane", "")[:20]
    if lane_key not in ("", "none") and not (lane_key.isascii() and lane_key.isdigit() and int(lane_key) < 2**63):
        return HttpResponse("The lane must be a user or epic id, or none.", status=400, content_type="text/plain")
    cards, has_more = selectors.column_cards_after(board, filters, column.pk, after, _lanes(request), lane_key)
    return render(request, "board/_more.html", {
        "cards": cards, "has_more": has_more, "column": column, "board": board, "lane_key": lane_key,
        "qs": selectors.filter_querystring(request.GET), "can_edit": can(membership, WRITE_CARDS),
        "last_rank": cards[-1].rank if cards else after,
        "card_renderer": CardRenderer(board, selectors.card_lookups(board), can_edit=can(membership, WRITE_CARDS)),
    })


@login_required
@require_GET
def board_poll(request, board_id):
    """204 while the board is unchanged; otherwise the changed cards as HTML
    snippets with their place (column, lane, rank), so the client re-renders
    only those. A changed layout tells the client to reload."""
    board, membership = board_for(request.user, board_id)
    try:
        since = int(request.GET.get("v", ""))
    except ValueError:
        return HttpResponse("The board version must be a number.", status=400, content_type="text/plain")
    pulse = selectors.pulse_version(board)
    try:
        pulse_since = int(request.GET.get("p", pulse))
    except ValueError:
        pulse_since = -1
    if board.version == since and pulse == pulse_since:
        return HttpResponse(status=204)
    try:
        layout = int(request.GET.get("layout", board.layout_version))
    except ValueError:
        layout = -1
    if layout != board.layout_version:
        return JsonResponse({"version": board.version, "layout_version": board.layout_version, "reload": True})
    if board.version == since:
        # Only running jobs' progress moved: the strips alone (one more query).
        renderer = CardRenderer(board, selectors.CardLookups({}, {}, {}, live.jobs_by_ticket(board.pk)),
                                can_edit=False)
        return JsonResponse({
            "version": board.version, "layout_version": board.layout_version, "pulse": pulse, "reload": False,
            "cards": [], "gone": [], "jobs": renderer.live_strips(),
        })
    filters = selectors.ticket_filter(board, request.GET)
    changes = selectors.board_changes(board, since, filters)
    if changes is None:
        return JsonResponse({"version": board.version, "layout_version": board.layout_version, "reload": True})
    lane_field = selectors.lane_field_for(_lanes(request))
    renderer = CardRenderer(board, selectors.card_lookups(board), can_edit=can(membership, WRITE_CARDS))
    cards = []
    for card in changes.cards:
        cards.append({
            "id": card.pk, "column": card.column_id, "lane": selectors.lane_key(card, lane_field), "rank": card.rank,
            "html": renderer.render(card),
        })
    return JsonResponse({
        "version": changes.version, "layout_version": changes.layout_version, "pulse": pulse, "reload": False,
        "cards": cards, "gone": changes.gone, "counts": {str(k): v for k, v in changes.counts.items()},
        "points": {str(k): v for k, v in changes.points.items()}, "jobs": renderer.live_strips(),
    })


@login_required
@require_POST
def ticket_move(request, board_id):
    board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
    form = MoveForm(request.POST)
    if not form.is_valid():
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return HttpResponse(f"This move was not understood ({message}).", status=422, content_type="text/plain")
    d = form.cleaned_data
    try:
        result = services.ticket_move(
            board=board, actor=request.user, ticket_id=d["ticket"], expected_version=d["version"],
            to_column_id=d["column"], after_id=d["after"], before_id=d["before"], position=d["position"] or None,
        )
    except (services.Conflict, services.MoveRefused) as error:
        return _move_refused(request, board, str(error), 409)
    except ValidationError as error:
        return _move_refused(request, board, _error_text(error), 422)
    if not request.htmx:
        if result.warning:
            messages.warning(request, result.warning)
        return redirect(reverse("board:detail", args=[board.pk]))
    card = result.ticket
    people = {card.assignee_id: card.assignee} if card.assignee_id else {}
    lookups = selectors.CardLookups(people=people, epics={}, labels={}, live={})
    response = HttpResponse(CardRenderer(board, lookups, can_edit=True).render_moved(card))
    trigger_client_event(response, "mk:changed", {})
    if result.warning:
        _toast(response, result.warning, "warning")
    return response


def _move_refused(request, board, message, status):
    """htmx gets the reason as text (the card springs back and a toast shows
    it); a plain form post (the card page's move form) gets it as a message."""
    if request.htmx:
        return HttpResponse(message, status=status, content_type="text/plain")
    messages.error(request, message)
    return redirect(reverse("board:detail", args=[board.pk]))


@login_required
@require_POST
def ticket_create(request, board_id):
    board, _ = board_for(request.user, board_id, needs=WRITE_CARDS)
    form = TicketQuickAddForm(request.POST)
    column = None
    if form.is_valid() and form.cleaned_data.get("column"):
        column = board.columns.filter(pk=form.cleaned_data["column"]).first()
        if column is None:
            form.add_error("column", "That column is not on this board.")
    if not form.is_valid():
        message = " ".join(m for msgs in form.errors.values() for m in msgs)
        if request.htmx:
            response = HttpResponse(f"The card was not added: {message}", status=422, content_type="text/plain")
            return _toast(response, f"The card was not added: {message}", "error")
        messages.error(request, f"The card was not added: {message}")
        return redirect("board:detail", board_id=board.pk)
    data = services.TicketInput(title=form.cleaned_data["title"], kind=form.cleaned_data["kind"])
    try:
        ticket = services.ticket_create(board=board, actor=request.user, data=data, column=column)
    except (services.MoveRefused, ValidationError) as error:
        message = f"The card was not added: {error if isinstance(error, services.MoveRefused) else _error_text(error)}"
        if request.htmx:
            response = HttpResponse(message, status=409, content_type="text/plain")
            return _toast(response, message, "error")
        messages.error(request, message)
        return redirect("board:detail", board_id=board.pk)
    if request.htmx:
        response = HttpResponse(status=204)
        trigger_client_event(response, "mk:changed", {})
        return _toast(response, f"Added {ticket.key}.", "success")
    return redirect("board:detail", board_id=board.pk)


TEXT_PARTS = ("title", "description")  # edited in place at the top of the card; the rest in the side panel


def _ticket_or_404(board, number):
    try:
        return selectors.ticket_detail(board, int(number))
    except (Ticket.DoesNotExist, ValueError):
        raise Http404("No such card on this board.") from None


def _ticket_context(request, board, membership, ticket, form=None, comment_form=None, notice=""):
    can_edit = can(membership, WRITE_CARDS)
    if form is None and can_edit:  # viewers get the panel as text, no form (and no queries for its choices)
        form = TicketForm(initial=TicketForm.initial_for(ticket), board=board, ticket=ticket, auto_id="tf-%s")
    return {
        "board": board, "ticket": ticket, "membership": membership,
        "can_edit": can_edit, "form": form, "field_groups": TICKET_FIELD_GROUPS,
        "delete_form": TicketDeleteForm(), "is_owner": can(membership, ADMIN),
        "comment_form": comment_form or CommentForm(), "notice": notice,
        "columns": board.columns.all(), "activity": selectors.ticket_activity(ticket),
        "hypotheses": selectors.ticket_hypotheses(ticket), "hypothesis_form": HypothesisForm(),
        "ticket_sections": live.ticket_sections(board.pk, ticket.number),
    }


@login_required
@require_http_methods(["GET", "POST"])
def ticket_detail(request, board_id, number):
    """The card: a modal over the board with htmx, a page of its own without."""
    needs = WRITE_CARDS if request.method == "POST" else READ
    board, membership = board_for(request.user, board_id, needs=needs)
    ticket = _ticket_or_404(board, number)
    template = "board/_ticket_modal.html" if request.htmx else "board/ticket_page.html"
    if request.method == "GET":
        return render(request, template, _ticket_context(request, board, membership, ticket))

    form = TicketForm(request.POST, board=board, ticket=ticket, auto_id="tf-%s")
    if form.is_valid():
        try:
            services.ticket_update(
                ticket_id=ticket.pk, board=board, actor=request.user,
                expected_version=form.cleaned_data["version"], data=form.to_input(),
            )
        except services.Conflict as error:
            fresh = _ticket_or_404(board, number)
            context = _ticket_context(request, board, membership, fresh, notice=str(error))
            return render(request, template, context, status=409)
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            if not request.htmx:
                messages.success(request, f"Saved {ticket.key}.")
                return redirect("board:ticket", board_id=board.pk, number=ticket.number)
            fresh = _ticket_or_404(board, number)
            response = render(request, template, _ticket_context(request, board, membership, fresh, notice="Saved."))
            trigger_client_event(response, "mk:changed", {})
            return response
    return render(request, template, _ticket_context(request, board, membership, ticket, form=form), status=422)


@login_required
@require_http_methods(["GET", "POST"])
def ticket_field(request, board_id, number, part):
    """One part of the card in the modal (forms.TICKET_FIELD_GROUPS). GET
    answers the title or description as text, or with ?edit=1 as its editor
    (members); POST saves that part alone through services.ticket_patch and
    answers the part again, with the activity stream and the head's flags
    out of band. 422: the message next to the field, nothing saved; 409: the
    card changed meanwhile, the part shows the fresh version."""
    if part not in TICKET_FIELD_GROUPS:
        raise Http404("No such field.")
    editing = request.method == "POST" or request.GET.get("edit") == "1"
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS if editing else READ)
    ticket = _ticket_or_404(board, number)
    if request.method == "GET":
        if part not in TEXT_PARTS:
            raise Http404("Only the title and the description have an editor of their own.")
        context = _ticket_context(request, board, membership, ticket)
        return render(request, "board/_ticket_body.html#text-part", {**context, "part": part, "editing": editing})

    form = TicketFieldForm(request.POST, board=board, ticket=ticket, part=part, auto_id="tf-%s")
    status, notice = 422, ""
    if form.is_valid():
        try:
            services.ticket_patch(board=board, ticket_id=ticket.pk, actor=request.user,
                                  changes=form.to_changes(), expected_version=form.cleaned_data.get("version"))
        except services.Conflict as error:
            status, notice, form = 409, str(error), None
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            status, form = 200, None
    if not request.htmx:
        if status == 200:
            return redirect("board:ticket", board_id=board.pk, number=ticket.number)
        message = notice or _error_text(ValidationError(form.errors))
        return render(request, "board/ticket_page.html",
                      _ticket_context(request, board, membership, _ticket_or_404(board, number), notice=message),
                      status=status)
    if status != 422:
        ticket = _ticket_or_404(board, number)
    context = _ticket_context(request, board, membership, ticket, form=form)
    context.update(part=part, editing=status == 422 and part in TEXT_PARTS, part_notice=notice, oob=True,
                   saved=status == 200 and part not in TEXT_PARTS)
    response = render(request, "board/_ticket_body.html#saved", context, status=status)
    if status == 200:
        trigger_client_event(response, "mk:changed", {})
    return trigger_client_event(response, "mk:ticket-version", {"ticket": ticket.pk, "version": ticket.version})


@login_required
@require_POST
def comment_add(request, board_id, number):
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    ticket = _ticket_or_404(board, number)
    form = CommentForm(request.POST)
    status = 200
    if form.is_valid():
        try:
            services.comment_add(board=board, ticket_id=ticket.pk, author=request.user, body=form.cleaned_data["body"])
        except ValidationError as error:
            _errors_to_form(form, error)
            status = 422
        else:
            form = CommentForm()
            ticket = _ticket_or_404(board, number)
    else:
        status = 422
    if not request.htmx:
        if status == 200:
            return redirect("board:ticket", board_id=board.pk, number=ticket.number)
        return render(request, "board/ticket_page.html",
                      _ticket_context(request, board, membership, ticket, comment_form=form), status=status)
    response = render(request, "board/_comments.html",
                      _ticket_context(request, board, membership, ticket, comment_form=form), status=status)
    return trigger_client_event(response, "mk:changed", {}) if status == 200 else response


@login_required
@require_POST
def ticket_archive(request, board_id, number, restore=False):
    """Archive a card (members): off the board, kept in history and charts.
    The same view restores it."""
    board, membership = board_for(request.user, board_id, needs=WRITE_CARDS)
    ticket = _ticket_or_404(board, number)
    service = services.ticket_restore if restore else services.ticket_archive
    try:
        service(board=board, ticket_id=ticket.pk, actor=request.user)
    except services.MoveRefused as error:
        notice, status = str(error), 409
    else:
        notice, status = ("Restored to the board." if restore else "Archived: the card is off the board."), 200
    if not request.htmx:
        (messages.success if status == 200 else messages.error)(request, notice)
        return redirect("board:ticket", board_id=board.pk, number=ticket.number)
    fresh = _ticket_or_404(board, number)
    response = render(request, "board/_ticket_modal.html",
                      _ticket_context(request, board, membership, fresh, notice=notice), status=status)
    return trigger_client_event(response, "mk:changed", {}) if status == 200 else response


@login_required
@require_POST
def ticket_delete(request, board_id, number):
    """Delete a card for good (owners), after typing its key. History stays."""
    board, membership = board_for(request.user, board_id, needs=ADMIN)
    ticket = _ticket_or_404(board, number)
    form = TicketDeleteForm(request.POST)
    if form.is_valid():
        try:
            services.ticket_delete(board=board, ticket_id=ticket.pk, actor=request.user,
                                   confirm=form.cleaned_data["confirm"])
        except ValidationError as error:
            form.add_error("confirm", _error_text(error))
    if form.errors:
        template = "board/_ticket_modal.html" if request.htmx else "board/ticket_page.html"
        context = _ticket_context(request, board, membership, ticket)
        context["delete_form"] = form
        return render(request, template, context, status=422)
    message = f"Deleted {board.key}-{ticket.number} “{ticket.title}”. Its history is kept."
    messages.success(request, message)
    if request.htmx:
        return HttpResponseClientRedirect(reverse("board:detail", args=[board.pk]))
    return redirect("board:detail", board_id=board.pk)


# --- board settings (owners) -------------------------------------------------

SETTINGS_FORMS = {
    "board": BoardSettingsForm, "invite": MemberAddForm, "column_add": ColumnForm,
    "label_add": LabelForm, "epic_add": EpicForm, "sprint_add": SprintForm, "run_moves": RunMovesForm,
}


def _settings_auto_id(name: str) -> str:
    # Several forms on the page have a "name" field: each form's ids carry its
    # name (id_label_add_name), so every <label for> finds its own input.
    return f"id_{name}_%s"


def _settings_context(board, membership, bound=None, bound_name=None):
    initial = {
        "board": {"name": board.name, "key": board.key, "wip_mode": board.wip_mode, "time_zone": board.time_zone},
        "epic_add": {"color": "#7c3aed"},
        "run_moves": {"on_success": board.move_on_success_id, "on_failure": board.move_on_failure_id},
    }
    forms_ = {name: form_class(initial=initial.get(name), auto_id=_settings_auto_id(name))
              for name, form_class in SETTINGS_FORMS.items()}
    if bound is not None:
        forms_[bound_name] = bound
    forms_["run_moves"].offer_columns(board)  # a bound form too: the owner's choice shows again
    # In board order: with an aggregate, Django leaves out Meta.ordering (GROUP BY),
    # and a column moved left was listed where the database happened to put it.
    columns = list(board.columns.annotate(n_cards=Count("tickets")).order_by("position", "id"))
    counts = {c.pk: c.n_cards for c in columns}
    return {
        "board": board, "membership": membership, "forms": forms_, "columns": columns, "counts": counts,
        "members": board.memberships.select_related("user").order_by("user__username"),
        "invitations": selectors.board_invitations(board),
        "labels": board.labels.all(), "epics": board.epics.all(), "sprints": board.sprints.all(),
        "roles": Membership.Role.choices, "categories": Column.Category.choices,
        "is_owner": can(membership, ADMIN),
    }


@login_required
@require_GET
def board_settings(request, board_id):
    board, membership = board_for(request.user, board_id, needs=ADMIN)
    return render(request, "board/settings.html", _settings_context(board, membership))


@login_required
@require_POST
def board_settings_action(request, board_id, action, item_id=None):
    """Every owner action on the settings page: one service call each.

    Success redirects back with a message; invalid input re-renders the page
    with the error next to the form that was sent (422)."""
    board, membership = board_for(request.user, board_id, needs=ADMIN)
    form_class = SETTINGS_FORMS.get(action)
    form = form_class(request.POST, auto_id=_settings_auto_id(action)) if form_class else None
    if form_class is None and item_id is None:
        # Actions without a form of their own are about one item (a column, a
        # member, a label...): without its id in the URL there is nothing to act on.
        return HttpResponse("This action needs the id of the item it is about, in the URL.", status=404,
                            content_type="text/plain")
    if form is not None and not form.is_valid():
        context = _settings_context(board, membership, bound=form, bound_name=action)
        return render(request, "board/settings.html", context, status=422)
    try:
        message = _run_settings_action(request, board, action, item_id, form.cleaned_data if form else {})
    except ValidationError as error:
        if form is not None:
            _errors_to_form(form, error)
            context = _settings_context(board, membership, bound=form, bound_name=action)
        else:
            context = _settings_context(board, membership)
            # Shown next to the row the action was about (a column, a member, a label).
            context["action_error"] = _error_text(error)
            context["error_kind"] = action.split("_", 1)[0]
            context["error_id"] = item_id
        return render(request, "board/settings.html", context, status=422)
    except ObjectDoesNotExist:
        raise Http404("No such item on this board.") from None
    messages.success(request, message)
    return redirect("board:settings", board_id=board.pk)


def _int(value, field):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "Choose an item from the list."}) from None


def _run_settings_action(request, board, action, item_id, d) -> str:
    post = request.POST
    if action == "board":
        services.board_update(board=board, **d)
        return "Board settings saved."
    if action == "invite":
        # The message repeats what the owner typed: the account stays unnamed until it accepts.
        i = services.invitation_create(board=board, identifier=d["identifier"], role=d["role"], invited_by=request.user)
        return f"Invited “{i.identifier}” as {i.get_role_display().lower()}: they join when they accept."
    if action == "invite_cancel":
        services.invitation_cancel(board=board, invitation_id=item_id)
        return "Invitation cancelled."
    if action == "member_role":
        form = RoleForm(post)
        if not form.is_valid():
            raise ValidationError({"role": "Choose owner, member or viewer."})
        m = services.membership_change_role(board=board, membership_id=item_id, role=form.cleaned_data["role"])
        return f"{m.user.get_username()} is now {m.get_role_display().lower()}."
    if action == "member_remove":
        services.membership_remove(board=board, membership_id=item_id, actor=request.user)
        return "Member removed."
    if action == "column_add":
        c = services.column_create(board=board, **d)
        return f"Column “{c.name}” added."
    if action == "column_update":
        form = ColumnForm(post)
        if not form.is_valid():
            raise ValidationError({k: v for k, v in form.errors.items()})
        c = services.column_update(board=board, column_id=item_id, actor=request.user, **form.cleaned_data)
        return f"Column “{c.name}” saved."
    if action in ("column_left", "column_right"):
        services.column_shift(board=board, column_id=item_id, offset=-1 if action == "column_left" else 1)
        return "Column moved."
    if action == "column_delete":
        form = ColumnDeleteForm(post)
        if not form.is_valid():
            raise ValidationError({"move_to": "Choose where the cards go."})
        services.column_delete(board=board, column_id=item_id, actor=request.user,
                               move_to_id=form.cleaned_data["move_to"])
        return "Column deleted."
    if action == "label_add":
        services.label_create(board=board, **d)
        return "Label added."
    if action == "label_delete":
        services.label_delete(board=board, label_id=_int(item_id, "label"), actor=request.user)
        return "Label deleted."
    if action == "epic_add":
        services.epic_create(board=board, **d)
        return "Epic added."
    if action == "epic_delete":
        services.epic_delete(board=board, epic_id=_int(item_id, "epic"), actor=request.user)
        return "Epic deleted; its cards recorded that they left it."
    if action == "sprint_delete":
        services.sprint_delete(board=board, sprint_id=_int(item_id, "sprint"), actor=request.user)
        return "Sprint deleted; its cards recorded that they left it."
    if action == "sprint_add":
        services.sprint_create(board=board, **d)
        return "Sprint added."
    if action == "run_moves":
        board_set_run_moves(board=board, on_success_id=d["on_success"], on_failure_id=d["on_failure"])
        return "Saved where cards go when their training runs end."
    raise Http404("Unknown action.")

