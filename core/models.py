from django.db import models


class Tally(models.Model):
    """A Prometheus counter kept in the database (core.metrics.tally): added to in the transaction that
    records what it counts, so a process killed after that commit has counted and one killed before has
    not. Several rows (shards) a counter, so that workers committing at once do not queue on one row."""

    name = models.CharField(max_length=64)
    labels = models.CharField(max_length=200)
    shard = models.SmallIntegerField()
    value = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "labels", "shard"], name="core_tally_once")]

    def __str__(self) -> str:
        return f"{self.name} {self.labels} = {self.value}"
