from django.db import models


class WorkerProgress(models.Model):
    """When each worker last finished a chunk: what tells a stuck worker from one with nothing to do.

    One row per worker (its Celery node name), written at most once a second per process. The health
    check, the supervisor and a worker container's own check read it (dispatch/progress.py).
    """

    worker = models.CharField(max_length=255, primary_key=True)
    finished_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "worker progress"

    def __str__(self) -> str:
        return f"{self.worker} at {self.finished_at:%Y-%m-%d %H:%M:%S}"
