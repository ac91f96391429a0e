import logging
import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlkanban.settings")

app = Celery("mlkanban")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


def ensure_broker_folders() -> None:
    """kombu's filesystem transport fails on missing folders; create them."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


ensure_broker_folders()


@worker_init.connect
def _create_broker_folders(**_):
    ensure_broker_folders()


@worker_process_init.connect
def _warm_trainer_runtime(**_):
    """Start the trainers' fork server (Python + scikit-learn preloaded, ~2 s)
    before the first job needs it; warm() returns at once (Celery kills a pool
    process whose init takes longer than 4 s)."""
    from experiments import runner

    runner.warm()


def tasks_outliving_visibility_timeout(celery_app: Celery = app) -> list[str]:
    """Registered tasks whose time limit reaches the broker's visibility timeout.

    With late acks on Redis such a task is handed to a second worker while the
    first still runs it. Settings check the global time limit at start-up;
    this catches a task that sets a longer time_limit of its own.
    """
    visibility = (celery_app.conf.broker_transport_options or {}).get("visibility_timeout")
    if not visibility:
        return []
    conf = celery_app.conf
    return sorted(
        name for name, task in celery_app.tasks.items()
        if max(task.time_limit or conf.task_time_limit or 0, task.soft_time_limit or conf.task_soft_time_limit or 0)
        >= visibility
    )


@worker_ready.connect
def _warn_about_tasks_outliving_visibility_timeout(sender=None, **_):
    celery_app = getattr(sender, "app", app)
    names = tasks_outliving_visibility_timeout(celery_app)
    if names:
        logger.error(
            "These tasks' time limits reach the broker's visibility_timeout (%s s), so Redis would run them "
            "twice: %s. Raise CELERY_VISIBILITY_TIMEOUT.",
            celery_app.conf.broker_transport_options["visibility_timeout"], ", ".join(names),
        )
