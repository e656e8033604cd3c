"""The admin index's dashboard: what the send log did in the last days, and whether the queue is moving.

Every query is bounded: by date over an index (the daily counts), by the queue's partial indexes (its
depth and age), or by the few triggers being dispatched now (progress).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from mailings.models import Send

from .models import Campaign, Trigger

Status = Send.Status
FAILURES = (Status.FAILED, Status.BOUNCED, Status.REJECTED)
# How each status is drawn: settled good, on its way, not sent on purpose, gone wrong.
STATUS_COLORS = {
    Status.DELIVERED: "#1b7f3b", Status.SENT: "#5cb85c", Status.SENDING: "#5bc0de", Status.QUEUED: "#9ecae1",
    Status.SCHEDULED: "#c6dbef", Status.SUPPRESSED: "#f0ad4e", Status.EXPIRED: "#d9a86c",
    Status.COMPLAINED: "#8e44ad", Status.BOUNCED: "#e4606d", Status.REJECTED: "#c0392b",
    Status.FAILED: "#8b0000",
}  # fmt: skip


@dataclass
class CampaignFailures:
    campaign: str
    campaign_id: int | None
    sends: int
    failed: int

    @property
    def rate(self) -> float:
        return self.failed / self.sends if self.sends else 0.0


@dataclass
class Progress:
    trigger: Trigger
    total: int
    done: int
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100


@dataclass
class Dashboard:
    days: list[date]
    per_day: dict[date, dict[str, int]]
    campaigns: list[CampaignFailures]
    queued: int
    oldest_queued_seconds: int | None
    sending: int
    due: int
    stuck: bool
    progress: list[Progress]


def daily_counts(*, sends: QuerySet, since: datetime) -> list[dict]:
    """Sends since a moment counted by day, status and campaign (from an index covering all three)."""
    return list(
        sends.order_by()
        .filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "status", "campaign_id")
        .annotate(n=Count("*"))
    )


def dashboard_build(*, sends: QuerySet, triggers: QuerySet, cache_key: str, days: int = 14) -> Dashboard:
    now = timezone.now()
    today = now.astimezone(timezone.get_current_timezone()).date()
    day_list = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    since = timezone.make_aware(datetime.combine(day_list[0], datetime.min.time()))
    rows = cache.get(cache_key) if settings.HERALD_DASHBOARD_CACHE_SECONDS else None
    if rows is None:
        rows = daily_counts(sends=sends, since=since)
        if settings.HERALD_DASHBOARD_CACHE_SECONDS:
            cache.set(cache_key, rows, settings.HERALD_DASHBOARD_CACHE_SECONDS)

    per_day: dict[date, dict[str, int]] = {day: {} for day in day_list}
    per_campaign: dict[int | None, list[int]] = {}
    for row in rows:
        if row["day"] in per_day:
            per_day[row["day"]][row["status"]] = per_day[row["day"]].get(row["status"], 0) + row["n"]
        totals = per_campaign.setdefault(row["campaign_id"], [0, 0])
        totals[0] += row["n"]
        totals[1] += row["n"] if row["status"] in FAILURES else 0
    names = dict(Campaign.objects.filter(pk__in=[pk for pk in per_campaign if pk]).values_list("pk", "key"))
    campaigns = sorted(
        (CampaignFailures(names.get(pk, "(test sends)" if pk is None else str(pk)), pk, total, failed)
         for pk, (total, failed) in per_campaign.items()),
        key=lambda c: (-c.rate, -c.sends),
    )  # fmt: skip

    queue = sends.order_by().filter(status=Status.QUEUED).aggregate(n=Count("*"), oldest=Min("queued_at"))
    oldest = int((now - queue["oldest"]).total_seconds()) if queue["oldest"] else None
    return Dashboard(
        days=day_list, per_day=per_day, campaigns=campaigns[:10], queued=queue["n"],
        oldest_queued_seconds=oldest,
        sending=sends.order_by().filter(status=Status.SENDING).count(),
        due=sends.order_by().filter(status=Status.SCHEDULED, scheduled_at__lte=now).count(),
        # Past the lease the sweep would have re-enqueued it: nobody is taking work off the queue.
        stuck=oldest is not None and oldest > settings.HERALD_LEASE_SECONDS,
        progress=triggers_in_progress(sends=sends, triggers=triggers),
    )  # fmt: skip


def triggers_in_progress(*, sends: QuerySet, triggers: QuerySet, limit: int = 5) -> list[Progress]:
    """Large triggers with sends still queued or being sent, and how far their dispatch has got."""
    waiting = sends.order_by().filter(status__in=[Status.QUEUED, Status.SENDING], trigger__isnull=False)
    # A bounded look at the queue finds the triggers in flight without reading all of it.
    trigger_ids = set(waiting.values_list("trigger_id", flat=True)[:10_000])
    large = list(
        triggers.filter(pk__in=trigger_ids, send_count__gte=settings.HERALD_DASHBOARD_PROGRESS_MIN)
        .select_related("campaign")
        .order_by("-pk")[:limit]
    )
    if not large:
        return []
    counts: dict[int, dict[str, int]] = {t.pk: {} for t in large}
    for row in (
        sends.order_by().filter(trigger_id__in=counts).values("trigger_id", "status").annotate(n=Count("*"))
    ):
        counts[row["trigger_id"]][row["status"]] = row["n"]
    return [
        Progress(
            trigger=t,
            total=t.send_count,
            by_status=counts[t.pk],
            done=sum(n for status, n in counts[t.pk].items() if status in Send.FINAL_STATUSES),
        )  # fmt: skip
        for t in large
    ]
