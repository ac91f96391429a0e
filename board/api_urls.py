from django.urls import path

from . import api, api_charts

app_name = "api"

urlpatterns = [
    path("boards/", api.BoardListApi.as_view(), name="boards"),
    path("boards/<int:board_id>/", api.BoardDetailApi.as_view(), name="board"),
    path("boards/<int:board_id>/tickets/", api.TicketListApi.as_view(), name="tickets"),
    path("boards/<int:board_id>/tickets/<int:ticket_id>/", api.TicketDetailApi.as_view(), name="ticket"),
    path("boards/<int:board_id>/tickets/<int:ticket_id>/move/", api.TicketMoveApi.as_view(), name="ticket-move"),
    path("boards/<int:board_id>/tickets/<int:ticket_id>/hypotheses/", api.HypothesisListApi.as_view(),
         name="hypotheses"),
    path("boards/<int:board_id>/hypotheses/<int:hypothesis_id>/", api.HypothesisDetailApi.as_view(), name="hypothesis"),
    path("boards/<int:board_id>/sprints/<int:sprint_id>/burndown/", api_charts.SprintBurndownApi.as_view(),
         name="chart-burndown"),
    path("boards/<int:board_id>/sprints/<int:sprint_id>/forecast/", api_charts.SprintForecastApi.as_view(),
         name="chart-forecast"),
    path("boards/<int:board_id>/velocity/", api_charts.VelocityApi.as_view(), name="chart-velocity"),
    path("boards/<int:board_id>/cfd/", api_charts.CumulativeFlowApi.as_view(), name="chart-cfd"),
    path("boards/<int:board_id>/accuracy/", api_charts.AccuracyApi.as_view(), name="chart-accuracy"),
]
