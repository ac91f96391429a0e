from django.urls import path

from . import api

app_name = "api"

urlpatterns = [
    path("boards/", api.BoardListApi.as_view(), name="boards"),
    path("boards/<int:board_id>/", api.BoardDetailApi.as_view(), name="board"),
    path("boards/<int:board_id>/tickets/", api.TicketListApi.as_view(), name="tickets"),
    path("boards/<int:board_id>/tickets/<int:ticket_id>/", api.TicketDetailApi.as_view(), name="ticket"),
    path("boards/<int:board_id>/tickets/<int:ticket_id>/move/", api.TicketMoveApi.as_view(), name="ticket-move"),
]
