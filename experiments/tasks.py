"""Celery tasks: thin, they load by id and call a service.

Bound to mlkanban's app, not to whichever app is "current" (shared_task):
another Celery app made in the same process (a health probe, a test) must
never become the one that sends training jobs."""

from mlkanban.celery import app

from . import services


@app.task(bind=True, name="experiments.tasks.run_job", acks_late=True, reject_on_worker_lost=True)
def run_job(self, job_id: int) -> str:
    return services.job_run(int(job_id), worker=self.request.hostname or "", celery_id=self.request.id or "")


@app.task(name="experiments.tasks.reap_jobs", ignore_result=True)
def reap_jobs() -> dict:
    return services.reap()
