from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    """Training jobs, runs, metrics and artifacts; depends on board, never the reverse."""

    name = "experiments"
    default_auto_field = "django.db.models.BigAutoField"
