"""Forms validate what users type; services enforce the rules again."""

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.db.models import Q
from django.utils.html import format_html, format_html_join

from .models import Board, Column, Hypothesis, Membership, Ticket
from .services import TRACKED_FIELDS, TicketInput
from .timezones import time_zone_names

User = get_user_model()


class BoardCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    template = forms.ChoiceField(choices=Board.Template.choices, initial=Board.Template.ML_SPRINT,
                                 label="Workflow")
    key = forms.CharField(max_length=8, initial="MLK", label="Ticket prefix")


class TimeZoneInput(forms.TextInput):
    """A text input with the IANA names as suggestions (a <datalist>): typing
    "Berlin" offers "Europe/Berlin"."""

    def __init__(self, attrs=None):
        super().__init__({"list": "time-zone-names", "autocomplete": "off", "spellcheck": "false", **(attrs or {})})

    def render(self, name, value, attrs=None, renderer=None):
        options = format_html_join("", '<option value="{}">', ((tz,) for tz in time_zone_names()))
        return format_html('{}<datalist id="time-zone-names">{}</datalist>',
                           super().render(name, value, attrs, renderer), options)


class BoardSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    key = forms.CharField(max_length=8, label="Ticket prefix")
    wip_mode = forms.ChoiceField(choices=Board.WipMode.choices, label="WIP limits")
    time_zone = forms.CharField(
        max_length=64, required=False, label="Time zone", widget=TimeZoneInput,
        help_text=f"Where the board's days begin, for charts and the standup, e.g. Europe/Berlin. "
                  f"Empty: the server's ({settings.TIME_ZONE}).",
    )

    def clean_time_zone(self):
        name = self.cleaned_data["time_zone"].strip()
        if name and name not in time_zone_names():
            raise forms.ValidationError("Unknown time zone: choose a name from the list, e.g. Europe/Berlin.")
        return name


class TicketQuickAddForm(forms.Form):
    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Ticket.Kind.choices, initial=Ticket.Kind.STORY)
    column = forms.IntegerField(required=False)


class BoundedIdsMultipleChoiceField(forms.ModelMultipleChoiceField):
    """An id beyond 64 bits is an invalid choice, not an OverflowError in the
    database driver (SQLite raises one for pk__in with such a number)."""

    def _check_values(self, value):
        for item in value:
            text = str(item).strip()
            if text.isascii() and text.lstrip("-").isdigit() and not 0 < int(text) < 2**63:
                raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice",
                                            params={"value": text[:30]})
        return super()._check_values(value)


class TicketForm(forms.Form):
    """The card editor. Relation choices are limited to the card's board."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=50_000,
                                  widget=forms.Textarea(attrs={"rows": 6}),
                                  help_text="Markdown. Raw HTML is removed.")
    kind = forms.ChoiceField(choices=Ticket.Kind.choices)
    points = forms.IntegerField(required=False, min_value=0, max_value=100)
    assignee = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    labels = BoundedIdsMultipleChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple)
    epic = forms.ModelChoiceField(queryset=None, required=False)
    sprint = forms.ModelChoiceField(queryset=None, required=False)
    timebox_days = forms.IntegerField(min_value=1, max_value=30, initial=3, label="Timebox (days)")
    blocked = forms.BooleanField(required=False)
    blocked_reason = forms.CharField(required=False, max_length=200, label="Blocked because")

    def __init__(self, *args, board: Board, ticket: Ticket | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # A card keeps an assignee who left the board: offer them, so the form
        # can be saved unchanged (services validate only what changes).
        people = Q(memberships__board=board)
        if ticket is not None and ticket.assignee_id:
            people |= Q(pk=ticket.assignee_id)
        self.fields["assignee"].queryset = User.objects.filter(people).distinct().order_by("username")
        members = set(Membership.objects.filter(board=board).values_list("user_id", flat=True))
        self.fields["assignee"].label_from_instance = lambda u: (u.get_full_name() or u.get_username()) + (
            "" if u.pk in members else " (left the board)"
        )
        self.fields["labels"].queryset = board.labels.all()
        self.fields["epic"].queryset = board.epics.all()
        self.fields["sprint"].queryset = board.sprints.all()
        for name, empty in (("assignee", "Nobody"), ("epic", "No epic"), ("sprint", "No sprint")):
            self.fields[name].empty_label = empty

    def clean(self):
        data = super().clean()
        if data.get("blocked") and not (data.get("blocked_reason") or "").strip():
            self.add_error("blocked_reason", "Say what blocks the ticket.")
        return data

    def to_input(self) -> TicketInput:
        d = self.cleaned_data
        return TicketInput(**{name: d[name] for name in TRACKED_FIELDS if name != "labels"}, labels=tuple(d["labels"]))

    @staticmethod
    def initial_for(ticket: Ticket) -> dict:
        return {"version": ticket.version, **TicketInput.from_ticket(ticket).as_changes()}


# The card modal saves one part at a time (views.ticket_field): each part is
# a group of TicketForm's fields, so a part validates exactly as the whole form.
TICKET_FIELD_GROUPS = {
    "title": ("title",), "description": ("description",), "kind": ("kind",), "points": ("points",),
    "assignee": ("assignee",), "labels": ("labels",), "epic": ("epic",), "sprint": ("sprint",),
    "timebox_days": ("timebox_days",), "blocked": ("blocked", "blocked_reason"),
}


class TicketFieldForm(TicketForm):
    """One part of the card (TICKET_FIELD_GROUPS). The title and description
    carry the version their editor opened at, so a save over someone else's
    edit is refused; a side-panel field is one value set on purpose, saved as
    the latest (as Jira and Linear do), so quick changes to several fields
    never refuse each other."""

    VERSIONED = ("title", "description")

    def __init__(self, *args, part: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.part = part
        keep = {*TICKET_FIELD_GROUPS[part], *(("version",) if part in self.VERSIONED else ())}
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]

    def to_changes(self) -> dict:
        d = self.cleaned_data
        return {name: tuple(d[name]) if name == "labels" else d[name] for name in TICKET_FIELD_GROUPS[self.part]}


class MoveForm(forms.Form):
    """One move: the card, the version the client saw, where it goes."""

    ticket = forms.IntegerField(min_value=1, max_value=2**62)
    version = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    column = forms.IntegerField(min_value=1, max_value=2**62)
    after = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    before = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    position = forms.ChoiceField(required=False, choices=[(p, p) for p in ("", "top", "bottom", "up", "down")])


class CommentForm(forms.Form):
    body = forms.CharField(max_length=20_000, widget=forms.Textarea(attrs={"rows": 3}),
                           label="Comment", help_text="Markdown.")


class HypothesisForm(forms.Form):
    """A claim the card's runs test; services.results checks it again."""

    statement = forms.CharField(max_length=300, widget=forms.TextInput(
        attrs={"placeholder": "Gradient boosting lifts ROC AUC on churn above 0.93"}))
    metric = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "roc_auc"}),
                             help_text="The metric a run logs, e.g. roc_auc, accuracy, f1, loss.")
    direction = forms.ChoiceField(choices=Hypothesis.Direction.choices, initial=Hypothesis.Direction.HIGHER,
                                  label="Better is")
    target = forms.FloatField(help_text="The value the metric must reach.")
    baseline = forms.FloatField(required=False, help_text="Optional: the value to beat today.")
    baseline_run = forms.IntegerField(required=False, min_value=1, max_value=2**62, label="Baseline from run",
                                      help_text="Optional: the number of the run the baseline comes from.")


