"""The processes around the app: health check, and a real Celery worker on the
configured broker (the filesystem broker by default, Redis in CI's second pass)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

from mlkanban.celery import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_healthz_reports_the_configured_database_cache_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["ok"] is True
    expected_db = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert report["database"]["backend"] == expected_db
    expected_broker = "redis" if settings.CELERY_BROKER_URL.startswith("redis") else "filesystem"
    assert report["broker"]["backend"] == expected_broker
    expected_cache = "RedisCache" if os.environ.get("REDIS_URL") else "FileBasedCache"
    assert report["cache"]["backend"] == expected_cache


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_broker_when_it_is_down(client, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery lets it override broker=
    monkeypatch.setattr("mlkanban.health.app", Celery("down", broker="redis://127.0.0.1:1/0", set_as_current=False))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
    assert response.json()["database"]["ok"] is True


def test_a_celery_worker_started_like_the_run_command_answers_on_the_configured_broker():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="mlkanban.settings")
    name = f"probe-{os.getpid()}@%h"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mlkanban", "worker", "--pool", "solo", "-n", name,
         "-Q", "default", "--without-gossip", "--without-mingle", "-l", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 45
        replies = []
        while time.monotonic() < deadline and not replies:
            assert worker.poll() is None, f"the worker died:\n{worker.stdout.read()}"
            replies = [r for r in app.control.ping(timeout=1.0) if any(k.startswith(f"probe-{os.getpid()}@") for k in r)]
        assert replies, "no worker answered a ping on the broker within 45 s"
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
