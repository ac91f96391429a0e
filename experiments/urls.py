"""The web pages of training runs, under a board (the API has its own urls)."""

from django.urls import path

from . import views

app_name = "experiments"

urlpatterns = [
    path("b/<int:board_id>/t/<int:number>/runs/", views.ticket_runs, name="ticket-runs"),
    path("b/<int:board_id>/t/<int:number>/runs/new/", views.run_create, name="run-create"),
    path("b/<int:board_id>/t/<int:number>/sweeps/new/", views.sweep_create, name="sweep-create"),
    path("b/<int:board_id>/t/<int:number>/compare/", views.compare, name="compare"),
    path("b/<int:board_id>/runs/<int:run_id>/", views.run_page, name="run"),
    path("b/<int:board_id>/runs/<int:run_id>/cancel/", views.run_cancel, name="run-cancel"),
    path("b/<int:board_id>/runs/<int:run_id>/retry/", views.run_retry, name="run-retry"),
    path("b/<int:board_id>/runs/<int:run_id>/baseline/", views.run_baseline, name="run-baseline"),
    path("b/<int:board_id>/runs/<int:run_id>/metrics/", views.run_metrics, name="run-metrics"),
    path("b/<int:board_id>/runs/<int:run_id>/artifacts/<int:artifact_id>/", views.artifact, name="artifact"),
    path("b/<int:board_id>/sweeps/<int:sweep_id>/", views.sweep_page, name="sweep"),
]
