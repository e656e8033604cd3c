import os
from pathlib import Path

from celery import Celery, signals
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("herald")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_filesystem_broker_folders(sender: Celery, **kwargs) -> None:
    # Kombu's filesystem transport expects its folders to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@signals.setup_logging.connect
def _use_django_logging(**kwargs) -> None:
    # Connected, this keeps Celery from installing its own handlers: workers log through settings.LOGGING,
    # so LOG_FORMAT=json holds for them too.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.task_postrun.connect
def _flush_metrics(**kwargs) -> None:
    # A task's counts (each send's outcome) go to the shared totals in one round trip, after the task.
    from core import metrics

    metrics.flush()


# Celery's Django fixup closes the database connection around every task unless CELERY_DB_REUSE_MAX is
# set (see settings): a new PostgreSQL connection for every chunk, and for every single-recipient trigger.
# Instead, what Django does around each web request: close a connection only when it is broken or older
# than CONN_MAX_AGE, so a worker keeps its connection and still recovers from a database restart.
@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender=None, **kwargs) -> None:
    if not getattr(sender.request, "is_eager", False):  # an eager task runs inside its caller's transaction
        close_old_connections()
