"""Settings for the peer, django-post-office: Herald's settings plus post_office, in a database of its own.

`BENCH_PEER_PROFILE=fastest` (the default) is the configuration the issue names as post_office's fastest:
batches of 1,000 (`send_queued_mail --processes 2` is given by the caller); `defaults` leaves every
post_office setting at its default (batches of 100). Both deliver through the same counting backend as
Herald and log each sent email (LOG_LEVEL 2, the default), as Herald records each outcome.
"""

import os

import dj_database_url

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

POSTGRES = os.getenv("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")

INSTALLED_APPS = [*INSTALLED_APPS, "post_office"]
DATABASES = {"default": dj_database_url.parse(f"{POSTGRES}/herald_bench_peer", conn_max_age=600)}
EMAIL_BACKEND = "post_office.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = "memory://"
POST_OFFICE = {"BACKENDS": {"default": "bench.backends.CountingEmailBackend"}}
if os.getenv("BENCH_PEER_PROFILE", "fastest") == "fastest":
    POST_OFFICE["BATCH_SIZE"] = 1000
if os.getenv("BENCH_PEER_PROFILE") == "latency":
    # Through Anymail's Postmark backend to the stand-in (bench/provider.py), 50 threads a process.
    POST_OFFICE.update(BATCH_SIZE=1000, THREADS_PER_PROCESS=50)
    POST_OFFICE["BACKENDS"] = {"default": os.environ["EMAIL_BACKEND"]}
