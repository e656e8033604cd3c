"""Settings of the benchmark driver: Herald's own, pointed at the benchmark's databases.

`default` is the live system's database (the one the web and worker processes use); `sendlog` the
10-million-row send log, kept between runs because it takes minutes to build.
"""

import os

import dj_database_url

from config.settings import *  # noqa: F403

POSTGRES = os.getenv("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
SENDLOG_DB = os.getenv("BENCH_SENDLOG_DB", "herald_bench_sendlog")

DATABASES = {
    "default": dj_database_url.parse(f"{POSTGRES}/herald_bench", conn_max_age=600),
    "sendlog": dj_database_url.parse(f"{POSTGRES}/{SENDLOG_DB}", conn_max_age=600),
}
EMAIL_BACKEND = "bench.backends.CountingEmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = "memory://"
LOGGING = {"version": 1, "disable_existing_loggers": False}
# The outcome journal of dispatch in this process (bench/profile.py), in the benchmark's Redis db.
REDIS_URL = os.getenv("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
