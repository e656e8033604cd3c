"""7. The send log at scale: the API's and the webhook's look-ups in a table of 10 million sends.

The rows are generated set-based in PostgreSQL (INSERT … SELECT from generate_series, in two sessions,
with the indexes dropped and rebuilt afterwards), once, in a database of their own that later runs reuse
(herald_bench_sendlog; --quick uses herald_bench_sendlog_quick with 100,000 rows). The spread: 20 orgs,
one of them with half the sends; 10 campaigns an org, skewed so each org's first campaign has about a
third of its sends; 1 million recipients; 180 days of history; mostly delivered, some sent, bounced,
failed, suppressed, complained and expired. Rows carry a subject, a short text and no HTML, so the heap is
narrower than production's (where each row keeps its ~2 KB rendered HTML, mostly in TOAST); the index
look-ups are the same.

Each query is the queryset the API (or the tracking webhook) builds, run through the ORM, against a
different, randomly chosen send or campaign each time.
"""

import random
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from functools import partial

import psycopg
from django.conf import settings
from django.db import connections
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext

from bench import system
from campaigns.models import Campaign
from config.pagination import StrictLimitOffsetPagination
from mailings.models import Mailing
from orgs.models import Org
from sends.models import DeliveryEvent, Send

ALIAS = "sendlog"
ORGS = 20
CAMPAIGNS_PER_ORG = 10
RECIPIENTS = 1_000_000
DAYS = 180
# A low-volume campaign in the big org (a password reset beside its order mails): 1 in 5,000 of its sends.
RARE_CAMPAIGN = ORGS * CAMPAIGNS_PER_ORG + 1
RARE_SHARE = 0.0002
SPEC = "v2"  # change when the generated data changes: a kept send log of another spec is rebuilt


@dataclass
class QueryTiming:
    name: str
    seconds: list[float]
    explain: str

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.seconds, n=100, method="inclusive")[p - 1]


@dataclass
class SendlogResult:
    rows: int
    generated: bool
    generate_seconds: float
    queries: list[QueryTiming]
    table_size: str


def database_name() -> str:
    return settings.DATABASES[ALIAS]["NAME"]


def _connect() -> psycopg.Connection:
    return psycopg.connect(system.database_url(database_name()), autocommit=True)


def existing_rows() -> int | None:
    if not system.database_exists(database_name()):
        return None
    with _connect() as conn:
        exists = conn.execute("SELECT to_regclass('bench_sendlog')").fetchone()[0]
        if exists is None:
            return None
        columns = conn.execute("SELECT * FROM bench_sendlog").fetchone()
        rows, spec = columns[0], columns[1]
        return rows if spec == SPEC else None


