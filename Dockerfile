# mlkanban: one image for the web server and every Celery process (see docker-compose.yml).
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
RUN python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app --no-create-home app \
    && chown -R app:app /app/var

USER app
EXPOSE 8000
CMD ["gunicorn", "mlkanban.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
