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

from campaigns.models import Campaign
from sends.models import Send, Trigger

Status = Send.Status
FAILURES = (Status.FAILED, Status.BOUNCED, Status.REJECTED)
# How each status is drawn: settled good, on its way, not sent on purpose, gone wrong.
STATUS_COLORS = {
    Status.DELIVERED: "#1b7f3b", Status.SENT: "#5cb85c", Status.SENDING: "#5bc0de", Status.QUEUED: "#9ecae1",
    Status.SCHEDULED: "#c6dbef", Status.SUPPRESSED: "#f0ad4e", Status.EXPIRED: "#d9a86c",
    Status.COMPLAINED: "#8e44ad", Status.BOUNCED: "#e4606d", Status.REJECTED: "#c0392b",
    Status.FAILED: "#8b0000", Status.CANCELLED: "#bdbdbd", Status.CAPPED: "#a1887f",
    Status.DEDUPLICATED: "#cfc4bd",
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


# A past day's counts change only as late delivery events arrive: they are counted again this often.
PAST_DAY_SECONDS = 600


def daily_counts(*, sends: QuerySet, since: datetime, until: datetime | None = None) -> list[dict]:
    """Sends created in [since, until) counted by day, status and campaign (an index covers all four)."""
    window = sends.order_by().filter(created_at__gte=since)
    if until is not None:
        window = window.filter(created_at__lt=until)
    return list(
        window.annotate(day=TruncDate("created_at"))
        .values("day", "status", "campaign_id")
        .annotate(n=Count("*"))
    )


def dashboard_build(
    *, sends: QuerySet, triggers: QuerySet, cache_key: str, days: int = 14, queue: bool = True
) -> Dashboard:
    """The figures; `queue=False` leaves out the queue and dispatch progress (what marketers need not)."""
    now = timezone.now()
    today = now.astimezone(timezone.get_current_timezone()).date()
    day_list = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    rows = _counts_by_day(sends=sends, days=day_list, cache_key=cache_key)

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

    if not queue:
        return Dashboard(
            days=day_list, per_day=per_day, campaigns=campaigns[:10], queued=0, oldest_queued_seconds=None,
            sending=0, due=0, stuck=False, progress=[],
        )  # fmt: skip
    waiting = sends.order_by().filter(status=Status.QUEUED).aggregate(n=Count("*"), oldest=Min("queued_at"))
    oldest = int((now - waiting["oldest"]).total_seconds()) if waiting["oldest"] else None
    return Dashboard(
        days=day_list, per_day=per_day, campaigns=campaigns[:10], queued=waiting["n"],
        oldest_queued_seconds=oldest,
        sending=sends.order_by().filter(status=Status.SENDING).count(),
        due=sends.order_by().filter(status=Status.SCHEDULED, scheduled_at__lte=now).count(),
        # Past the lease the sweep would have re-enqueued it: nobody is taking work off the queue.
        stuck=oldest is not None and oldest > settings.HERALD_LEASE_SECONDS,
        progress=triggers_in_progress(sends=sends, triggers=triggers),
    )  # fmt: skip


def _counts_by_day(*, sends: QuerySet, days: list[date], cache_key: str) -> list[dict]:
    """Each day's counts, past days from the cache when it has them: an uncached look counts today only."""
    ttl = settings.HERALD_DASHBOARD_CACHE_SECONDS
    keys = {day: f"{cache_key}:{day.isoformat()}" for day in days}
    cached = cache.get_many(list(keys.values())) if ttl else {}
    by_day = {day: cached[keys[day]] for day in days if keys[day] in cached}
    missing = [day for day in days if day not in by_day]
    if missing:
        fresh: dict[date, list[dict]] = {day: [] for day in missing}
        for row in daily_counts(
            sends=sends, since=_start_of(missing[0]), until=_start_of(missing[-1] + timedelta(days=1))
        ):
            if row["day"] in fresh:
                fresh[row["day"]].append(row)
        by_day.update(fresh)
        if ttl:
            today = days[-1]
            cache.set_many({keys[day]: rows for day, rows in fresh.items() if day != today}, PAST_DAY_SECONDS)
            if today in fresh:
                cache.set(keys[today], fresh[today], ttl)
    return [row for day in days for row in by_day[day]]


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


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
