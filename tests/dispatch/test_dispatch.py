import threading
import time
import uuid
from datetime import timedelta

import pytest
from anymail.exceptions import AnymailRecipientsRefused
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import CampaignKind
from config.celery import app as celery_app
from dispatch import attempt, chunk, journal, record, sms
from dispatch.chunk import sends_dispatch
from dispatch.claim import sends_claim
from dispatch.record import outcome_record
from dispatch.sweep import broker_backlog, sends_sweep
from outbound_webhooks.models import WebhookEndpoint
from sends.models import Send
from sends.queue import sends_enqueue
from tests import backends
from tests.factories import CampaignFactory, RecipientFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db
Status = Send.Status


def test_a_send_is_rendered_delivered_and_recorded(make_send):
    send = make_send()
    assert sends_dispatch(send_ids=[send.id]) == {"sent": 1}
    send.refresh_from_db()
    assert send.status == Status.SENT
    assert send.attempts == 1
    assert send.sent_at is not None
    assert send.subject == "Order 42 confirmed"
    assert "Hello Ada" in send.text
    [message] = mail.outbox
    assert message.to == [send.to_address]
    assert message.extra_headers["Message-ID"] == f"<{send.correlation_id}@herald.localhost>"
    assert send.provider_message_id == str(message.anymail_status.message_id)


def test_a_duplicate_dispatch_sends_nothing_more(make_send):
    send = make_send()
    sends_dispatch(send_ids=[send.id])
    assert sends_dispatch(send_ids=[send.id]) == {}
    send.refresh_from_db()
    assert send.status == Status.SENT
    assert send.attempts == 1
    assert len(mail.outbox) == 1


def test_a_chunk_reuses_one_provider_connection_and_records_each(make_send):
    sends = [make_send() for _ in range(5)]
    assert sends_dispatch(send_ids=[s.id for s in sends]) == {"sent": 5}
    assert len(mail.outbox) == 5
    assert set(Send.objects.values_list("status", flat=True)) == {Status.SENT}


@pytest.mark.parametrize("kind", [CampaignKind.TRANSACTIONAL, CampaignKind.MARKETING])
def test_a_chunk_costs_the_same_queries_however_many_sends_it_holds(make_send, campaign, org, kind):
    # A chunk's recipients, mailings and campaigns are loaded once each, not once per send.
    campaign.kind = kind
    campaign.save()
    WebhookEndpoint.objects.create(org=org, url="https://hooks.example.com/herald")

    def queries_for(n: int) -> int:
        sends = [make_send(metadata={"order": i}) for i in range(n)]
        with CaptureQueriesContext(connection) as captured:
            assert sends_dispatch(send_ids=[s.id for s in sends]) == {"sent": n}
        return len(captured.captured_queries)

    assert queries_for(2) == queries_for(12)
    assert len(mail.outbox) == 14


def test_rendered_html_is_stored_compressed_with_lz4(make_send, campaign):
    campaign.email_mailing.html = "<p>{{ context.order_number }}</p>" + "<p>Lorem ipsum dolor</p>" * 300
    campaign.email_mailing.save()
    send = make_send()
    sends_dispatch(send_ids=[send.id])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_column_compression(html) FROM sends_send WHERE id = %s", [send.id])
        assert cursor.fetchone() == ("lz4",)


def test_an_sms_goes_to_the_sms_backend(org):
    campaign = CampaignFactory(org=org, email_mailing=None, sms_mailing=SmsMailingFactory(org=org))
    recipient = RecipientFactory(org=org, phone="+4915100000000")
    send = Send.objects.create(
        org=org, campaign=campaign, mailing=campaign.sms_mailing, recipient=recipient,
        channel="sms", to_address=recipient.phone, context={"code": "1234"},
    )  # fmt: skip
    sends_dispatch(send_ids=[send.id])
    [message] = sms.outbox
    assert (message.to, message.body) == ("+4915100000000", "Your code is 1234")
    send.refresh_from_db()
    assert send.status == Status.SENT and send.provider_message_id == message.provider_message_id


