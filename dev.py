"""Two commands to work on mlkanban from a fresh clone (stdlib only, Python >= 3.11).

    python3 dev.py run               # venv + install + migrate + demo data, then web server and Celery worker
    python3 dev.py test [args...]    # venv + install, then pytest twice: embedded, then PostgreSQL + Redis

Both create .venv/ on first use and reinstall the project (pip install -e '.[test]')
only when pyproject.toml changed since the last install.

`run` uses the environment as it is: SQLite under var/ and a filesystem Celery broker
by default, or DATABASE_URL / CELERY_BROKER_URL when set. PORT (default 8000) picks
the port. Demo data (`manage.py seed_demo`) goes only into the embedded SQLite
database, never into a server database; MLKANBAN_SKIP_SEED=1 skips it there too.
Ctrl-C stops everything.

`test` first runs the guardrails (import contracts, migrations in step with the
models, `check --deploy` with the production variables, the OpenAPI schema without
warnings, ruff) and stops if one fails; then the suite (a) on the embedded defaults
and (b) against PostgreSQL and Redis on 127.0.0.1 (TEST_DATABASE_URL overrides the
database). MLKANBAN_SKIP_GUARDRAILS=1 skips the guardrails outside CI. Where CI is
"true" or "1", a missing service fails the run instead of skipping pass (b), and
MLKANBAN_REQUIRE_SERVICES=1 tells the tests not to skip for missing tools either.
"""

import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
PY = BIN / "python"
STAMP = VENV / ".mlkanban-installed"

DEMO_USER, DEMO_PASSWORD = "ana", "demo-pass-2026"
PG_URL = "postgres://postgres@127.0.0.1:5432/test"
BROKER_URL, CACHE_URL = "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/1"
STOP_TIMEOUT = 15  # seconds between SIGTERM and SIGKILL

# The HTTPS half of "the production variables" (README): with DEBUG=0 and a long
# random SECRET_KEY, `manage.py check --deploy --fail-level WARNING` is clean.
PRODUCTION_HTTPS = {
    "SECURE_SSL_REDIRECT": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}
# Never inherited by the test passes: the tests choose these themselves.
NOT_FOR_TESTS = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "DEBUG", "TRUST_X_FORWARDED_PROTO",
                 "NUM_PROXIES", *PRODUCTION_HTTPS)

# Describes the database and broker that settings.py actually chose (env or .env).
DESCRIBE = """
from urllib.parse import urlsplit
from django.conf import settings as s
d = s.DATABASES["default"]
if d["ENGINE"].endswith("sqlite3"):
    print(f"Database: SQLite (embedded) at {d['NAME']}")
else:
    where = f"{d.get('USER') or ''}@{d.get('HOST') or 'localhost'}:{d.get('PORT') or ''}/{d['NAME']}"
    print(f"Database: {d['ENGINE'].rsplit('.', 1)[-1]} {where} (DATABASE_URL)")
u = urlsplit(s.CELERY_BROKER_URL)
if u.scheme == "filesystem":
    print(f"Broker:   filesystem (embedded) under {s.BROKER_DIR}")
else:
    print(f"Broker:   {u.scheme}://{u.hostname}:{u.port or ''}{u.path} (CELERY_BROKER_URL)")
"""


def say(msg: str) -> None:
    print(f"[dev.py] {msg}", flush=True)


def truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true")


def ensure_venv() -> None:
    """Create .venv if missing; pip install -e '.[test]' if pyproject.toml changed."""
    if not PY.exists():
        say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    say("installing the project: pip install -e '.[test]' (a minute or two on a fresh clone)")
    cmd = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-e", ".[test]"]
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        sys.exit("[dev.py] pip install failed (see above)")
    STAMP.write_text(digest + "\n")


def manage(*args: str) -> int:
    return subprocess.run([str(PY), "manage.py", *args], cwd=ROOT).returncode


def database_engine() -> str:
    """The database engine settings.py chose (environment or .env), e.g. django.db.backends.sqlite3."""
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    out = subprocess.run([str(PY), "manage.py", "shell", "--verbosity", "0", "-c", code],
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"[dev.py] cannot read the settings:\n{out.stderr.strip()}")
    return out.stdout.strip().splitlines()[-1]


