from django.contrib import admin

from .models import Board, Column, Comment, Epic, Label, Membership, Sprint, Ticket, TicketEvent


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class ColumnInline(admin.TabularInline):
    model = Column
    extra = 0


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "template", "wip_mode", "version", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline, ColumnInline]
    readonly_fields = ["version", "layout_version", "ticket_seq"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["board", "user", "role", "joined_at"]
    list_filter = ["role"]
    search_fields = ["board__name", "user__username"]
    autocomplete_fields = ["user", "board"]


@admin.register(Column)
class ColumnAdmin(admin.ModelAdmin):
    list_display = ["name", "board", "position", "category", "wip_limit"]
    list_filter = ["category"]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "board", "color"]


@admin.register(Epic)
class EpicAdmin(admin.ModelAdmin):
    list_display = ["name", "board", "color"]


@admin.register(Sprint)
class SprintAdmin(admin.ModelAdmin):
    list_display = ["name", "board", "start", "end", "state"]
    list_filter = ["state"]


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["__str__", "board", "column", "kind", "points", "assignee", "blocked"]
    list_filter = ["kind", "blocked", "board"]
    search_fields = ["title", "description"]
    list_select_related = ["board", "column", "assignee"]
    raw_id_fields = ["column", "assignee", "epic", "sprint"]
    readonly_fields = ["rank", "version", "board_version"]
    inlines = [CommentInline]


@admin.register(TicketEvent)
class TicketEventAdmin(admin.ModelAdmin):
    """History is append-only: visible here, never editable."""

    list_display = ["ticket", "field", "old_display", "new_display", "actor", "at"]
    list_filter = ["field"]
    list_select_related = ["ticket__board", "actor"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["ticket", "author", "created_at"]
    list_select_related = ["ticket__board", "author"]