def test_a_template_error_fails_the_send_and_not_the_worker(make_send, campaign):
    campaign.email_mailing.text = "{% for x in %}"
    campaign.email_mailing.save()
    broken, fine = make_send(), make_send()
    fine.mailing = None  # a mailing deleted under a queued send fails cleanly too
    fine.save()
    assert sends_dispatch(send_ids=[broken.id, fine.id]) == {"failed": 2}
    broken.refresh_from_db()
    assert broken.status == Status.FAILED
    assert broken.last_error.startswith("Template error in text:")
    assert mail.outbox == []


@pytest.mark.parametrize("status", [500, 503, 429])
def test_provider_outages_are_retried_later_with_backoff(make_send, settings, status):
    settings.HERALD_RETRY_BASE_SECONDS = 30
    backends.script.append(backends.provider_error(status))
    send = make_send()
    before = timezone.now()
    assert sends_dispatch(send_ids=[send.id]) == {"scheduled": 1}
    send.refresh_from_db()
    assert send.status == Status.SCHEDULED
    assert str(status) in send.last_error
    assert 29 <= (send.scheduled_at - before).total_seconds() <= 31


def test_retry_after_from_the_provider_is_honoured(make_send, settings):
    settings.HERALD_RETRY_BASE_SECONDS = 1
    backends.script.append(backends.provider_error(429, retry_after="120"))
    send = make_send()
    sends_dispatch(send_ids=[send.id])
    send.refresh_from_db()
    assert (send.scheduled_at - timezone.now()).total_seconds() > 110


def test_backoff_doubles_each_attempt_and_the_last_attempt_fails(make_send, settings):
    settings.HERALD_MAX_ATTEMPTS = 3
    settings.HERALD_RETRY_BASE_SECONDS = 10
    backends.script.extend([backends.provider_error(500)] * 3)
    send = make_send()
    delays = []
    for _ in range(3):
        start = timezone.now()
        sends_dispatch(send_ids=[send.id])
        send.refresh_from_db()
        if send.status == Status.SCHEDULED:
            delays.append(round((send.scheduled_at - start).total_seconds()))
            Send.objects.filter(pk=send.pk).update(status=Status.QUEUED)
    assert delays == [10, 20]
    assert send.status == Status.FAILED
    assert send.attempts == 3
    assert send.last_error.startswith("Gave up after 3 attempts")
    assert mail.outbox == []


@pytest.mark.parametrize(
    "error",
    [backends.provider_error(400), backends.provider_error(422), AnymailRecipientsRefused("refused")],
)
def test_permanent_errors_fail_at_once(make_send, error):
    backends.script.append(error)
    send = make_send()
    assert sends_dispatch(send_ids=[send.id]) == {"failed": 1}
    send.refresh_from_db()
    assert send.status == Status.FAILED
    assert send.attempts == 1


def test_a_send_past_its_expiry_is_not_dispatched(make_send):
    send = make_send(expires_at=timezone.now() - timedelta(seconds=1))
    assert sends_dispatch(send_ids=[send.id]) == {"expired": 1}
    assert mail.outbox == []


@pytest.fixture
def published(monkeypatch):
    """The ids the sweep hands to the broker, read back from the real task's arguments in eager mode."""
    celery_app.conf.task_always_eager = True
    seen: list[int] = []
    original = sends_dispatch

    def recording(*, send_ids):
        seen.extend(send_ids)
        return original(send_ids=send_ids)

    monkeypatch.setattr("dispatch.tasks.sends_dispatch", recording)
    yield seen
    celery_app.conf.task_always_eager = False


def test_the_sweep_releases_scheduled_sends_when_due(make_send, published):
    now = timezone.now()
    due = make_send(status=Status.SCHEDULED, scheduled_at=now - timedelta(seconds=1), queued_at=None)
    later = make_send(status=Status.SCHEDULED, scheduled_at=now + timedelta(hours=1), queued_at=None)
    assert sends_sweep(now=now)["due"] == 1
    assert published == [due.id]
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == Status.SENT
    assert later.status == Status.SCHEDULED


def test_a_window_opening_for_more_than_a_batch_is_released_in_one_sweep(make_send, published, settings):
    settings.HERALD_SWEEP_BATCH = 2
    opening = timezone.now() - timedelta(seconds=1)
    held = [make_send(status=Status.SCHEDULED, scheduled_at=opening, queued_at=None) for _ in range(5)]
    assert sends_sweep()["due"] == 5
    assert sorted(published) == sorted(send.id for send in held)
    assert Send.objects.filter(status=Status.SENT).count() == 5


