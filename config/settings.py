"""Herald settings. Every setting comes from the environment, with a default that works with nothing set.

With no environment at all Herald runs on SQLite, Kombu's filesystem transport and an outbox folder, so
`make run` needs nothing installed by hand. DATABASE_URL, CELERY_BROKER_URL and EMAIL_BACKEND switch it to
PostgreSQL, Redis and a real provider.
"""

import os
from pathlib import Path

import dj_database_url
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.getenv("HERALD_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    return os.getenv(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.getenv(name, default))


SECRET_KEY = os.getenv("SECRET_KEY", "herald-dev-only-insecure-key")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h for h in os.getenv("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: runserver (what `make run` starts) leaves /static/ to Herald, as gunicorn does;
    # Django's own development handler answers a `..` path with a 500 (SuspiciousFileOperation).
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "anymail",
    # Herald's own, from the ground up (docs/architecture.md): each imports only those above it here.
    "core",
    "orgs",
    "recipients",
    "mailings",
    "campaigns",
    "sends",
    "suppressions",
    "outbound_webhooks",
    "providers",
    "dispatch",
    "provider_events",
    "intake",
    "dialects",
    "privacy",
]

MIDDLEWARE = [
    "config.middleware.NativeRequestChecksMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

# Staff log in as Django users; their memberships' roles (orgs/roles.py) say what they may do in each org.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "orgs.roles.RoleBackend"]
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# SQLite is the embedded default. WAL lets the web process read while the worker writes, IMMEDIATE
# transactions take the write lock up front (no "database is locked" on lock upgrade), and the timeout
# makes a writer wait for another instead of failing.
SQLITE_PATH = VAR_DIR / "herald.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", f"sqlite:///{SQLITE_PATH}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", VAR_DIR / "static"))
# WhiteNoise serves what `collectstatic` put in STATIC_ROOT, so gunicorn alone serves the admin's assets;
# without a collectstatic (`make run`), config/urls.py serves them from the apps.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["orgs.auth.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["orgs.auth.HasScope"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.StrictLimitOffsetPagination",
    # JSON only: the API documents and accepts one request format.
    # Bounded (core/inputs.py): too deep, NUL, lone surrogates are a 400 naming the field, before any view.
    "DEFAULT_PARSER_CLASSES": ["core.wire.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["core.wire.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["orgs.throttling.OrgRateThrottle"],
    "UNAUTHENTICATED_USER": None,
}

# The OpenAPI schema at /api/schema/, interactive docs at /api/docs/ with assets served by Herald (no CDN).
SPECTACULAR_SETTINGS = {
    "TITLE": "Herald API",
    "DESCRIPTION": (
        "Triggered email and SMS: campaigns, triggers, the send log. The native API's errors have the shape "
        '{"error": {"code", "message", "problems": [{"field", "message"}]}}; '
        "the vendor dialects answer in their vendors' own shapes."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CampaignStatusEnum": "campaigns.models.Campaign.Status",
        "SendStatusEnum": "sends.models.Send.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.add_error_responses",
    ],
}

# Email: the outbox folder by default (one .eml per message); any Anymail backend in production, e.g.
# EMAIL_BACKEND=anymail.backends.postmark.EmailBackend with ANYMAIL_POSTMARK_SERVER_TOKEN set.
EMAIL_BACKEND = os.getenv("EMAIL_BACKEND", "dispatch.outbox.OutboxEmailBackend")
SMS_BACKEND = os.getenv("SMS_BACKEND", "dispatch.sms.OutboxSMSBackend")
# Phone numbers without a country code are read as this region's (ISO 3166 code, e.g. DE); empty: every
# number must be international (+49…). Numbers are stored in E.164 either way.
HERALD_PHONE_REGION = os.getenv("HERALD_PHONE_REGION", "").upper()
# The Twilio SMS backend (SMS_BACKEND=dispatch.twilio.TwilioSMSBackend) and its delivery-status callback.
TWILIO_ACCOUNT_SID = os.getenv("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.getenv("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM = os.getenv("TWILIO_FROM", "")  # a number in E.164, or an alphanumeric sender id
TWILIO_MESSAGING_SERVICE_SID = os.getenv("TWILIO_MESSAGING_SERVICE_SID", "")  # instead of TWILIO_FROM
# The public URL of /sms/twilio/status/ as Twilio reaches it; given with each message, and the URL the
# callback's signature is checked against (behind a proxy, Herald cannot know it for itself).
TWILIO_STATUS_CALLBACK_URL = os.getenv("TWILIO_STATUS_CALLBACK_URL", "")
HERALD_OUTBOX_DIR = Path(os.getenv("HERALD_OUTBOX_DIR", VAR_DIR / "outbox"))
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "herald@localhost")
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_") and key != "ANYMAIL_WEBHOOK_SECRET"
}
if os.getenv("ANYMAIL_WEBHOOK_SECRET"):
    ANYMAIL["WEBHOOK_SECRET"] = os.environ["ANYMAIL_WEBHOOK_SECRET"]

