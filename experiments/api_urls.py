from django.urls import path

from . import api

app_name = "experiments_api"

urlpatterns = [
    path("trainers/", api.TrainerListApi.as_view(), name="trainers"),
    path("boards/<int:board_id>/runs/", api.RunListApi.as_view(), name="runs"),
    path("boards/<int:board_id>/runs/<int:run_id>/", api.RunDetailApi.as_view(), name="run"),
    path("boards/<int:board_id>/runs/<int:run_id>/cancel/", api.RunCancelApi.as_view(), name="run-cancel"),
    path("boards/<int:board_id>/runs/<int:run_id>/retry/", api.RunRetryApi.as_view(), name="run-retry"),
    path("boards/<int:board_id>/runs/<int:run_id>/metrics/", api.RunMetricsApi.as_view(), name="run-metrics"),
    path("boards/<int:board_id>/runs/<int:run_id>/artifacts/", api.RunArtifactsApi.as_view(), name="run-artifacts"),
    path("boards/<int:board_id>/sweeps/", api.SweepListApi.as_view(), name="sweeps"),
    path("boards/<int:board_id>/sweeps/<int:sweep_id>/", api.SweepDetailApi.as_view(), name="sweep"),
]
