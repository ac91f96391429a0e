"""The job machinery's harness: test trainers allowed, a card to run jobs on,
and real Celery workers as subprocesses on the test database.

A worker is `celery -A mlkanban worker` in its own process group, with the
test database's URL, this run's var folder (the filesystem broker, the jobs'
workdirs, the artifacts) and short heartbeat settings in its environment. It
serves the broker the suite runs with: the filesystem broker and SQLite by
default, Redis and PostgreSQL when CELERY_BROKER_URL and DATABASE_URL say so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from experiments import services
from experiments.models import TrainingJob
from mlkanban.celery import app
from tests.factories import make_ticket

ROOT = Path(__file__).resolve().parents[2]
TEST_TRAINERS = "tests.experiments.trainers_for_tests"
HEARTBEAT_S = 0.5
LOST_AFTER_S = 3
FINAL_STATES = ("succeeded", "failed", "timed_out", "cancelled")


def ref(name: str) -> str:
    """A trainer of tests/experiments/trainers_for_tests.py, or a full ref."""
    return name if ":" in name else f"{TEST_TRAINERS}:{name}"


@pytest.fixture
def job_settings(settings):
    """The test trainers allowed, and the short heartbeat the workers get too."""
    settings.TRAINER_MODULES = [TEST_TRAINERS, "experiments.examples"]
    settings.JOB_HEARTBEAT_S = HEARTBEAT_S
    settings.JOB_LOST_AFTER_S = LOST_AFTER_S
    return settings


@pytest.fixture
def card(board, alice, columns):
    """A card in Implementation (work in progress, so a run's end may move it)."""
    return make_ticket(board, alice, title="Churn model", column=columns[2])


def create_job(board, card, actor, trainer: str = "sleepy", *, params=None, dataset="iris", hypothesis=None,
               **limits) -> TrainingJob:
    """A queued job through the service, as the Run button makes it."""
    spec = services.JobSpec.clean(trainer=ref(trainer), dataset=dataset, params=params or {}, **limits)
    return services.job_create(board=board, ticket_id=card.pk, actor=actor, spec=spec,
                               hypothesis_id=hypothesis.pk if hypothesis else None)


def wait_for(predicate, *, timeout: float = 30, what: str = "the condition", details=lambda: ""):
    """Poll predicate until it answers something true, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}\n{details()}")
        time.sleep(0.05)


def wait_for_job(job: TrainingJob, states=FINAL_STATES, *, timeout: float = 60, worker: Worker | None = None,
                 also=lambda job: True) -> TrainingJob:
    """The job, re-read until its state is one of states (and also(job) holds)."""

    def reached():
        job.refresh_from_db()
        return job.state in states and also(job)

    wait_for(reached, timeout=timeout, what=f"{job.label} to be {' or '.join(states)}",
             details=lambda: f"it is {job.state} ({job.error!r})\n" + (worker.output() if worker else ""))
    return job


def gone(pid: int) -> bool:
    """True once pid has exited (a zombie runs nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


# --- real workers -------------------------------------------------------------------

def database_url() -> str:
    """The test database (pytest-django has renamed the connection's NAME by now)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return (f"postgres://{quote(db['USER'] or '', safe='')}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}")


def worker_environment(**overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mlkanban.settings",
        "MLKANBAN_VAR_DIR": str(settings.VAR_DIR),
        "MLKANBAN_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "MLKANBAN_TRAINER_MODULES": f"{TEST_TRAINERS},experiments.examples",
        "MLKANBAN_JOB_HEARTBEAT_S": str(HEARTBEAT_S),
        "MLKANBAN_JOB_LOST_AFTER_S": str(LOST_AFTER_S),
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


class Worker:
    """`celery -A mlkanban worker` in its own process group; its output kept for failure messages."""

    def __init__(self, name: str, *, queues=("default", "train", "gpu"), concurrency: int = 2, **env: str):
        self.hostname = f"{name}-{os.getpid()}"
        self.queues, self.concurrency, self.env = queues, concurrency, env
        self.lines: deque[str] = deque(maxlen=300)
        self.ready = threading.Event()
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mlkanban", "worker", "-Q", ",".join(self.queues),
             "--concurrency", str(self.concurrency), "-n", f"{self.hostname}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-l", "info"],
            cwd=ROOT, env=worker_environment(**self.env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,  # its own process group, which a test may SIGKILL
        )
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        return self

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)
            if " ready." in line:
                self.ready.set()

    def output(self) -> str:
        return f"--- worker {self.hostname} output (tail) ---\n" + "".join(self.lines)[-8000:]

    def wait_ready(self, timeout: float = 60) -> Worker:
        wait_for(lambda: self.ready.is_set() or self.process.poll() is not None, timeout=timeout,
                 what=f"worker {self.hostname} to be ready", details=self.output)
        assert self.process.poll() is None, f"the worker exited with {self.process.returncode}\n{self.output()}"
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole worker: main process, pool processes, their fork servers."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGKILL the group: a warm shutdown takes seconds, and by now nothing runs that could be lost."""
        if self.alive:
            self.kill()


def purge_queues() -> None:
    """Messages left by earlier runs would only find no job to claim; start clean all the same."""
    app.control.purge()


@pytest.fixture
def start_worker(django_db_setup):
    """Start workers for one test; they are stopped when it ends."""
    started: list[Worker] = []

    def start(name: str = "faults", *, wait: bool = True, **kwargs) -> Worker:
        worker = Worker(name, **kwargs).start()
        started.append(worker)
        return worker.wait_ready() if wait else worker

    yield start
    for worker in started:
        worker.stop()


def reset_broker_connections() -> None:
    """The app caches its connection pools; after the broker URL changes it must make new ones."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_url(monkeypatch):
    """Point this process's Celery app at another broker: broker_url("redis://…")."""

    def point(url: str) -> None:
        monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads it before its settings
        reset_broker_connections()

    yield point
    monkeypatch.undo()
    reset_broker_connections()


@pytest.fixture(scope="module")
def worker(request, django_db_setup):
    """One worker for a module's tests (a module may name its queues in WORKER_QUEUES)."""
    purge_queues()
    queues = getattr(request.module, "WORKER_QUEUES", ("default", "train", "gpu"))
    shared = Worker("faults", queues=queues).start()
    try:
        yield shared.wait_ready()
    finally:
        shared.stop()