# --- run ------------------------------------------------------------------

def seed(engine: str) -> bool:
    """Load the demo team into the embedded SQLite database only; True if it was loaded."""
    if truthy("MLKANBAN_SKIP_SEED"):
        say("MLKANBAN_SKIP_SEED is set: not running seed_demo")
        return False
    if not engine.endswith("sqlite3"):
        say(f"DATABASE_URL points at a server database ({engine.rsplit('.', 1)[-1]}): not loading demo data "
            "into it. Create an administrator with `.venv/bin/python manage.py createsuperuser`.")
        return False
    if manage("seed_demo") != 0:
        sys.exit("[dev.py] manage.py seed_demo failed (see above); set MLKANBAN_SKIP_SEED=1 to start without demo data")
    # Real training runs on the demo cards (once; 10-30 s the first time). The board works without them.
    if manage("seed_runs") != 0:
        say("manage.py seed_runs failed (see above): the demo board starts without training runs")
    return True


def run() -> int:
    ensure_venv()
    if manage("migrate", "--noinput") != 0:
        sys.exit("[dev.py] manage.py migrate failed (see above)")
    engine = database_engine()
    seeded = seed(engine)
    manage("shell", "--verbosity", "0", "-c", DESCRIBE)

    port = os.environ.get("PORT", "8000")
    commands = {
        "gunicorn": [str(BIN / "gunicorn"), "mlkanban.wsgi:application", "--bind", f"127.0.0.1:{port}",
                     "--workers", "2", "--threads", "4", "--access-logfile", "-"],
        # -B: the worker also runs beat, whose reaper re-queues jobs of lost workers
        "celery": [str(BIN / "celery"), "-A", "mlkanban", "worker", "-B", "-l", "info",
                   "--concurrency", "2", "-Q", "default,train"],
    }
    stop_signal: list[int] = []

    def on_signal(signum, _frame):
        stop_signal.append(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    # Each child gets its own process group: Ctrl-C reaches only this script,
    # which stops the children in order, and a kill takes their workers too.
    children = {name: subprocess.Popen(cmd, cwd=ROOT, process_group=0) for name, cmd in commands.items()}
    login = f"{DEMO_USER} / {DEMO_PASSWORD}" if seeded else "your own account (manage.py createsuperuser)"
    print(f"""
  mlkanban is starting (gunicorn pid {children['gunicorn'].pid}, celery pid {children['celery'].pid})
    URL:    http://127.0.0.1:{port}/
    Login:  {login}
  Ctrl-C stops both.
""", flush=True)

    dead = None
    while not stop_signal and dead is None:
        time.sleep(0.2)
        dead = next((name for name, p in children.items() if p.poll() is not None), None)

    if dead:
        say(f"{dead} exited unexpectedly (exit code {children[dead].returncode}); stopping the rest")
    else:
        say(f"got {signal.Signals(stop_signal[0]).name}; stopping gunicorn and celery")
    clean = stop(children)
    if dead or not clean:
        return 1
    say("stopped cleanly")
    return 0


def stop(children: dict[str, subprocess.Popen]) -> bool:
    """SIGTERM each child, wait up to STOP_TIMEOUT s, then SIGKILL its process group."""
    for p in children.values():
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    clean = True
    for name, p in children.items():
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop within {STOP_TIMEOUT} s; killing it")
            clean = False
        try:
            os.killpg(p.pid, signal.SIGKILL)  # the child's leftover workers, if any
        except ProcessLookupError:
            pass
        p.wait()
    return clean


# --- test -----------------------------------------------------------------

def unreachable(name: str, url: str, default_port: int) -> str | None:
    """None if a TCP connection to the URL's host and port opens within 2 s, else a message."""
    u = urlsplit(url)
    address = (u.hostname or "127.0.0.1", u.port or default_port)
    try:
        socket.create_connection(address, timeout=2).close()
        return None
    except OSError as exc:
        return f"{name} at {address[0]}:{address[1]} is not reachable ({exc.strerror or exc})"


def guardrails(env: dict[str, str]) -> bool:
    """Checks that are not tests: each runs, all are reported, any failure fails the run."""
    production = dict(env, DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), **PRODUCTION_HTTPS)
    steps = [
        ("import contracts (lint-imports)", [str(BIN / "lint-imports")], env),
        ("migrations match the models", [str(PY), "manage.py", "makemigrations", "--check", "--dry-run"], env),
        ("deployment checks with the production variables",
         [str(PY), "manage.py", "check", "--deploy", "--fail-level", "WARNING"], production),
        ("OpenAPI schema without warnings",
         [str(PY), "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", os.devnull], env),
        ("ruff", [str(BIN / "ruff"), "check", "--output-format", "concise", "."], env),
    ]
    print(f"\n{'=' * 70}\n[dev.py] guardrails\n{'=' * 70}", flush=True)
    failed = []
    for title, cmd, step_env in steps:
        say(f"guardrail: {title}: {' '.join(Path(c).name if c.startswith(str(ROOT)) else c for c in cmd)}")
        if subprocess.run(cmd, cwd=ROOT, env=step_env).returncode != 0:
            failed.append(title)
    for title, *_ in steps:
        say(f"{'FAILED' if title in failed else 'ok    '} guardrail: {title}")
    return not failed


