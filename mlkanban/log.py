"""Logging helpers referenced from settings.LOGGING."""

import logging


class NoTracebackFor4xx(logging.Filter):
    """A refused request (403, 404, 400 for a bad Host...) is one line, not a traceback.

    Django logs PermissionDenied, Http404 and SuspiciousOperation with the
    exception attached; for a client error that traceback says nothing about
    a bug, so the record keeps its message and loses exc_info. Server errors
    (5xx) and records without a status code are left alone.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True