class HypothesisOverrideForm(forms.Form):
    """A person decides a hypothesis; an empty status hands it back to the runs."""

    status = forms.ChoiceField(required=False, label="Status",
                               choices=[("", "As the runs say"), *Hypothesis.Status.choices])
    reason = forms.CharField(required=False, max_length=500, label="Why")


class RunMovesForm(forms.Form):
    """Owners: where a card goes when a training run on it ends (column ids;
    empty: it stays put). services.board_set_run_moves checks the columns."""

    on_success = forms.IntegerField(required=False, min_value=1, max_value=2**62, widget=forms.Select,
                                    label="On success, move the card to")
    on_failure = forms.IntegerField(required=False, min_value=1, max_value=2**62, widget=forms.Select,
                                    label="On failure, move the card to",
                                    help_text="Only cards in an “in progress” column move; a hard WIP limit "
                                              "leaves the card where it is and its history says so.")

    def offer_columns(self, board: Board) -> None:
        choices = [("", "Stay put"), *((c.pk, c.name) for c in board.columns.order_by("position"))]
        for name in ("on_success", "on_failure"):
            self.fields[name].widget.choices = choices


class ColumnForm(forms.Form):
    name = forms.CharField(max_length=60)
    wip_limit = forms.IntegerField(required=False, min_value=1, max_value=10_000, label="WIP limit")
    category = forms.ChoiceField(choices=Column.Category.choices, initial=Column.Category.IN_PROGRESS, label="Stage")


class TicketDeleteForm(forms.Form):
    confirm = forms.CharField(max_length=20, label="Type the card's key to confirm")


class ColumnDeleteForm(forms.Form):
    move_to = forms.IntegerField(required=False, min_value=1, max_value=2**62)


class MemberAddForm(forms.Form):
    """Invite someone (services.invitation_create): they join when they accept."""

    identifier = forms.CharField(
        max_length=254, label="Username or email",
        help_text="An email address matches only an account's email, anything else only a username.",
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class LabelForm(forms.Form):
    name = forms.CharField(max_length=40)
    color = forms.CharField(max_length=7, initial="#1f7a8c", widget=forms.TextInput(attrs={"type": "color"}))


class EpicForm(LabelForm):
    name = forms.CharField(max_length=80)


class SprintForm(forms.Form):
    name = forms.CharField(max_length=80)
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    goal = forms.CharField(required=False, max_length=2000)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The sprint ends before it starts.")
        return data


USERNAME_WITH_AT = (
    "A username cannot contain “@”: people are invited by username or by email address, "
    "and a username must not look like an email address."
)
USERNAME_HELP = "Letters, digits and . + - _ only (no @). 150 characters or fewer."


class UsernameWithoutAt:
    """Usernames cannot look like email addresses: an invitation to
    “newhire@corp.example” must reach the owner of that address, never an
    account named so. (A form mixin, not a model change: an existing
    account keeps its username until someone edits it.)"""

    def clean_username(self):
        parent = getattr(super(), "clean_username", None)
        username = parent() if parent else self.cleaned_data.get("username")
        unchanged = self.instance.pk is not None and username == self.instance.get_username()
        if username and "@" in username and not unchanged:
            raise forms.ValidationError(USERNAME_WITH_AT, code="username_with_at")
        return username


class AdminUserCreationForm(UsernameWithoutAt, auth_forms.AdminUserCreationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].help_text = USERNAME_HELP


class AdminUserChangeForm(UsernameWithoutAt, auth_forms.UserChangeForm):
    pass


class SignupForm(UsernameWithoutAt, UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].help_text = USERNAME_HELP

    def clean_email(self):
        email = self.cleaned_data["email"]
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email exists already.")
        return email
