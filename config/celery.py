import os
from pathlib import Path

from celery import Celery, signals

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
    from mailings import metrics

    metrics.flush()