# Celery. Kombu's filesystem transport is the embedded default: it needs no server and, unlike the
# SQLAlchemy transport on SQLite, does not compete with the app for the database's single write lock.
CELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Kombu's, with messages written whole before a consumer can see them (config/broker.py).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    # Tasks on threads of the worker process. The prefork pool, on a transport without an event loop,
    # has its children take jobs from one pipe under one semaphore, which an idle child holds while it
    # waits: a child killed then takes the semaphore with it, and the pool never runs another task.
    CELERY_WORKER_POOL = "threads"
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # Broadcasts (celery inspect, control) go through this folder; Kombu's default is ./control.
        "control_folder": str(_broker_dir / "control"),
    }
else:
    # Longer than any lease or retry delay below, so Redis never re-delivers a task a worker still runs.
    # "priority": a worker asks for the queues in CELERY_TASK_QUEUES's order, the interactive one first,
    # every time (Kombu's default takes turns, which gives a 1-send task and a 100-send task equal shares).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        "queue_order_strategy": "priority",
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "herald"
# Triggers of at most HERALD_INTERACTIVE_MAX_SENDS sends are dispatched from a queue of their own; a worker
# started without -Q consumes both, the interactive one first, so a bulk backlog never delays them: a
# single send waits at most for a worker process to finish the chunk it has. Dedicated workers:
# `celery -A config worker -Q interactive`.
HERALD_INTERACTIVE_QUEUE = "interactive"
HERALD_INTERACTIVE_MAX_SENDS = env_int("HERALD_INTERACTIVE_MAX_SENDS", 10)
CELERY_TASK_QUEUES = [
    Queue(name, routing_key=name) for name in (HERALD_INTERACTIVE_QUEUE, CELERY_TASK_DEFAULT_QUEUE)
]
# Keep the worker's database connection between tasks (config/celery.py closes only broken or old ones).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Seconds between retention runs (each stops after half of it and the next goes on).
HERALD_RETENTION_INTERVAL = float(os.getenv("HERALD_RETENTION_INTERVAL", "3600"))
# The sweeps are not here: `manage.py sweep` runs them in a process of its own (docs/reliability.md).
CELERY_BEAT_SCHEDULE = {
    "purge-idempotent-requests": {"task": "orgs.tasks.purge_idempotent_requests", "schedule": 3600.0},
    "purge-expired-sends": {
        "task": "privacy.tasks.purge_expired_sends",
        "schedule": HERALD_RETENTION_INTERVAL,
    },
}

