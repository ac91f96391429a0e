"""/healthz: is this process able to reach its database, cache and broker?

Used by docker-compose healthchecks and by people wondering why jobs do not
start. Answers 200 when all three answer, 503 otherwise, with each one's state.
"""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .celery import app


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _cache() -> str:
    cache.set("healthz", "ok", 10)
    if cache.get("healthz") != "ok":
        raise RuntimeError("the cache did not return what was stored")
    return settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]


def _broker() -> str:
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_name


@require_GET
def healthz(request):
    report, healthy = {}, True
    for name, check in (("database", _database), ("cache", _cache), ("broker", _broker)):
        try:
            report[name] = {"ok": True, "backend": str(check())}
        except Exception as exc:  # any failure is the answer here, not a 500
            healthy = False
            report[name] = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:300]}
    return JsonResponse({"ok": healthy, **report}, status=200 if healthy else 503)
