"""A refused request logs one line without a traceback; a server error keeps
its traceback; every line carries time, level and logger name."""

import io
import logging

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.urls import path

from mlkanban.log import NoTracebackFor4xx


def _refuse(request):
    raise PermissionDenied("Only the board's owners can do that.")


def _crash(request):
    raise RuntimeError("a bug")


urlpatterns = [path("refuse/", _refuse), path("crash/", _crash)]

LINE_FORMAT = settings.LOGGING["formatters"]["line"]["format"]


@pytest.fixture
def console():
    """What the configured console handler writes, captured."""
    handler = next(h for h in logging.getLogger().handlers
                   if h.formatter is not None and h.formatter._fmt == LINE_FORMAT)
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(old)


def request_records(caplog):
    return [r for r in caplog.records if r.name == "django.request"]


def test_the_log_format_carries_time_level_and_logger_name():
    for field in ("%(asctime)s", "%(levelname)s", "%(name)s", "%(message)s"):
        assert field in LINE_FORMAT


def test_a_403_from_a_real_page_logs_one_line_without_a_traceback(client, board, vera, caplog, console):
    client.force_login(vera)  # a viewer on the owners' settings page
    with caplog.at_level(logging.INFO):
        response = client.get(f"/b/{board.pk}/settings/")

    assert response.status_code == 403
    [record] = request_records(caplog)
    assert record.levelname == "WARNING" and record.status_code == 403
    assert record.exc_info is None and record.exc_text is None
    [line] = [line for line in console.getvalue().splitlines() if "django.request" in line]
    assert console.getvalue().count("\n") == len(console.getvalue().splitlines())  # nothing but whole lines
    assert "Traceback" not in console.getvalue()
    assert f" WARNING django.request Forbidden (Permission denied): /b/{board.pk}/settings/" in line


@pytest.mark.urls("tests.test_logging")
def test_permission_denied_anywhere_is_one_record_without_exc_info(client, caplog, console):
    with caplog.at_level(logging.INFO):
        assert client.get("/refuse/").status_code == 403
    [record] = request_records(caplog)
    assert record.exc_info is None
    assert logging.Formatter(LINE_FORMAT).format(record).count("\n") == 0
    assert "Traceback" not in console.getvalue()


@pytest.mark.urls("tests.test_logging")
def test_a_404_is_one_line_too(client, caplog):
    with caplog.at_level(logging.INFO):
        assert client.get("/nowhere/").status_code == 404
    [record] = request_records(caplog)
    assert record.exc_info is None


@pytest.mark.urls("tests.test_logging")
def test_a_server_error_keeps_its_traceback(client, caplog, console):
    client.raise_request_exception = False
    with caplog.at_level(logging.INFO):
        assert client.get("/crash/").status_code == 500
    [record] = request_records(caplog)
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert "Traceback" in console.getvalue() and "RuntimeError: a bug" in console.getvalue()


def test_the_filter_leaves_records_without_a_client_error_status_alone():
    keep = NoTracebackFor4xx()
    try:
        raise ValueError("x")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    plain = logging.LogRecord("x", logging.ERROR, __file__, 1, "m", (), exc_info)
    server = logging.LogRecord("x", logging.ERROR, __file__, 1, "m", (), exc_info)
    server.status_code = 502
    assert keep.filter(plain) and keep.filter(server)
    assert plain.exc_info is exc_info and server.exc_info is exc_info
