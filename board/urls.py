from django.urls import path

from . import hypothesis_views, sprint_views, views
from .chart_views import reports
from .standup_views import standup

app_name = "board"

urlpatterns = [
    path("", views.index, name="index"),
    path("invitations/<int:invitation_id>/accept/", views.invitation_accept, name="invitation-accept"),
    path("invitations/<int:invitation_id>/decline/", views.invitation_decline, name="invitation-decline"),
    path("b/<int:board_id>/", views.board_detail, name="detail"),
    path("b/<int:board_id>/poll/", views.board_poll, name="poll"),
    path("b/<int:board_id>/move/", views.ticket_move, name="ticket-move"),
    path("b/<int:board_id>/tickets/new/", views.ticket_create, name="ticket-create"),
    path("b/<int:board_id>/columns/<int:column_id>/more/", views.column_more, name="column-more"),
    path("b/<int:board_id>/t/<int:number>/", views.ticket_detail, name="ticket"),
    path("b/<int:board_id>/t/<int:number>/fields/<slug:part>/", views.ticket_field, name="ticket-field"),
    path("b/<int:board_id>/t/<int:number>/comments/", views.comment_add, name="comment-add"),
    path("b/<int:board_id>/t/<int:number>/archive/", views.ticket_archive, name="ticket-archive"),
    path("b/<int:board_id>/t/<int:number>/restore/", views.ticket_archive, {"restore": True}, name="ticket-restore"),
    path("b/<int:board_id>/t/<int:number>/delete/", views.ticket_delete, name="ticket-delete"),
    path("b/<int:board_id>/t/<int:number>/hypotheses/", hypothesis_views.hypothesis_create, name="hypothesis-create"),
    path("b/<int:board_id>/hypotheses/<int:hypothesis_id>/override/", hypothesis_views.hypothesis_override,
         name="hypothesis-override"),
    path("b/<int:board_id>/hypotheses/<int:hypothesis_id>/delete/", hypothesis_views.hypothesis_delete,
         name="hypothesis-delete"),
    path("b/<int:board_id>/standup/", standup, name="standup"),
    path("b/<int:board_id>/sprints/", sprint_views.sprint_list, name="sprints"),
    path("b/<int:board_id>/sprints/<int:sprint_id>/", sprint_views.sprint_detail, name="sprint"),
    path("b/<int:board_id>/sprints/<int:sprint_id>/start/", sprint_views.sprint_start, name="sprint-start"),
    path("b/<int:board_id>/sprints/<int:sprint_id>/close/", sprint_views.sprint_close, name="sprint-close"),
    path("b/<int:board_id>/sprints/<int:sprint_id>/plan/", sprint_views.sprint_plan, name="sprint-plan"),
    path("b/<int:board_id>/reports/", reports, name="reports"),
    path("b/<int:board_id>/settings/", views.board_settings, name="settings"),
    path("b/<int:board_id>/settings/<slug:action>/", views.board_settings_action, name="settings-action"),
    path("b/<int:board_id>/settings/<slug:action>/<int:item_id>/", views.board_settings_action, name="settings-item"),
]
