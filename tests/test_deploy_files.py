"""docker-compose.yml, the Dockerfile and dev.py run deploy safely. Docker
cannot run here, so the files are read as data (and the health check's
Python is run against a live server)."""

import importlib.util
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
APP_SERVICES = {name: s for name, s in SERVICES.items() if s.get("image") == "mlkanban:latest"}
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_the_app_services_are_the_ones_expected():
    assert set(APP_SERVICES) == {"migrate", "web", "worker", "gpu-worker", "beat", "flower"}


def test_migrations_run_once_in_a_one_shot_service():
    migrate = SERVICES["migrate"]
    assert migrate["command"] == "python manage.py migrate --noinput"
    assert migrate["restart"] == "no"  # a restart policy would run it again and again
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name, service in APP_SERVICES.items():
        if name != "migrate":
            assert "migrate" not in str(service["command"]), name


@pytest.mark.parametrize("name", ["web", "worker", "gpu-worker", "beat", "flower"])
def test_every_service_running_the_app_waits_for_the_migrations(name):
    depends = SERVICES[name]["depends_on"]
    assert depends["migrate"] == {"condition": "service_completed_successfully"}
    assert depends["postgres"] == {"condition": "service_healthy"}


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_no_service_has_a_default_secret_key(name):
    value = APP_SERVICES[name]["environment"]["SECRET_KEY"]
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", value), value


def test_no_secret_has_a_default_anywhere_in_the_compose_file():
    assert not re.search(r"\$\{(SECRET_KEY|FLOWER_BASIC_AUTH):?-", COMPOSE_TEXT)


def test_flower_requires_a_login():
    flower = SERVICES["flower"]
    # Flower reads FLOWER_<OPTION> variables: this one is --basic-auth, and compose refuses to start without it.
    assert re.fullmatch(r"\$\{FLOWER_BASIC_AUTH:\?[^}]+\}", flower["environment"]["FLOWER_BASIC_AUTH"])
    # published on the host's loopback unless FLOWER_PUBLISH says otherwise
    assert flower["ports"] == ["${FLOWER_PUBLISH:-127.0.0.1:5555}:5555"]


def test_services_that_serve_no_http_do_not_inherit_the_images_web_health_check():
    for name in ("migrate", "beat", "flower"):
        assert SERVICES[name]["healthcheck"] == {"disable": True}
    for name in ("worker", "gpu-worker"):
        assert "inspect ping" in " ".join(SERVICES[name]["healthcheck"]["test"])
    assert "healthcheck" not in SERVICES["web"]


# --- the Dockerfile ------------------------------------------------------------------

def healthcheck_code() -> str:
    match = re.search(r"HEALTHCHECK [^\n]*\\\n\s+CMD (\[.*\])\n", DOCKERFILE)
    assert match, "no HEALTHCHECK ... CMD [exec form] in the Dockerfile"
    command = json.loads(match.group(1))
    assert command[:2] == ["python", "-c"]  # the slim image has no curl
    return command[2]


def test_the_image_has_a_health_check_against_healthz():
    assert "http://127.0.0.1:8000/healthz" in healthcheck_code()
    assert not [line for line in DOCKERFILE.splitlines() if "curl" in line and not line.startswith("#")]


def test_the_image_bakes_in_no_secret_key():
    collect = next(line for line in DOCKERFILE.splitlines() if "collectstatic" in line)
    assert "SECRET_KEY=" in collect  # a throwaway for the build step only, never an ENV
    assert "rm -f /app/var/secret_key" in DOCKERFILE
    assert not re.search(r"^ENV[^\n]*SECRET_KEY", DOCKERFILE, re.M)


def run_healthcheck(url: str, allowed_hosts: str) -> subprocess.CompletedProcess:
    code = healthcheck_code().replace("http://127.0.0.1:8000", url)
    return subprocess.run([sys.executable, "-c", code], env={"ALLOWED_HOSTS": allowed_hosts},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.django_db(transaction=True)
def test_the_health_check_passes_against_a_healthy_server(live_server, settings):
    settings.ALLOWED_HOSTS = ["kanban.example.com"]
    assert run_healthcheck(live_server.url, "kanban.example.com,localhost").returncode == 0
    failed = run_healthcheck(live_server.url, "wrong.example.com")
    assert failed.returncode != 0 and "400" in failed.stderr  # the Host header is what decides


def test_the_health_check_fails_when_nothing_answers():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert run_healthcheck(f"http://127.0.0.1:{port}", "localhost").returncode != 0


# --- dev.py run seeds demo data only into the embedded database ------------------

@pytest.fixture
def dev(monkeypatch):
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = []
    monkeypatch.setattr(module, "manage", lambda *args: calls.append(args) or 0)
    monkeypatch.delenv("MLKANBAN_SKIP_SEED", raising=False)
    module.calls = calls
    return module


def test_dev_run_seeds_the_embedded_sqlite_database(dev):
    assert dev.seed("django.db.backends.sqlite3") is True
    assert dev.calls == [("seed_demo",), ("seed_runs",)]  # the demo team, then real runs on its cards


@pytest.mark.parametrize("engine", ["django.db.backends.postgresql", "django.db.backends.mysql"])
def test_dev_run_never_seeds_a_server_database(dev, engine, capsys):
    assert dev.seed(engine) is False
    assert dev.calls == []
    out = capsys.readouterr().out
    assert "not loading demo data" in out and "createsuperuser" in out


def test_dev_test_gives_the_postgresql_pass_a_random_secret_key():
    source = (ROOT / "dev.py").read_text()
    assert "SECRET_KEY=secrets.token_urlsafe(50)" in source