# Redis for counters shared by every web process (API rate limits); without Redis (the embedded default)
# an in-process cache, which counts per process.
REDIS_URL = os.getenv("REDIS_URL", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# How long an invitation to join an org can be accepted: its link works once, and only this many days.
HERALD_INVITATION_DAYS = env_int("HERALD_INVITATION_DAYS", 7)
# How long the answer to a write with an Idempotency-Key is kept for its retries (at least a day).
HERALD_IDEMPOTENCY_HOURS = max(env_int("HERALD_IDEMPOTENCY_HOURS", 48), 24)
# API requests per org per minute (each org may have its own); 0 turns the limit off.
HERALD_RATE_LIMIT_PER_MINUTE = env_int("HERALD_RATE_LIMIT_PER_MINUTE", 6000)
# Failed authentications per client address per minute, on every API; past it, 429 until the minute ends.
# 0 turns it off.
HERALD_AUTH_FAILURES_PER_MINUTE = env_int("HERALD_AUTH_FAILURES_PER_MINUTE", 30)

# The pipeline's knobs.
HERALD_CHUNK_SIZE = env_int("HERALD_CHUNK_SIZE", 100)
HERALD_MAX_BATCH = env_int("HERALD_MAX_BATCH", 1000)
# Rows of a list uploaded in the admin ("Send to a list"): one trigger, checked and accepted by a worker.
HERALD_MAX_LIST_ROWS = env_int("HERALD_MAX_LIST_ROWS", 100_000)
HERALD_MAX_ATTEMPTS = env_int("HERALD_MAX_ATTEMPTS", 5)
HERALD_RETRY_BASE_SECONDS = env_int("HERALD_RETRY_BASE_SECONDS", 30)
HERALD_RETRY_MAX_SECONDS = env_int("HERALD_RETRY_MAX_SECONDS", 3600)
# A send left `queued` or `sending` this long is taken to be lost by its worker and is re-enqueued; and
# dispatch is stalled when sends wait this long with no worker finishing a chunk. A worker stops a chunk at
# half of it, and a provider call it started then has Anymail's 30 s timeout to end: 90 s leaves 15 s.
HERALD_LEASE_SECONDS = env_int("HERALD_LEASE_SECONDS", 90)
HERALD_SWEEP_INTERVAL = float(os.getenv("HERALD_SWEEP_INTERVAL", "5"))
HERALD_SWEEP_BATCH = env_int("HERALD_SWEEP_BATCH", 5000)
# Provider calls in flight at once in each worker process (threads; rendering and the database stay on
# the task's own thread). Throughput against a provider taking R seconds is at most this / R per process.
# It is also the bound of the fault promise: a worker killed mid-chunk may have sent up to this many
# messages it could not record, and the sweep marks that many as possible duplicates (docs/reliability.md).
HERALD_DISPATCH_IN_FLIGHT = max(1, env_int("HERALD_DISPATCH_IN_FLIGHT", 16))

# An org's own provider accounts (providers/): their credentials are encrypted with these Fernet keys, the
# first encrypting, all decrypting (rotation: docs/operations.md). Unset: a key derived from SECRET_KEY.
HERALD_PROVIDER_KEYS = [k.strip() for k in os.getenv("HERALD_PROVIDER_KEYS", "").split(",") if k.strip()]
# Provider API URLs and SMTP hosts an org gives may not be loopback or private addresses unless this is on.
HERALD_PROVIDER_ALLOW_PRIVATE_NETWORKS = env_bool("HERALD_PROVIDER_ALLOW_PRIVATE_NETWORKS", False)
# A provider account failing this many times within the window is skipped by every worker for the
# cool-down, then probed by one (dispatch/circuit.py).
HERALD_CIRCUIT_FAILURES = max(1, env_int("HERALD_CIRCUIT_FAILURES", 5))
HERALD_CIRCUIT_WINDOW_SECONDS = max(1, env_int("HERALD_CIRCUIT_WINDOW_SECONDS", 30))
HERALD_CIRCUIT_COOLDOWN_SECONDS = max(1, env_int("HERALD_CIRCUIT_COOLDOWN_SECONDS", 15))
# The server's provider accounts' limits, held by all workers together (counted in Redis; per process without
# it): calls in flight at once, and calls a second (SES publishes a maximum send rate; every ESP answers
# 429 past its own). 0 (the default): no limit, and no round trip to Redis for it. A 429 from a limited
# account stops every worker calling it for HERALD_PROVIDER_PAUSE_SECONDS. dispatch/limits.py, and
# docs/operations.md ("Provider limits").
HERALD_EMAIL_MAX_IN_FLIGHT = max(0, env_int("HERALD_EMAIL_MAX_IN_FLIGHT", 0))
HERALD_EMAIL_RATE_PER_SECOND = max(0.0, float(os.getenv("HERALD_EMAIL_RATE_PER_SECOND", "0")))
HERALD_SMS_MAX_IN_FLIGHT = max(0, env_int("HERALD_SMS_MAX_IN_FLIGHT", 0))
HERALD_SMS_RATE_PER_SECOND = max(0.0, float(os.getenv("HERALD_SMS_RATE_PER_SECOND", "0")))
HERALD_PROVIDER_PAUSE_SECONDS = max(0.0, float(os.getenv("HERALD_PROVIDER_PAUSE_SECONDS", "1")))
# A provider connection idle this long is closed before its next use rather than reused.
HERALD_PROVIDER_IDLE_SECONDS = env_int("HERALD_PROVIDER_IDLE_SECONDS", 30)

# LOG_FORMAT=json: one JSON object per line (a trigger accepted, each send's outcome, with org, campaign and
# correlation id as fields), for a log shipper; text (the default): the same fields as key=value.
LOG_FORMAT = os.getenv("LOG_FORMAT", "text").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "config.logging.TextFormatter"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "text"}
    },
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
}
# /metrics answers a bearer token equal to this; empty (the default), /metrics is off (404).
HERALD_METRICS_TOKEN = os.getenv("HERALD_METRICS_TOKEN", "")
# The domain of the Message-ID Herald gives each email: `<correlation-id@domain>`.
HERALD_MESSAGE_ID_DOMAIN = os.getenv("HERALD_MESSAGE_ID_DOMAIN", "herald.localhost")
# Where recipients reach Herald: the base of the one-click unsubscribe links in marketing mail.
HERALD_PUBLIC_URL = os.getenv("HERALD_PUBLIC_URL", "http://127.0.0.1:8000")
# A mailbox you process, offered beside the link in List-Unsubscribe; empty (the default) offers the link
# only, rather than an address nobody reads.
HERALD_UNSUBSCRIBE_MAILTO = os.getenv("HERALD_UNSUBSCRIBE_MAILTO", "")
# Days after which sends lose their content, context and custom data, unless an org says otherwise;
# 0 keeps them for good.
HERALD_RETENTION_DAYS = env_int("HERALD_RETENTION_DAYS", 0)
HERALD_RETENTION_CHUNK = env_int("HERALD_RETENTION_CHUNK", 2000)
# Marketer-written templates: a render that runs longer, or writes more, fails its send.
HERALD_TEMPLATE_TIME_LIMIT = float(os.getenv("HERALD_TEMPLATE_TIME_LIMIT", "2"))
HERALD_TEMPLATE_MAX_CHARS = env_int("HERALD_TEMPLATE_MAX_CHARS", 2_000_000)
# {% for %} iterations per send, all loops of all parts together: checked by the engine on every thread.
HERALD_TEMPLATE_MAX_ITERATIONS = env_int("HERALD_TEMPLATE_MAX_ITERATIONS", 100_000)
HERALD_MAX_ATTACHMENTS = env_int("HERALD_MAX_ATTACHMENTS", 10)
HERALD_MAX_ATTACHMENT_BYTES = env_int("HERALD_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
HERALD_MAX_REQUEST_BYTES = env_int("HERALD_MAX_REQUEST_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = HERALD_MAX_REQUEST_BYTES
# Outbound webhooks post only to public addresses; true lets them reach loopback and private networks too
# (tests, receivers inside your own network). Cloud metadata addresses stay refused either way.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
# The admin dashboard: how long its 14-day counts are cached (0: not at all), and from how many sends a
# trigger gets a progress bar while it dispatches.
HERALD_DASHBOARD_CACHE_SECONDS = env_int("HERALD_DASHBOARD_CACHE_SECONDS", 30)
HERALD_DASHBOARD_PROGRESS_MIN = env_int("HERALD_DASHBOARD_PROGRESS_MIN", 100)
