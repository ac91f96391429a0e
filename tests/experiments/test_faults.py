"""Faults on the real path, each ending in a true state: the trainer killed,
a pool process killed, the whole worker killed (a quiet trainer included),
the broker down when Run is clicked, a trainer that raises, hangs, outgrows
its memory cap or prints megabytes, and a task delivered twice.

The module's shared worker serves default and train; the tests that kill a
whole worker send their jobs to the gpu queue, served only by the workers
they start themselves.
"""

import os
import signal
import socket
import subprocess

import pytest
import redis

from board.models import TicketEvent
from experiments import services
from experiments.models import Metric
from mlkanban.celery import app
from tests.conftest import REQUIRE_SERVICES
from tests.experiments.conftest import LOST_AFTER_S, create_job, gone, ref, wait_for, wait_for_job

# Worker start-ups on a busy machine can take a while: more than the suite's 120 s per test.
pytestmark = [
    pytest.mark.usefixtures("job_settings"), pytest.mark.django_db(transaction=True), pytest.mark.timeout(300),
]

WORKER_QUEUES = ("default", "train")
KILLED_BY_SIGKILL = "the trainer process was killed by signal 9 (SIGKILL)"
REDIS_SERVER = "/usr/bin/redis-server"


def run_events(card) -> list[str]:
    return list(TicketEvent.objects.filter(ticket=card, field="run").order_by("id").values_list("new_display",
                                                                                                flat=True))


def running_with_progress(job) -> bool:
    return job.pid is not None and job.progress > 0


# --- the trainer or the worker killed ---------------------------------------------------

def test_a_trainer_killed_with_sigkill_fails_its_job_naming_the_signal(worker, board, card, bob):
    job = create_job(board, card, bob, "sleepy", params={"seconds": 60, "steps": 600})
    job = wait_for_job(job, ("running",), worker=worker, also=running_with_progress)

    os.kill(job.pid, signal.SIGKILL)

    job = wait_for_job(job, worker=worker)
    assert (job.state, job.error, job.exit_code) == ("failed", KILLED_BY_SIGKILL, -9)
    assert Metric.objects.filter(job=job, key="loss").exists()  # what it logged before is kept
    assert run_events(card) == [f"run {job.pk} failed: {KILLED_BY_SIGKILL}"]


def test_a_worker_killed_mid_job_has_its_job_requeued_by_the_reaper_and_finished_by_another(
    start_worker, board, card, bob
):
    doomed = start_worker("doomed", queues=("gpu",), concurrency=1)
    job = create_job(board, card, bob, "sleepy", params={"seconds": 4, "steps": 40}, queue="gpu")
    job = wait_for_job(job, ("running",), worker=doomed, also=running_with_progress)
    trainer_pid = job.pid

    doomed.kill()  # SIGKILL to its process group: main process, pool processes, fork servers
    rescuer = start_worker("rescuer", queues=("gpu",), concurrency=1, wait=False)  # starting meanwhile

    # nothing of the job runs on: the trainer goes with its worker
    wait_for(lambda: gone(trainer_pid), timeout=10, what=f"the orphaned trainer {trainer_pid} to exit")
    # no heartbeat for LOST_AFTER_S: the reaper (celery beat's task, called here) re-queues and re-sends it
    wait_for(lambda: services.reap()["requeued"], timeout=LOST_AFTER_S + 10, what="the reaper to re-queue the job")
    job.refresh_from_db()
    assert (job.state, job.attempts, job.dispatch_error) == ("queued", 1, "")
    assert job.error.startswith(f"Lost its worker {doomed.hostname}@")
    assert job.error.endswith(f"no heartbeat for {LOST_AFTER_S} s (attempt 1 of 3); re-queued")

    job = wait_for_job(job, worker=rescuer.wait_ready())

    assert (job.state, job.attempts, job.error) == ("succeeded", 2, "")
    assert job.worker.startswith(f"{rescuer.hostname}@")
    assert Metric.objects.filter(job=job, key="loss").count() == 40  # the lost attempt's points are gone
    assert run_events(card) == [f"run {job.pk} succeeded: accuracy 0.95, loss 0.025"]


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_a_pool_process_killed_mid_job_has_its_job_run_again_once(worker, board, card, bob):
    job = create_job(board, card, bob, "sleepy", params={"seconds": 4, "steps": 40})
    job = wait_for_job(job, ("running",), worker=worker, also=running_with_progress)
    trainer_pid = job.pid
    pool_process = parent_of(parent_of(trainer_pid))  # trainer ← its fork server ← the pool process

    os.kill(pool_process, signal.SIGKILL)

    wait_for(lambda: gone(trainer_pid), timeout=10, what=f"the trainer {trainer_pid} to exit with its pool process")
    # The task comes back (reject on worker lost) and finds its job still marked running: it claims nothing.
    # The heartbeat goes stale, and the reaper re-queues it.
    wait_for(lambda: services.reap()["requeued"], timeout=LOST_AFTER_S + 10, what="the reaper to re-queue the job",
             details=worker.output)
    job = wait_for_job(job, worker=worker)
    assert (job.state, job.attempts, job.error) == ("succeeded", 2, "")
    assert Metric.objects.filter(job=job, key="loss").count() == 40  # the lost attempt's points are gone
    assert run_events(card) == [f"run {job.pk} succeeded: accuracy 0.95, loss 0.025"]


def test_a_quiet_trainer_goes_down_with_its_killed_worker(start_worker, board, card, bob):
    doomed = start_worker("doomed-quiet", queues=("gpu",), concurrency=1)
    job = create_job(board, card, bob, "hangs", queue="gpu")  # never writes: no broken pipe tells it
    job = wait_for_job(job, ("running",), worker=doomed, also=lambda job: job.pid is not None)

    doomed.kill()

    wait_for(lambda: gone(job.pid), timeout=10, what=f"the quiet trainer {job.pid} to exit with its worker")


