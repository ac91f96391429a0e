from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    """Training jobs, runs, metrics and artifacts; depends on board, never the reverse."""

    name = "experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The board asks for running jobs' strips through board.live; this app answers.
        from board import live

        from .selectors import LiveJobsFromDatabase

        live.register(LiveJobsFromDatabase())
        # The ticket modal loads the card's runs from this app's view.
        live.register_ticket_section(live.TicketSection("runs", "Training runs", "experiments:ticket-runs"))
