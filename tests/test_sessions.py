"""Sessions end everywhere: a logout is seen by every server process, and a
password change signs out the user's other sessions."""

import http.client
import os
import socket
import subprocess
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
PASSWORD = "correct-horse-battery-2026"


# --- the password-change page ------------------------------------------------------

@pytest.fixture
def sam(db):
    return get_user_model().objects.create_user("sam", "sam@example.org", PASSWORD)


def log_in(client, username="sam", password=PASSWORD):
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content
    return client


# --- who a session belongs to (mlkanban.auth.ModelBackend.get_user) -----------------

def test_a_session_loads_the_same_user_the_orm_would(sam):
    from mlkanban.auth import ModelBackend

    loaded = ModelBackend().get_user(str(sam.pk))
    expected = get_user_model().objects.get(pk=sam.pk)
    names = [f.attname for f in get_user_model()._meta.concrete_fields]
    assert [getattr(loaded, n) for n in names] == [getattr(expected, n) for n in names]
    assert loaded.get_session_auth_hash() == expected.get_session_auth_hash()


@pytest.mark.parametrize("user_id", ["not-a-number", "", "0", "-3", str(10**30), "12\x00", "١٢"])
def test_a_session_with_a_hostile_user_id_belongs_to_no_one(sam, user_id):
    from mlkanban.auth import ModelBackend

    assert ModelBackend().get_user(user_id) is None


def test_a_deactivated_users_session_opens_nothing(client, sam):
    log_in(client)
    assert client.get("/").status_code == 200
    get_user_model().objects.filter(pk=sam.pk).update(is_active=False)

    response = client.get("/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_password_page_needs_a_signed_in_user(client, db):
    response = client.get("/accounts/password/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(client_factory, sam):
    laptop, phone = log_in(client_factory()), log_in(client_factory())
    assert phone.get("/").status_code == 200
    assert laptop.get("/accounts/password/").status_code == 200

    response = laptop.post("/accounts/password/", {
        "old_password": PASSWORD, "new_password1": "a-new-long-passphrase-2027", "new_password2": "a-new-long-passphrase-2027",
    }, follow=True)

    assert response.status_code == 200 and response.redirect_chain[-1][0] == "/"
    assert "Password changed" in response.content.decode()
    assert laptop.get("/").status_code == 200  # this session goes on
    signed_out = phone.get("/")
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in phone.session
    log_in(client_factory(), password="a-new-long-passphrase-2027")


def test_a_wrong_old_password_changes_nothing(client_factory, sam):
    laptop, phone = log_in(client_factory()), log_in(client_factory())

    response = laptop.post("/accounts/password/", {
        "old_password": "not-it", "new_password1": "a-new-long-passphrase-2027", "new_password2": "a-new-long-passphrase-2027",
    })

    assert response.status_code == 422
    assert "Your old password was entered incorrectly" in response.content.decode()
    assert phone.get("/").status_code == 200
    sam.refresh_from_db()
    assert sam.check_password(PASSWORD)


@pytest.fixture
def client_factory():
    from django.test import Client

    return Client


# --- logout across two server processes ---------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    """The test database as the test run sees it, as a URL for another process."""
    d = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(d['NAME']).resolve()}"
    assert connection.vendor == "postgresql", connection.vendor
    auth = quote(d["USER"] or "") + (f":{quote(d['PASSWORD'])}" if d.get("PASSWORD") else "")
    return f"postgres://{auth}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


class Server:
    """One gunicorn process on the test database, with its own cookie-less HTTP calls."""

    def __init__(self, log_dir: Path, name: str):
        self.port = free_port()
        env = dict(os.environ, DATABASE_URL=database_url(), MLKANBAN_VAR_DIR=str(settings.VAR_DIR),
                   MLKANBAN_READ_DOTENV="0")
        env.setdefault("DJANGO_SETTINGS_MODULE", "mlkanban.settings")  # the test run's own
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.log = log_dir / f"{name}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(GUNICORN), "mlkanban.wsgi:application", "--bind", f"127.0.0.1:{self.port}", "--workers", "1"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )

    def wait_until_ready(self, deadline: float) -> None:
        """Poll the socket until the login page answers; fail at once if gunicorn exits."""
        while True:
            try:
                if self.request("GET", "/accounts/login/")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn on :{self.port} did not answer in time:\n{self.log.read_text()[-3000:]}")
            try:
                self.process.wait(timeout=0.1)  # paces the polling; returns only if gunicorn died
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            except subprocess.TimeoutExpired:
                pass

    def request(self, method, path, cookies=None, form=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Host": "127.0.0.1"}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            jar = SimpleCookie()
            for header in response.headers.get_all("Set-Cookie") or []:
                jar.load(header)
            return response.status, response.headers, {k: m.value for k, m in jar.items()}
        finally:
            conn.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.mark.django_db(transaction=True)
def test_logout_with_two_server_processes_the_old_cookie_opens_nothing_on_either(tmp_path):
    get_user_model().objects.create_user("sam", "sam@example.org", PASSWORD)
    servers = []
    try:
        servers = [Server(tmp_path, "one"), Server(tmp_path, "two")]
        deadline = time.monotonic() + 60
        for server in servers:
            server.wait_until_ready(deadline)
        one, two = servers

        # Sign in through process one (the CSRF cookie first, as a browser gets it).
        _, _, cookies = one.request("GET", "/accounts/login/")
        status, headers, new = one.request("POST", "/accounts/login/", cookies, {
            "csrfmiddlewaretoken": cookies["csrftoken"], "username": "sam", "password": PASSWORD,
        })
        assert status == 302, status
        cookies.update(new)
        assert "sessionid" in cookies
        for server in servers:  # both processes know the session (and may have cached it)
            assert server.request("GET", "/", cookies)[0] == 200

        status, headers, _ = one.request("POST", "/accounts/logout/", cookies,
                                         {"csrfmiddlewaretoken": cookies["csrftoken"]})
        assert status == 302 and headers["Location"].startswith("/accounts/login/")

        for server in servers:
            for _ in range(10):
                status, headers, _ = server.request("GET", "/", cookies)
                assert (status, headers["Location"]) == (302, "/accounts/login/?next=/"), f"port {server.port}"
    finally:
        for server in servers:
            server.stop()
