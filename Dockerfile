# mlkanban: one image for the web server and every Celery process (see docker-compose.yml).
# Settings come from the environment; a server database needs SECRET_KEY (the image has none).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MLKANBAN_VAR_DIR=/app/var \
    WHITENOISE_USE_FINDERS=0

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN pip install -e '.[deploy]'

COPY . .
# Static files are collected into the image and served by whitenoise from there.
# The throwaway SECRET_KEY lives only in this build step: no key is baked into the image.
RUN SECRET_KEY=collectstatic-only-not-a-real-key python manage.py collectstatic --noinput \
    && rm -f /app/var/secret_key \
    && useradd --system --uid 10001 --home-dir /app --no-create-home app \
    && chown -R app:app /app/var

USER app
EXPOSE 8000
# /healthz answers 200 when the database, cache and broker answer (503 otherwise).
# The slim image has no curl; the Host header is the first ALLOWED_HOSTS entry, so the
# request passes Django's host check, and /healthz is exempt from the HTTPS redirect.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; host = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.'); host = 'localhost' if host in ('', '*') else host; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/healthz', headers={'Host': host}), timeout=8)"]
CMD ["gunicorn", "mlkanban.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