@pytest.fixture
def broker_queues():
    """Herald's queues on the test's real broker, emptied first and after: what other tests published
    to it without a worker would count as a backlog."""

    def purge() -> None:
        with celery_app.connection_for_write() as connection:
            for queue in celery_app.conf.task_queues:
                queue.bind(connection.default_channel).purge()

    purge()
    yield
    purge()


def test_the_sweep_re_enqueues_sends_the_broker_lost(make_send, published, settings, broker_queues):
    settings.HERALD_LEASE_SECONDS = 60
    lost = make_send(queued_at=timezone.now() - timedelta(seconds=61))
    fresh = make_send()
    assert sends_sweep()["lost"] == 1
    assert published == [lost.id]
    lost.refresh_from_db()
    assert lost.status == Status.SENT
    assert Send.objects.get(pk=fresh.pk).status == Status.QUEUED


def test_sends_queued_behind_a_backlog_are_not_published_again(make_send, settings, broker_queues):
    settings.HERALD_LEASE_SECONDS = 60
    behind = make_send(queued_at=timezone.now() - timedelta(seconds=61))
    ahead = [make_send() for _ in range(3)]
    sends_enqueue(send_ids=[s.pk for s in ahead], on_commit=False)  # no worker: they wait in the broker
    assert broker_backlog() >= 1
    assert sends_sweep()["lost"] == 0
    assert Send.objects.get(pk=behind.pk).queued_at < timezone.now() - timedelta(seconds=60)
    with celery_app.connection_for_write() as connection:
        for queue in celery_app.conf.task_queues:
            queue.bind(connection.default_channel).purge()
    assert broker_backlog() == 0
    assert sends_sweep()["lost"] == 1, "once the broker has nothing left, what is still queued was lost"


def test_the_sweep_marks_only_the_send_in_flight_when_a_worker_died(make_send, published, settings):
    settings.HERALD_LEASE_SECONDS = 60
    settings.HERALD_DISPATCH_IN_FLIGHT = 1
    # A worker claimed three sends, delivered the first, recorded it, then died during the second.
    claimed_at = timezone.now() - timedelta(seconds=61)
    import uuid

    token = uuid.uuid4()
    done = make_send(status=Status.SENT, claim_token=None)
    in_flight = make_send(status=Status.SENDING, claim_token=token, claimed_at=claimed_at, attempts=1)
    untouched = make_send(status=Status.SENDING, claim_token=token, claimed_at=claimed_at, attempts=1)
    assert sends_sweep()["stale"] == 2
    assert sorted(published) == [in_flight.id, untouched.id]
    in_flight.refresh_from_db()
    untouched.refresh_from_db()
    done.refresh_from_db()
    assert in_flight.possibly_duplicated is True
    assert untouched.possibly_duplicated is False
    assert (in_flight.status, untouched.status, done.status) == (Status.SENT, Status.SENT, Status.SENT)


def test_the_sweep_marks_as_many_unjournaled_sends_as_were_allowed_in_flight(make_send, published, settings):
    settings.HERALD_LEASE_SECONDS = 60
    settings.HERALD_DISPATCH_IN_FLIGHT = 2
    sends = [make_send() for _ in range(5)]
    token, _ = sends_claim(send_ids=[s.id for s in sends])
    # The worker journaled the second send's outcome, then died with up to two others started.
    journal.journal_write(token=token, send_id=sends[1].id, first=True, outcome={"status": Status.SENT})()
    Send.objects.update(claimed_at=timezone.now() - timedelta(seconds=61))
    other_claim = [make_send() for _ in range(3)]
    sends_claim(send_ids=[s.id for s in other_claim])
    Send.objects.filter(pk__in=[s.id for s in other_claim]).update(
        claimed_at=timezone.now() - timedelta(seconds=61)
    )

    assert sends_sweep()["stale"] == 7
    marked = set(Send.objects.filter(possibly_duplicated=True).values_list("pk", flat=True))
    assert marked == {sends[0].id, sends[2].id, other_claim[0].id, other_claim[1].id}


