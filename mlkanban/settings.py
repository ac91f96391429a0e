"""Settings, all from the environment (see .env.example).

The defaults are the embedded single-machine setup: SQLite under var/ and a
Celery broker on the filesystem, so nothing has to be installed or running.
Set DATABASE_URL and CELERY_BROKER_URL for PostgreSQL and Redis.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("MLKANBAN_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
# An optional .env; the test runner turns it off so a developer's .env cannot
# point the embedded test pass at another database.
if env.bool("MLKANBAN_READ_DOTENV", default=True):
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from here (/api/docs/, /api/redoc/), not a CDN
    "axes",
    "board",
    "experiments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",  # the policy: mlkanban/csp.py
    # After auth and htmx: a signed-out htmx request or board poll gets
    # HX-Redirect / 401 JSON instead of the login page swapped into a card.
    "mlkanban.middleware.StaleSessionMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mlkanban.urls"
WSGI_APPLICATION = "mlkanban.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mlkanban.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'mlkanban.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue
            # instead of deadlocking on a lock upgrade; WAL lets readers go on.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMBEDDED_DATABASE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"


# --- Secret key -----------------------------------------------------------
# Never a built-in key. SECRET_KEY from the environment wins. The embedded
# setup (SQLite) makes a random key once per install in VAR_DIR/secret_key
# (mode 0600) and keeps it; a server database without SECRET_KEY does not
# start, since its web and Celery processes must all share one key.
def _install_secret_key(path: Path) -> str:
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(get_random_secret_key() + "\n")
        try:
            os.link(tmp, path)  # atomic, and refused if another process got there first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it (a new key is made) or set SECRET_KEY.")
    return key


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not EMBEDDED_DATABASE:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. DATABASE_URL points at a server database, so set SECRET_KEY in the "
            "environment (or .env) to a long random value, the same for every web and Celery process, e.g. "
            "SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    SECRET_KEY = _install_secret_key(VAR_DIR / "secret_key")

# --- HTTPS ----------------------------------------------------------------
# All off by default (http://127.0.0.1). Behind HTTPS set the production
# variables (README, .env.example); `manage.py check --deploy` is clean then.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Health checks (Docker's HEALTHCHECK, load balancers) speak plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Only behind a proxy that sets X-Forwarded-Proto itself (and strips the client's).
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many reverse proxies append to X-Forwarded-For; 0 means the client's
# address is REMOTE_ADDR. Used by login and API-token throttling.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

# --- Cache and sessions ---------------------------------------------------
# Every process of one installation must see the same cache: sessions, login
# and API-token throttling live there. Never a per-process LocMemCache (a
# logged-out cookie kept working in the other gunicorn worker).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # The embedded default: files under VAR_DIR/cache, shared by every process
    # on the machine (written atomically; culled beyond MAX_ENTRIES).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    }
# Sessions are read through that shared cache and written through to the
# database: no query per request, and a logout (or a password change) ends the
# session in every process at once. An evicted entry falls back to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Auth -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes: refuses locked-out username+address pairs before any password check.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend with a faster get_user (sessions signed in before it was named here sign in again).
    "mlkanban.auth.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "board:index"
LOGOUT_REDIRECT_URL = "login"
# Closed installations turn the public sign-up page off.
ALLOW_SIGNUP = env.bool("ALLOW_SIGNUP", default=True)

# --- Login throttling (django-axes; the sign-in form and the admin) --------
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "mlkanban.auth.lockout_response"
AXES_CLIENT_IP_CALLABLE = "mlkanban.auth.client_ip"
AXES_USERNAME_CALLABLE = "mlkanban.auth.axes_username"
# Wrong API tokens (mlkanban.auth.ThrottledTokenAuthentication), counted per client address in the cache.
API_TOKEN_FAILURE_LIMIT = env.int("API_TOKEN_FAILURE_LIMIT", default=20)
API_TOKEN_FAILURE_WINDOW = env.int("API_TOKEN_FAILURE_WINDOW", default=15 * 60)  # seconds

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing one
# Run artifacts. Never served as static files: a view checks the board role
# first (experiments.views.artifact). Every web and worker host must share
# this folder (a volume in docker-compose).
MEDIA_ROOT = Path(env.str("MLKANBAN_MEDIA_ROOT", default=str(VAR_DIR / "media"))).resolve()
MEDIA_URL = "/media/"  # not routed: artifacts go through the checked view
# Serve straight from the finders, so a fresh clone needs no collectstatic.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
WHITENOISE_AUTOREFRESH = DEBUG

# --- Celery ---------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu needs absolute folders, the same one for in and out, and does not
    # create them (see STACK-NOTES); mlkanban.celery creates them at start-up.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=6 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=6 * 3600 - 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Hours-long training jobs: acknowledge a task when it ends, not when it
# starts, so a worker that dies mid-job hands it back; take one at a time.
CELERY_TASK_ACKS_LATE = env.bool("CELERY_TASK_ACKS_LATE", default=True)
CELERY_TASK_REJECT_ON_WORKER_LOST = env.bool("CELERY_TASK_REJECT_ON_WORKER_LOST", default=True)
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
# Queues: default (web-triggered chores), train (experiments.tasks.*, CPU
# workers) and gpu (chosen per job with .apply_async(queue="gpu")).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="default")
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in dict.fromkeys(
        [CELERY_TASK_DEFAULT_QUEUE, *env.list("CELERY_TASK_QUEUES", default=["default", "train", "gpu"])]
    )
]
CELERY_TASK_ROUTES = env.json("CELERY_TASK_ROUTES", default={
    # an exact name wins over the pattern: housekeeping stays off the training queues
    "experiments.tasks.reap_jobs": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "experiments.tasks.*": {"queue": "train"},
})
if CELERY_BROKER_URL.split("://", 1)[0].lower() in ("redis", "rediss", "redis+socket", "sentinel"):
    # Redis hands an unacknowledged task to another worker after
    # visibility_timeout; with late acks that must outlast the longest task,
    # or every job longer than it runs twice.
    _longest_task = max(CELERY_TASK_TIME_LIMIT, CELERY_TASK_SOFT_TIME_LIMIT)
    _visibility_timeout = env.int(
        "CELERY_VISIBILITY_TIMEOUT",
        default=_longest_task + env.int("CELERY_VISIBILITY_TIMEOUT_MARGIN", default=3600),
    )
    if _visibility_timeout <= _longest_task:
        raise ImproperlyConfigured(
            f"CELERY_VISIBILITY_TIMEOUT ({_visibility_timeout} s) must be greater than CELERY_TASK_TIME_LIMIT "
            f"({_longest_task} s), or Redis re-delivers tasks that are still running."
        )
    # A Run click with Redis unreachable must not hang the request: connect
    # fails fast and the job waits in the outbox (experiments.services).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": _visibility_timeout, "socket_connect_timeout": 2}

# --- Training jobs (experiments) --------------------------------------------
# Where a running job's workdir lives (artifacts are moved to MEDIA_ROOT when it ends).
JOBS_DIR = VAR_DIR / "jobs"
# Modules whose @trainer functions jobs may run, each with its submodules
# (experiments.trainers.builtin is always allowed). Their code runs in the workers.
TRAINER_MODULES = env.list("MLKANBAN_TRAINER_MODULES", default=["experiments.examples"])
# By default a little below the task's time limit (21,000 s with the default 6 h), so a
# shorter CELERY_TASK_TIME_LIMIT lowers it too rather than refusing to start.
_task_limit = min(CELERY_TASK_TIME_LIMIT, CELERY_TASK_SOFT_TIME_LIMIT)
JOB_TIMEOUT_MAX_S = env.int("MLKANBAN_JOB_TIMEOUT_MAX_S", default=max(1, _task_limit - min(540, _task_limit // 10)))
JOB_TIMEOUT_DEFAULT_S = min(600, JOB_TIMEOUT_MAX_S)
JOB_MEMORY_MAX_MB = env.int("MLKANBAN_JOB_MEMORY_MAX_MB", default=8192)
JOB_MEMORY_MIN_MB = 64
JOB_MEMORY_DEFAULT_MB = 1024
JOB_LOG_MAX_BYTES = 256 * 1024
# 0.5 s: with the board poll every 1.5 s, progress reaches every open board within 2 s.
JOB_HEARTBEAT_S = env.float("MLKANBAN_JOB_HEARTBEAT_S", default=0.5)
# The job's own timeout must fire first, so the task can still record how it ended.
if JOB_TIMEOUT_MAX_S >= min(CELERY_TASK_TIME_LIMIT, CELERY_TASK_SOFT_TIME_LIMIT):
    raise ImproperlyConfigured(
        f"MLKANBAN_JOB_TIMEOUT_MAX_S ({JOB_TIMEOUT_MAX_S} s) must be below CELERY_TASK_TIME_LIMIT and "
        f"CELERY_TASK_SOFT_TIME_LIMIT ({min(CELERY_TASK_TIME_LIMIT, CELERY_TASK_SOFT_TIME_LIMIT)} s)."
    )
if JOB_MEMORY_MAX_MB < JOB_MEMORY_MIN_MB or not 0 < JOB_HEARTBEAT_S <= 60:
    raise ImproperlyConfigured(
        f"MLKANBAN_JOB_MEMORY_MAX_MB must be at least {JOB_MEMORY_MIN_MB}, and MLKANBAN_JOB_HEARTBEAT_S "
        "above 0 and at most 60 seconds."
    )
# A running job refreshes its heartbeat every JOB_HEARTBEAT_S; the reaper
# (celery beat, every JOB_REAP_EVERY_S) calls a job lost after
# JOB_LOST_AFTER_S without one, and re-queues it until JOB_MAX_ATTEMPTS.
JOB_LOST_AFTER_S = env.int("MLKANBAN_JOB_LOST_AFTER_S", default=30)
JOB_REAP_EVERY_S = env.float("MLKANBAN_JOB_REAP_EVERY_S", default=10.0)
JOB_MAX_ATTEMPTS = env.int("MLKANBAN_JOB_MAX_ATTEMPTS", default=3)
# A queued job whose message was sent this long ago and never started is
# sent again (a broker restarted without persistence loses messages).
JOB_REDISPATCH_AFTER_S = env.int("MLKANBAN_JOB_REDISPATCH_AFTER_S", default=900)
JOB_SWEEP_MAX_POINTS = env.int("MLKANBAN_JOB_SWEEP_MAX_POINTS", default=100)
CELERY_BEAT_SCHEDULE = {
    "reap-lost-jobs-and-sweep-the-outbox": {"task": "experiments.tasks.reap_jobs", "schedule": JOB_REAP_EVERY_S},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: unauthenticated scripts get 401 with a WWW-Authenticate
    # header rather than 403. Session auth (the browser) enforces CSRF.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's TokenAuthentication, answering 429 after too many wrong tokens from one address.
        "mlkanban.auth.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "board.pagination.BoundedLimitOffsetPagination",
    # DRF's defaults; the JSON parser answers 400 (not 500) to deep nesting and lone surrogates.
    "DEFAULT_PARSER_CLASSES": [
        "board.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 100,
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mlkanban API",
    "VERSION": "0.1.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that share a field name (kind, status) get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "TicketKindEnum": "board.models.TicketKind",
        "ArtifactKindEnum": "experiments.models.ArtifactKind",
        "ParamKindEnum": "experiments.trainers.PARAM_KINDS",
        "HypothesisStatusEnum": "board.models.HypothesisStatus",
    },
}

# --- Board behaviour ------------------------------------------------------
BOARD_POLL_INTERVAL_MS = env.int("BOARD_POLL_INTERVAL_MS", default=1500)
# Cards per column on the first render and per "load more": a screen holds about ten, so the board is
# usable before the rest arrives (loaded as each column scrolls).
BOARD_PAGE_SIZE = env.int("BOARD_PAGE_SIZE", default=50)
# A column is re-keyed when a move would write a key longer than this.
RANK_MAX_LENGTH = 48
# Content security policy, and MARKDOWN_IMAGE_HOSTS (env list, default empty): the hosts markdown images load from.
from .csp import CONTENT_SECURITY_POLICY, MARKDOWN_IMAGE_HOSTS  # noqa: E402, F401

# One line per record: time, level, logger, message. Refused requests (4xx)
# log their one line without a traceback; server errors keep theirs.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_traceback_for_4xx": {"()": "mlkanban.log.NoTracebackFor4xx"}},
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        # The handler's filter also covers django.security.* (a bad Host header is a 400).
        "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["no_traceback_for_4xx"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Without Django's own console handler: each record once, in our format.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"filters": ["no_traceback_for_4xx"]},
        # django-axes logs every sign-in at INFO; keep its warnings (failures, lockouts).
        "axes": {"level": "WARNING"},
    },
}

if env.bool("FAST_PASSWORD_HASHER", default=False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