# --- the broker down when Run is clicked --------------------------------------------------

class RedisServer:
    """A redis-server of this test's own, on a port of its own, without persistence."""

    def __init__(self, directory):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def answers():
            assert self.process.poll() is None, "redis-server exited"
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        wait_for(answers, timeout=10, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path):
    if not os.path.exists(REDIS_SERVER):
        (pytest.fail if REQUIRE_SERVICES else pytest.skip)(f"{REDIS_SERVER} is missing: apt-get install redis-server")
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def test_a_run_clicked_while_the_broker_is_down_is_queued_and_completes_once_the_broker_is_back(
    client, board, card, bob, own_redis, broker_url, start_worker
):
    own_redis.start()
    broker_url(own_redis.url)
    own_redis.stop()
    client.force_login(bob)

    response = client.post(f"/b/{board.pk}/t/{card.number}/runs/new/", {
        "trainer": ref("sleepy"), "dataset": "iris", "param_seconds": "0.5", "param_steps": "5",
        "param_score": "0.95", "timeout_s": "60", "memory_mb": "512", "queue": "train", "hypothesis": "",
    })

    assert response.status_code == 302, response.content.decode()[:2000]
    job = card.training_jobs.get()
    assert (job.state, job.dispatched_at) == ("queued", None)
    assert job.dispatch_error == "Waiting for the broker (OperationalError); it will be sent when it is back."

    own_redis.start()  # the same port, empty: the message never got there
    wait_for(lambda: services.reap()["dispatched"], timeout=10, what="the outbox sweep to send the job")
    job.refresh_from_db()
    assert job.dispatched_at is not None and job.dispatch_error == ""
    after_outage = start_worker("after-outage", concurrency=1, CELERY_BROKER_URL=own_redis.url)

    job = wait_for_job(job, worker=after_outage)
    assert (job.state, job.attempts) == ("succeeded", 1)
    assert run_events(card) == [f"run {job.pk} succeeded: accuracy 0.95, loss 0.2"]


# --- trainers that misbehave ----------------------------------------------------------------

def test_a_trainer_that_raises_fails_its_job_keeping_the_traceback_and_the_card_says_so(worker, client, board, card,
                                                                                       bob):
    job = create_job(board, card, bob, "raises")

    job = wait_for_job(job, worker=worker)

    assert (job.state, job.error) == ("failed", "ValueError: the data has no column 'label'")
    assert "trainers_for_tests.py" in job.traceback
    assert job.traceback.rstrip().endswith("ValueError: the data has no column 'label'")
    assert Metric.objects.filter(job=job, key="loss").count() == 1  # logged before it raised
    assert run_events(card) == [f"run {job.pk} failed: ValueError: the data has no column 'label'"]
    client.force_login(bob)
    page = client.get(f"/b/{board.pk}/").content.decode()
    card_html = page[page.index(f'id="card-{card.pk}"'):].split("</li>", 1)[0]
    assert "Run failed" in card_html


def test_a_trainer_past_its_timeout_is_stopped_and_its_job_timed_out(worker, board, card, bob):
    job = create_job(board, card, bob, "hangs", timeout_s=2)

    job = wait_for_job(job, worker=worker)

    assert (job.state, job.error) == ("timed_out", "stopped after 2 s (the job's timeout)")
    assert gone(job.pid)
    assert run_events(card) == [f"run {job.pk} timed out: stopped after 2 s (the job's timeout)"]


def test_a_trainer_past_its_memory_cap_fails_its_job_naming_the_cap(worker, board, card, bob):
    job = create_job(board, card, bob, "allocates", params={"mib": 512}, memory_mb=64)

    job = wait_for_job(job, worker=worker)

    assert (job.state, job.error) == ("failed", "memory cap of 64 MiB exceeded")
    assert Metric.objects.filter(job=job, key="before_allocation").exists()
    assert not Metric.objects.filter(job=job, key="after_allocation").exists()


def test_a_trainer_printing_megabytes_ends_true_with_its_log_bounded(worker, board, card, bob, settings):
    job = create_job(board, card, bob, "prints", params={"megabytes": 5})

    job = wait_for_job(job, worker=worker)

    assert (job.state, job.final_metrics) == ("succeeded", {"accuracy": 0.5})
    assert len(job.log.encode()) <= settings.JOB_LOG_MAX_BYTES + 100  # the head, the tail and a marker
    assert job.log_skipped_bytes > 4_500_000
    assert job.log.startswith("FIRST LINE\n")
    assert job.log.rstrip().endswith("LAST LINE")
    assert f"… {job.log_skipped_bytes} bytes skipped …" in job.log


def test_a_job_delivered_twice_runs_its_trainer_once(worker, board, card, bob):
    job = create_job(board, card, bob, "sleepy", params={"seconds": 1.0, "steps": 5})
    second = app.send_task("experiments.tasks.run_job", args=[job.pk], queue="train").id  # a duplicate message

    job = wait_for_job(job, worker=worker)
    wait_for(lambda: f"run_job[{second}] succeeded" in worker.output(), what="the duplicate to be handled",
             details=worker.output)

    assert (job.state, job.attempts) == ("succeeded", 1)
    # one run's points: 5 of the curve and the final accuracy
    assert Metric.objects.filter(job=job).count() == 6
    assert run_events(card) == [f"run {job.pk} succeeded: accuracy 0.95, loss 0.2"]