def test_a_late_outcome_from_a_worker_whose_claim_was_taken_back_is_ignored(make_send):
    send = make_send()
    token, _ = sends_claim(send_ids=[send.id])
    Send.objects.filter(pk=send.pk).update(status=Status.QUEUED, claim_token=None)  # the sweep took it back
    outcome_record(send=send, token=token, status=Status.FAILED, last_error="zombie")
    send.refresh_from_db()
    assert send.status == Status.QUEUED


def test_a_worker_hands_back_what_it_cannot_send_within_half_its_lease(make_send, settings, published):
    settings.HERALD_LEASE_SECONDS = 0  # the deadline has passed before the first send
    sends = [make_send(), make_send()]
    celery_app.conf.task_always_eager = False  # look at the released rows, not a re-dispatch
    assert sends_dispatch(send_ids=[s.id for s in sends]) == {"released": 2}
    for send in sends:
        send.refresh_from_db()
        assert (send.status, send.claim_token, send.possibly_duplicated) == (Status.QUEUED, None, False)
    assert mail.outbox == []


def test_the_sweep_records_what_a_dead_worker_journaled_and_sends_only_the_rest(
    make_send, published, settings
):
    settings.HERALD_LEASE_SECONDS = 60
    settings.HERALD_DISPATCH_IN_FLIGHT = 1
    first, in_flight, untouched = [make_send() for _ in range(3)]
    token, _ = sends_claim(send_ids=[first.id, in_flight.id, untouched.id])
    # The worker delivered the first and journaled it, then died delivering the second, before it could
    # record anything in the send log.
    sent_at = timezone.now() - timedelta(seconds=70)
    journal.journal_write(
        token=token, send_id=first.id, first=True,
        outcome={"status": Status.SENT, "sent_at": sent_at, "provider_message_id": "pm-1", "subject": "Hi"},
    )()  # fmt: skip
    Send.objects.update(claimed_at=timezone.now() - timedelta(seconds=61))

    counts = sends_sweep()

    assert (counts["recovered"], counts["stale"]) == (1, 2)
    assert sorted(published) == [in_flight.id, untouched.id], "the journaled send is not sent again"
    first.refresh_from_db()
    assert (first.status, first.sent_at, first.provider_message_id, first.subject) == (
        Status.SENT, sent_at, "pm-1", "Hi"
    )  # fmt: skip
    assert first.possibly_duplicated is False
    in_flight.refresh_from_db()
    untouched.refresh_from_db()
    assert (in_flight.possibly_duplicated, untouched.possibly_duplicated) == (True, False)
    assert len(mail.outbox) == 2


def close_journal_connection() -> None:
    """What a Redis restart does to the journal's connection."""
    connection = journal._writer().connection
    connection.send_command("CLIENT", "ID")
    journal._redis().client_kill_filter(_id=connection.read_response())


def test_the_journal_writes_on_after_redis_closed_its_connection():
    token = uuid.uuid4()
    assert (
        journal.journal_write(token=token, send_id=1, outcome={"status": Status.SENT}, first=True)() is False
    )
    close_journal_connection()
    rewritten = journal.journal_write(token=token, send_id=2, outcome={"status": Status.SENT}, first=False)()
    assert rewritten is True, "the caller learns that Redis may have lost the entries before"
    assert sorted(journal.journal_read(token=token)) == [1, 2]
    assert journal._redis().ttl(journal._key(token)) > 0


def test_a_journal_write_nobody_confirmed_does_not_pass_its_reply_to_the_next():
    token = uuid.uuid4()
    journal.journal_write(token=token, send_id=1, outcome={"status": Status.SENT}, first=True)  # interrupted
    journal.journal_write(token=token, send_id=2, outcome={"status": Status.SENT}, first=False)()
    assert not journal._writer().connection.can_read(timeout=0.5), "no reply is left to be read as another's"
    assert sorted(journal.journal_read(token=token)) == [1, 2]


def test_a_confirmation_interrupted_midway_leaves_no_half_read_connection(monkeypatch):
    token = uuid.uuid4()
    confirm = journal.journal_write(token=token, send_id=1, outcome={"status": Status.SENT}, first=True)
    interrupted = journal._writer()

    def interrupt(*args, **kwargs):
        raise SystemExit(1)  # a task's time limit, a worker shutting down

    monkeypatch.setattr(interrupted.connection, "read_response", interrupt)
    with pytest.raises(SystemExit):
        confirm()
    assert journal._writer() is not interrupted
    journal.journal_write(token=token, send_id=2, outcome={"status": Status.SENT}, first=False)()
    assert sorted(journal.journal_read(token=token)) == [1, 2]