def ensure(rows: int) -> tuple[bool, float]:
    """Build the send log unless a complete one of this size is there; (built now, seconds it took)."""
    start = time.monotonic()
    if existing_rows() == rows:
        try:
            system.migrate(database_name())  # a migration added since is applied to the kept table too
            return False, 0.0
        except subprocess.CalledProcessError:
            print("the kept send log does not migrate (another branch's migrations?): building it anew")
    system.database_recreate(database_name())
    system.migrate(database_name())
    _orgs_campaigns()
    with _connect() as conn:
        conn.execute(f"""
            INSERT INTO recipients_recipient
                (id, org_id, email, phone, external_id, first_name, last_name, locale, attributes,
                 created_at, updated_at)
            SELECT r, 1 + (r - 1) % {ORGS}, 'r' || r || '@customers.example.com', NULL, NULL, 'Ada',
                   'Example', 'en', '{{}}', now() - interval '{DAYS} days', now() - interval '{DAYS} days'
            FROM generate_series(1, {RECIPIENTS}) r
        """)
        conn.execute("SELECT setval(pg_get_serial_sequence('recipients_recipient', 'id'), %s)", [RECIPIENTS])
        dropped = _drop_indexes(conn, Send._meta.db_table)
    halves = [(1, rows // 2), (rows // 2 + 1, rows)]
    _in_parallel([lambda lo=lo, hi=hi: _insert_sends(lo, hi, rows) for lo, hi in halves])
    _in_parallel([lambda part=part: _create(part) for part in (dropped[0::2], dropped[1::2])])
    with _connect() as conn:
        conn.execute("SELECT setval(pg_get_serial_sequence('sends_send', 'id'), %s)", [rows])
        conn.execute("VACUUM (ANALYZE) sends_send")
        conn.execute("ANALYZE")
        conn.execute(
            "CREATE TABLE bench_sendlog (rows bigint, spec text, generated_at timestamptz DEFAULT now())"
        )
        conn.execute("INSERT INTO bench_sendlog (rows, spec) VALUES (%s, %s)", [rows, SPEC])
    return True, time.monotonic() - start


def _orgs_campaigns() -> None:
    for o in range(1, ORGS + 1):
        org = Org.objects.using(ALIAS).create(id=o, name=f"Org {o}")
        mailing = Mailing.objects.using(ALIAS).create(id=o, org=org, name="Order confirmation")
        Campaign.objects.using(ALIAS).bulk_create(
            Campaign(
                id=(o - 1) * CAMPAIGNS_PER_ORG + c,
                org=org,
                key=f"campaign-{c}",
                name=f"Campaign {c}",
                email_mailing=mailing,
            )  # fmt: skip
            for c in range(1, CAMPAIGNS_PER_ORG + 1)
        )
        if o == 1:
            Campaign.objects.using(ALIAS).create(
                id=RARE_CAMPAIGN, org=org, key="password-reset", name="Password reset", email_mailing=mailing
            )
    with _connect() as conn:
        for table in ("orgs_org", "mailings_mailing", "campaigns_campaign"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )


def _drop_indexes(conn: psycopg.Connection, table: str) -> list[str]:
    """Drop every index but the primary key; return the statements that recreate them."""
    recreate = []
    for name, definition in conn.execute(
        """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conrelid = %s::regclass AND contype = 'u'""",
        [table],
    ).fetchall():
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        recreate.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in conn.execute(
        """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s
           AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)""",
        [table, table],
    ).fetchall():
        conn.execute(f'DROP INDEX "{name}"')
        recreate.append(definition)
    return recreate


def _insert_sends(lo: int, hi: int, rows: int) -> None:
    step = 1_000_000
    with _connect() as conn:
        # Foreign keys hold by construction; skipping their per-row triggers makes the load minutes shorter.
        conn.execute("SET session_replication_role = replica")
        for first in range(lo, hi + 1, step):
            last = min(first + step - 1, hi)
            conn.execute(
                f"""
                INSERT INTO sends_send
                    (id, correlation_id, status, channel, to_address, locale, from_email, context, metadata,
                     subject, text, html, scheduled_at, expires_at, queued_at, claimed_at, claim_token,
                     sent_at, attempts, provider_message_id, last_error, possibly_duplicated, test,
                     created_at, updated_at, campaign_id, mailing_id, org_id, recipient_id,
                     retriggered_from_id, trigger_id)
                SELECT i, gen_random_uuid(), status, 'email', 'r' || recipient || '@customers.example.com',
                       'en', '', jsonb_build_object('order_number', 'A-' || i), '{{}}',
                       'Order A-' || i || ' confirmed, Ada',
                       'Hi Ada, thank you for your order A-' || i || '. It will be with you on Tuesday.',
                       '', NULL, NULL, created, created + interval '1 second', NULL,
                       CASE WHEN status IN ('failed', 'suppressed', 'expired') THEN NULL
                            ELSE created + interval '2 seconds' END,
                       1,
                       CASE WHEN status IN ('failed', 'suppressed', 'expired') THEN ''
                            ELSE md5(i::text) END,
                       CASE WHEN status = 'failed' THEN 'provider answered 422' ELSE '' END,
                       false, false, created, created + interval '2 seconds',
                       CASE WHEN org = 1 AND r2 < {RARE_SHARE}
                            THEN {RARE_CAMPAIGN}
                            ELSE (org - 1) * {CAMPAIGNS_PER_ORG} + 1
                                 + floor(r2 * r2 * {CAMPAIGNS_PER_ORG})::int
                       END,
                       org, org, recipient, NULL, NULL
                FROM (
                    SELECT *, org + {ORGS} * floor(r3 * {RECIPIENTS // ORGS})::int AS recipient
                    FROM (
                    SELECT i, r2, r3,
                           CASE WHEN r1 < 0.5 THEN 1 ELSE 2 + floor((r1 - 0.5) * 2 * {ORGS - 1})::int END
                               AS org,
                           CASE WHEN r4 < 0.80 THEN 'delivered' WHEN r4 < 0.90 THEN 'sent'
                                WHEN r4 < 0.93 THEN 'bounced' WHEN r4 < 0.95 THEN 'failed'
                                WHEN r4 < 0.97 THEN 'suppressed' WHEN r4 < 0.98 THEN 'complained'
                                ELSE 'expired' END AS status,
                           now() - interval '{DAYS} days' * ({rows} - i)::float / {rows} AS created
                    FROM (SELECT i, random() AS r1, random() AS r2, random() AS r3, random() AS r4
                          FROM generate_series({first}, {last}) i) numbers
                    ) spread
                ) s
                """
            )


def _create(statements: list[str]) -> None:
    with _connect() as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET max_parallel_maintenance_workers = 0")
        for statement in statements:
            conn.execute(statement)


def _in_parallel(jobs: list) -> None:
    errors: list[BaseException] = []

    def run(job) -> None:
        try:
            job()
        except BaseException as exc:  # reported below, in the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


# The querysets, as the API's send list (mailings.api.SendViewSet) and the tracking webhook
# (provider_events.tracking) build them.
def _api_list(org_id: int):
    return (
        Send.objects.using(ALIAS)
        .filter(org_id=org_id)
        .select_related("campaign", "trigger")
        .prefetch_related(Prefetch("events", queryset=DeliveryEvent.objects.order_by("occurred_at", "pk")))
    )


def by_correlation_id(org_id: int, correlation_id):
    return _api_list(org_id).filter(correlation_id=correlation_id).order_by("-id")[:50]


def by_provider_message_id(provider_message_id: str):
    return (
        Send.objects.using(ALIAS)
        .select_related("org")
        .filter(provider_message_id=provider_message_id)
        .order_by("-pk")[:1]
    )


def _campaign_id(org_id: int, campaign_key: str) -> int:
    """What the API does first with `?campaign=<key>`: the org's campaign by its key (mailings.api)."""
    found = Campaign.objects.using(ALIAS).filter(org_id=org_id, key=campaign_key).values_list("pk", flat=True)
    return found.first() or 0


def campaign_latest(org_id: int, campaign_key: str):
    """The API's list filtered by campaign: `?campaign=<key>`, the key resolved to the campaign's id first."""
    return _api_list(org_id).filter(campaign_id=_campaign_id(org_id, campaign_key)).order_by("-id")[:50]


def campaign_latest_by_id(org_id: int, campaign_id: int):
    """The same list for a campaign id the caller has, which the (campaign, org, -id) index answers."""
    return _api_list(org_id).filter(campaign_id=campaign_id).order_by("-id")[:50]


def campaign_count(org_id: int, campaign_key: str):
    """What the API's paginator (config.pagination) adds to every list page: the total, up to a cap."""
    queryset = Send.objects.using(ALIAS).filter(org_id=org_id, campaign_id=_campaign_id(org_id, campaign_key))
    return queryset.order_by()[: StrictLimitOffsetPagination.COUNT_CAP + 1]


def _time(name: str, querysets: list, *, count: bool = False, budget: float = 5.0) -> QueryTiming:
    """Build and run each queryset once (fewer if they take longer than `budget` seconds, but at least 5).

    Each is a callable that builds the queryset, so what the API looks up first (a campaign's id) is timed.
    """
    seconds: list[float] = []
    for make in querysets:
        start = time.perf_counter()
        queryset = make()
        queryset.count() if count else list(queryset)
        seconds.append(time.perf_counter() - start)
        if len(seconds) >= 5 and sum(seconds) > budget:
            break
    return QueryTiming(name, seconds, explain(querysets[0](), count=count))


def explain(queryset, *, count: bool = False) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the main statement the ORM sends for the queryset."""
    connection = connections[ALIAS]
    with CaptureQueriesContext(connection) as captured:
        queryset.all().count() if count else list(queryset.all())
    sql = captured.captured_queries[0]["sql"]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    select, _, rest = sql.partition(" FROM ")
    columns = select.count(", ") + 1
    return f"SELECT <{columns} columns> FROM {rest}\n\n{plan}" if columns > 1 else f"{sql}\n\n{plan}"


def run(rows: int, *, lookups: int = 200) -> SendlogResult:
    generated, generate_seconds = ensure(rows)
    rng = random.Random(20261122)
    sample = list(
        Send.objects.using(ALIAS)
        .filter(pk__in=[rng.randint(1, rows) for _ in range(lookups * 2)])
        .exclude(provider_message_id="")
        .values_list("org_id", "correlation_id", "provider_message_id")[:lookups]
    )
    campaigns = []
    for _ in range(lookups):
        org, c = rng.randint(1, ORGS), rng.randint(1, CAMPAIGNS_PER_ORG)
        campaigns.append((org, (org - 1) * CAMPAIGNS_PER_ORG + c, f"campaign-{c}"))
    rare = [(1, "password-reset")] * lookups
    largest = [(1, "campaign-1")] * lookups
    for org_id, correlation_id, _ in sample[:20]:  # warm the connection and the catalog caches
        list(by_correlation_id(org_id, correlation_id))
    queries = [
        _time("by correlation id (API)", [partial(by_correlation_id, o, c) for o, c, _ in sample]),
        _time("by provider message id (webhook)", [partial(by_provider_message_id, p) for _, _, p in sample]),
        _time("campaign's latest 50 by id", [partial(campaign_latest_by_id, o, c) for o, c, _ in campaigns]),
        _time("campaign's latest 50 (API)", [partial(campaign_latest, o, k) for o, _, k in campaigns]),
        _time("low-volume campaign's latest 50 (API)", [partial(campaign_latest, o, k) for o, k in rare]),
        _time(
            "largest campaign's total (API paginator)",
            [partial(campaign_count, o, k) for o, k in largest],
            count=True,
        ),
    ]
    with _connect() as conn:
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('sends_send'))").fetchone()[0]
    return SendlogResult(rows, generated, generate_seconds, queries, size)
