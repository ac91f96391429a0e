"""The Django admin, with no side doors: every change to a ticket goes through
board.services (history reads "Ana (Admin)"), and history is read-only."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db import transaction

from . import services
from .forms import AdminUserChangeForm, AdminUserCreationForm
from .models import (
    Board,
    Column,
    Comment,
    Epic,
    EventSource,
    Invitation,
    Label,
    Membership,
    Sprint,
    Ticket,
    TicketEvent,
)

User = get_user_model()


def admin_writer(request) -> services.Writer:
    return services.Writer(request.user, EventSource.ADMIN)


class ServiceDeletes:
    """Deletions (one, or a bulk action) run with the admin as the writer, so
    the tickets they reach record it (board.signals)."""

    def delete_model(self, request, obj):
        with transaction.atomic(), services.writing_as(admin_writer(request)):
            obj.delete()

    def delete_queryset(self, request, queryset):
        with transaction.atomic(), services.writing_as(admin_writer(request)):
            for obj in queryset:
                obj.delete()


class ReadOnly:
    """Visible, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnly, admin.TabularInline):
    extra = 0
    can_delete = False


class MembershipInline(ReadOnlyInline):
    model = Membership
    fields = ["user", "role", "joined_at"]


class ColumnInline(ReadOnlyInline):
    model = Column
    fields = ["name", "position", "category", "wip_limit"]


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "template", "wip_mode", "version", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline, ColumnInline]
    readonly_fields = ["version", "layout_version", "ticket_seq", "template"]
    fields = ["name", "key", "wip_mode", "template", "version", "layout_version", "ticket_seq", "created_at"]

    def has_add_permission(self, request):
        return False  # boards are created on the site, with their owner and columns

    def has_delete_permission(self, request, obj=None):
        return False  # a board's history is kept: nothing deletes it here

    def save_model(self, request, obj, form, change):
        services.board_update(board=obj, name=obj.name, wip_mode=obj.wip_mode, key=obj.key)


@admin.register(Membership)
class MembershipAdmin(ServiceDeletes, admin.ModelAdmin):
    list_display = ["board", "user", "role", "joined_at"]
    list_filter = ["role"]
    search_fields = ["board__name", "user__username"]
    readonly_fields = ["board", "user", "joined_at"]

    def has_add_permission(self, request):
        return False  # people join by accepting an invitation


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["board", "user", "role", "invited_by", "created_at"]
    readonly_fields = ["board", "user", "identifier", "role", "invited_by", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(Column)
class ColumnAdmin(admin.ModelAdmin):
    list_display = ["name", "board", "position", "category", "wip_limit"]
    list_filter = ["category"]
    fields = ["board", "name", "category", "wip_limit", "position"]
    readonly_fields = ["board", "position"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # its cards need a new column: the board's settings page asks for one

    def save_model(self, request, obj, form, change):
        # A re-categorised column re-stamps its cards with events (column_update).
        services.column_update(board=obj.board, column_id=obj.pk, name=obj.name, wip_limit=obj.wip_limit,
                               category=obj.category, actor=admin_writer(request))


class NamedAdmin(ServiceDeletes, admin.ModelAdmin):
    list_display = ["name", "board", "color"]
    readonly_fields = ["board"]

    def has_add_permission(self, request):
        return False


@admin.register(Label)
class LabelAdmin(NamedAdmin):
    pass


@admin.register(Epic)
class EpicAdmin(NamedAdmin):
    pass


@admin.register(Sprint)
class SprintAdmin(ServiceDeletes, admin.ModelAdmin):
    list_display = ["name", "board", "start", "end", "state"]
    list_filter = ["state"]
    readonly_fields = ["board"]

    def has_add_permission(self, request):
        return False


class CommentInline(ReadOnlyInline):
    model = Comment
    fields = ["author", "body", "created_at"]


def ticket_changes(form) -> dict:
    changes = {name: form.cleaned_data[name] for name in form.changed_data if name in services.TRACKED_FIELDS}
    if "labels" in changes:
        changes["labels"] = tuple(changes["labels"])
    return changes


class TicketAdminForm(forms.ModelForm):
    """Validated by the service's own rules, so the admin shows the same
    errors next to the same fields as the board does."""

    def clean(self):
        data = super().clean()
        if self.instance.pk and not self.errors:
            try:
                services.ticket_changes_check(ticket=self.instance, changes=ticket_changes(self))
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
        return data


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Edits and deletions go through the services, with the admin as writer."""

    list_display = ["__str__", "board", "column", "kind", "points", "assignee", "blocked", "archived_at"]
    list_filter = ["kind", "blocked", "board"]
    search_fields = ["title", "description"]
    list_select_related = ["board", "column", "assignee"]
    raw_id_fields = ["assignee", "epic", "sprint"]
    fields = [
        "board", "number", "column", "title", "description", "kind", "points", "assignee", "labels", "epic",
        "sprint", "timebox_days", "blocked", "blocked_reason", "archived_at", "rank", "version", "created_at",
    ]
    readonly_fields = ["board", "number", "column", "archived_at", "rank", "version", "created_at"]
    inlines = [CommentInline]
    form = TicketAdminForm

    def has_add_permission(self, request):
        return False  # cards are created on the board

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None:
            form.base_fields["labels"].queryset = obj.board.labels.all()
        return form

    def save_model(self, request, obj, form, change):
        saved = services.ticket_patch(board=obj.board, ticket_id=obj.pk, actor=admin_writer(request),
                                      changes=ticket_changes(form))
        obj.version = saved.version

    def save_related(self, request, form, formsets, change):
        # Labels went through the service in save_model (no form.save_m2m());
        # the comments inline is read-only, so saving it writes nothing.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        services.ticket_delete(board=obj.board, ticket_id=obj.pk, actor=admin_writer(request),
                               confirm=f"{obj.board.key}-{obj.number}")

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("board"):
            self.delete_model(request, obj)


@admin.register(TicketEvent)
class TicketEventAdmin(ReadOnly, admin.ModelAdmin):
    """History is append-only."""

    list_display = ["board", "ticket_id", "board_version", "field", "old_display", "new_display", "source", "actor",
                    "at"]
    list_filter = ["field", "source"]
    list_select_related = ["board", "actor"]


@admin.register(Comment)
class CommentAdmin(ReadOnly, admin.ModelAdmin):
    """Comments are written on the board, where each one is an event."""

    list_display = ["ticket", "author", "created_at"]
    list_select_related = ["ticket__board", "author"]


class UserAdminThroughServices(ServiceDeletes, UserAdmin):
    """Deleting a user unassigns their cards with an event each (board.signals).
    A new or changed username cannot contain "@" (board.forms.UsernameWithoutAt)."""

    form = AdminUserChangeForm
    add_form = AdminUserCreationForm


admin.site.unregister(User)
admin.site.register(User, UserAdminThroughServices)
