"""Production safety of mlkanban/settings.py: the secret key and HTTPS.

Settings are read once per process, so most tests import them in a fresh
interpreter with a controlled environment (no SECRET_KEY, DATABASE_URL... from
the test run leak in)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent

# What a production install sets besides DEBUG=0 and SECRET_KEY (README, .env.example).
HTTPS = {
    "SECURE_SSL_REDIRECT": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}
CHOSEN_BY_THE_TEST = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEBUG",
                      "TRUST_X_FORWARDED_PROTO", "NUM_PROXIES", "CELERY_VISIBILITY_TIMEOUT", *HTTPS,
                      "DJANGO_ALLOW_ASYNC_UNSAFE")  # tests/conftest.py sets it for Playwright; check --deploy refuses it


def clean_env(var_dir, **overrides) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CHOSEN_BY_THE_TEST}
    env.update(MLKANBAN_VAR_DIR=str(var_dir), MLKANBAN_READ_DOTENV="0", DJANGO_SETTINGS_MODULE="mlkanban.settings")
    env.update(overrides)
    return env


def settings_value(var_dir, expression: str, **env) -> subprocess.CompletedProcess:
    """Import the settings in a new interpreter and print one expression over them."""
    code = f"import mlkanban.settings as s; print({expression})"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(var_dir, **env),
                          capture_output=True, text=True, timeout=60)


def secret_key(var_dir, **env) -> str:
    result = settings_value(var_dir, "s.SECRET_KEY", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# --- SECRET_KEY ---------------------------------------------------------------

def test_each_embedded_install_makes_its_own_random_key_and_keeps_it(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"

    key_one, key_two = secret_key(first), secret_key(second)

    assert key_one != key_two
    assert len(key_one) >= 50 and len(set(key_one)) >= 5  # what check --deploy asks of a key
    assert secret_key(first) == key_one  # the same install keeps its key across restarts
    key_file = first / "secret_key"
    assert key_file.read_text().strip() == key_one
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_processes_starting_together_on_a_new_install_agree_on_one_key(tmp_path):
    """gunicorn workers and Celery start at once: the key file is created atomically."""
    code = "import mlkanban.settings as s; print(s.SECRET_KEY)"
    env = clean_env(tmp_path)
    processes = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
    keys = set()
    for p in processes:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        keys.add(out.strip())
    assert keys == {(tmp_path / "secret_key").read_text().strip()}
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]


def test_secret_key_from_the_environment_wins_and_no_key_file_is_written(tmp_path):
    assert secret_key(tmp_path, SECRET_KEY="from-the-environment-" + "x" * 40) == "from-the-environment-" + "x" * 40
    assert not (tmp_path / "secret_key").exists()


def test_a_server_database_without_secret_key_refuses_to_start_and_says_what_to_set(tmp_path):
    result = settings_value(tmp_path, "s.SECRET_KEY", DATABASE_URL="postgres://postgres@127.0.0.1:5432/nothing")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr
    assert "DATABASE_URL" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_a_server_database_with_secret_key_starts(tmp_path):
    result = settings_value(tmp_path, "s.SECRET_KEY", DATABASE_URL="postgres://postgres@127.0.0.1:5432/nothing",
                            SECRET_KEY="k" * 20 + "ey-for-this-test-only-0123456789")
    assert result.returncode == 0, result.stderr


# --- HTTPS ---------------------------------------------------------------------

def check_deploy(var_dir, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=clean_env(var_dir, **env), capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_variables(tmp_path):
    import secrets

    result = check_deploy(tmp_path, DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), **HTTPS)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_the_https_variables(tmp_path):
    import secrets

    result = check_deploy(tmp_path, DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50))

    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr + result.stdout


def test_the_https_variables_reach_the_settings(tmp_path):
    expression = ("(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
                  "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, getattr(s, 'SECURE_PROXY_SSL_HEADER', None))")
    default = settings_value(tmp_path, expression)
    production = settings_value(tmp_path, expression, TRUST_X_FORWARDED_PROTO="1", **HTTPS)

    assert default.stdout.strip() == "(False, False, False, 0, False, False, None)"
    assert production.stdout.strip() == "(True, True, True, 31536000, True, True, ('HTTP_X_FORWARDED_PROTO', 'https'))"


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True)
def test_with_the_https_redirect_on_pages_redirect_but_the_health_check_answers_over_http(client):
    assert client.get("/accounts/login/").status_code == 301
    assert client.get("/accounts/login/")["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_behind_a_trusted_proxy_https_requests_are_not_redirected(client):
    assert client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200


def test_every_variable_the_settings_read_is_documented_in_env_example():
    import re

    source = "\n".join(p.read_text() for p in (ROOT / "mlkanban").glob("*.py"))
    read = set(re.findall(r"(?:\benv|_env|Env\(\))\.\w+\(\s*\"([A-Z][A-Z0-9_]+)\"", source))
    documented = set(re.findall(r"^# ([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert len(read) > 30
    assert read - documented == set()
