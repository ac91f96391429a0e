"""Forms validate what users type; services enforce the rules again."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from .models import Board, Column, Membership, Ticket
from .services import TicketInput

User = get_user_model()


class BoardCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    template = forms.ChoiceField(choices=Board.Template.choices, initial=Board.Template.ML_SPRINT,
                                 label="Workflow")
    key = forms.CharField(max_length=8, initial="MLK", label="Ticket prefix")


class BoardSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    key = forms.CharField(max_length=8, label="Ticket prefix")
    wip_mode = forms.ChoiceField(choices=Board.WipMode.choices, label="WIP limits")


class TicketQuickAddForm(forms.Form):
    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Ticket.Kind.choices, initial=Ticket.Kind.STORY)
    column = forms.IntegerField(required=False)


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
    labels = forms.ModelMultipleChoiceField(queryset=None, required=False,
                                            widget=forms.CheckboxSelectMultiple)
    epic = forms.ModelChoiceField(queryset=None, required=False)
    sprint = forms.ModelChoiceField(queryset=None, required=False)
    timebox_days = forms.IntegerField(min_value=1, max_value=30, initial=3, label="Timebox (days)")
    blocked = forms.BooleanField(required=False)
    blocked_reason = forms.CharField(required=False, max_length=200, label="Blocked because")

    def __init__(self, *args, board: Board, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = User.objects.filter(memberships__board=board).order_by("username")
        self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.get_username()
        self.fields["labels"].queryset = board.labels.all()
        self.fields["epic"].queryset = board.epics.all()
        self.fields["sprint"].queryset = board.sprints.all()

    def clean(self):
        data = super().clean()
        if data.get("blocked") and not (data.get("blocked_reason") or "").strip():
            self.add_error("blocked_reason", "Say what blocks the ticket.")
        return data

    def to_input(self) -> TicketInput:
        d = self.cleaned_data
        return TicketInput(
            title=d["title"], description=d["description"], kind=d["kind"], points=d["points"],
            assignee=d["assignee"], labels=tuple(d["labels"]), epic=d["epic"], sprint=d["sprint"],
            timebox_days=d["timebox_days"], blocked=d["blocked"], blocked_reason=d["blocked_reason"],
        )

    @staticmethod
    def initial_for(ticket: Ticket) -> dict:
        return {
            "version": ticket.version, "title": ticket.title, "description": ticket.description,
            "kind": ticket.kind, "points": ticket.points, "assignee": ticket.assignee_id,
            "labels": [label.pk for label in ticket.labels.all()], "epic": ticket.epic_id,
            "sprint": ticket.sprint_id, "timebox_days": ticket.timebox_days,
            "blocked": ticket.blocked, "blocked_reason": ticket.blocked_reason,
        }


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


class ColumnForm(forms.Form):
    name = forms.CharField(max_length=60)
    wip_limit = forms.IntegerField(required=False, min_value=1, max_value=10_000, label="WIP limit")
    category = forms.ChoiceField(choices=Column.Category.choices, initial=Column.Category.IN_PROGRESS, label="Stage")


class ColumnDeleteForm(forms.Form):
    move_to = forms.IntegerField(required=False, min_value=1, max_value=2**62)


class MemberAddForm(forms.Form):
    identifier = forms.CharField(max_length=254, label="Username or email")
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


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"]
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email exists already.")
        return email
