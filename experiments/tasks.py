"""Celery tasks: thin, they load by id and call a service."""

from celery import shared_task

from . import services


@shared_task(bind=True, name="experiments.tasks.run_job", acks_late=True, reject_on_worker_lost=True)
def run_job(self, job_id: int) -> str:
    return services.job_run(int(job_id), worker=self.request.hostname or "", celery_id=self.request.id or "")


@shared_task(name="experiments.tasks.reap_jobs", ignore_result=True)
def reap_jobs() -> dict:
    return services.reap()