def pytest_pass(title: str, env: dict[str, str], args: list[str]) -> int:
    print(f"\n{'=' * 70}\n[dev.py] pass {title}\n{'=' * 70}", flush=True)
    rc = subprocess.run([str(PY), "-m", "pytest", *args], cwd=ROOT, env=env).returncode
    if rc == 5:
        say(f"pass {title}: pytest collected no tests (exit 5)")
    return rc


def test(args: list[str]) -> int:
    ensure_venv()
    ci = truthy("CI")
    base = {k: v for k, v in os.environ.items() if k not in NOT_FOR_TESTS}
    base["FAST_PASSWORD_HASHER"] = "1"
    base["MLKANBAN_READ_DOTENV"] = "0"
    if ci:
        base["MLKANBAN_REQUIRE_SERVICES"] = "1"
    results = {}

    with tempfile.TemporaryDirectory(prefix="mlkanban-test-") as tmp:
        if truthy("MLKANBAN_SKIP_GUARDRAILS") and not ci:
            say("MLKANBAN_SKIP_GUARDRAILS is set: not running the guardrails")
        elif not guardrails(dict(base, MLKANBAN_VAR_DIR=str(Path(tmp, "guardrails")))):
            say("FAILED guardrails (see above): not running the test passes")
            return 1

        title = "(a) embedded: SQLite + filesystem broker"
        env = dict(base, MLKANBAN_VAR_DIR=str(Path(tmp, "embedded")))
        results[title] = pytest_pass(title, env, args)

        db_url = os.environ.get("TEST_DATABASE_URL") or PG_URL
        missing = [m for m in (unreachable("PostgreSQL", db_url, 5432), unreachable("Redis", BROKER_URL, 6379)) if m]
        title = "(b) PostgreSQL + Redis"
        if missing and ci:
            say(f"FAILED pass {title}: {'; '.join(missing)}. CI needs both services running.")
            results[title] = 1
        elif missing:
            print(f"\n[dev.py] SKIPPED pass {title}: {'; '.join(missing)}", flush=True)
            results[title] = None
        else:
            # A server database needs SECRET_KEY (settings refuse to start without one).
            env = dict(base, MLKANBAN_VAR_DIR=str(Path(tmp, "services")), SECRET_KEY=secrets.token_urlsafe(50),
                       DATABASE_URL=db_url, CELERY_BROKER_URL=BROKER_URL, REDIS_URL=CACHE_URL)
            # The layout tests (markup, CSS, scripts: no backend difference) run in pass (a) only,
            # which keeps the whole run under 30 minutes on 2 cores; named tests run as asked.
            results[title] = pytest_pass(title, env, args or ["-m", "not layout"])

    print(flush=True)
    for title, rc in results.items():
        say(f"SKIPPED pass {title}" if rc is None else f"{'ok    ' if rc == 0 else 'FAILED'} pass {title} (exit {rc})")
    return 1 if any(results.values()) else 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test"):
        print(__doc__)
        return 2
    if sys.argv[1] == "run":
        return run()
    return test(sys.argv[2:])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C during install, migrate or pytest
        sys.exit(130)