def redis_restarts(settings) -> None:
    close_journal_connection()


def redis_goes_away(settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there


@pytest.mark.parametrize("fault", [redis_restarts, redis_goes_away])
def test_the_first_outcome_is_in_the_send_log_before_the_second_send_goes_out_when_redis_fails(
    fault, make_send, settings, monkeypatch
):
    settings.HERALD_DISPATCH_IN_FLIGHT = 1  # one at a time: the delivery below reads the test's transaction
    first, second = make_send(), make_send()
    first_status_at_each_delivery = []
    original = attempt.deliver

    def delivering(send, *args):
        first_status_at_each_delivery.append(Send.objects.get(pk=first.pk).status)
        if send.pk == first.pk:
            fault(settings)  # once the first send is out
        return original(send, *args)

    monkeypatch.setattr(attempt, "deliver", delivering)
    assert sends_dispatch(send_ids=[first.id, second.id]) == {"sent": 2}
    assert first_status_at_each_delivery == [Status.SENDING, Status.SENT]


def test_without_an_answering_journal_each_outcome_is_recorded_at_once(make_send, settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    # One at a time: with a window, outcomes that finish together are known, and recorded, together.
    settings.HERALD_DISPATCH_IN_FLIGHT = 1
    sends = [make_send() for _ in range(3)]
    recorded: list[int] = []
    original = record.outcomes_record

    def recording(token, outcomes, subscriptions=None):
        recorded.append(len(outcomes))
        return original(token, outcomes, subscriptions)

    monkeypatch.setattr(record, "outcomes_record", recording)
    assert sends_dispatch(send_ids=[s.id for s in sends]) == {"sent": 3}
    assert recorded == [1, 1, 1]
    assert set(Send.objects.values_list("status", flat=True)) == {Status.SENT}


def test_a_claim_whose_journal_cannot_be_read_waits_for_it(make_send, published, settings):
    settings.HERALD_LEASE_SECONDS = 60
    send = make_send()
    sends_claim(send_ids=[send.id])
    Send.objects.update(claimed_at=timezone.now() - timedelta(seconds=61))
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert sends_sweep()["stale"] == 0
    assert Send.objects.get(pk=send.pk).status == Status.SENDING


def test_tasks_keep_their_names_on_the_wire_from_before_the_move():
    # A rolling upgrade: messages queued by the previous release name the tasks by their old module paths.
    assert celery_app.tasks["mailings.tasks.dispatch_sends"].run.__module__ == "dispatch.tasks"
    assert celery_app.tasks["mailings.tasks.deliver_webhook"].run.__module__ == "outbound_webhooks.tasks"


def test_a_send_starts_only_while_fewer_than_the_window_lack_a_journaled_outcome(
    make_send, settings, monkeypatch
):
    settings.HERALD_DISPATCH_IN_FLIGHT = 3
    sends = [make_send() for _ in range(10)]
    tokens = []
    claim = chunk.sends_claim

    def claiming(**kwargs):
        token, claimed = claim(**kwargs)
        tokens.append(token)
        return token, claimed

    monkeypatch.setattr(chunk, "sends_claim", claiming)
    started: list[int] = []
    unsafe_at_each_start, in_flight, most_in_flight = [], [0], [0]
    lock = threading.Lock()
    original = attempt.deliver

    def delivering(send, *args):
        with lock:
            journaled = {int(k) for k in journal._redis().hkeys(journal._key(tokens[0]))}
            unsafe_at_each_start.append(len(set(started) - journaled))
            started.append(send.pk)
            in_flight[0] += 1
            most_in_flight[0] = max(most_in_flight[0], in_flight[0])
        time.sleep(0.02)  # a provider's round trip, so calls can overlap
        with lock:
            in_flight[0] -= 1
        return original(send, *args)

    monkeypatch.setattr(attempt, "deliver", delivering)
    assert sends_dispatch(send_ids=[s.id for s in sends]) == {"sent": 10}
    assert started == sorted(started), "sends start in id order: the sweep relies on it"
    assert max(unsafe_at_each_start) <= 2, "a third unjournaled send never has a fourth start beside it"
    assert most_in_flight[0] == 3
