"""A provider account's limits, counted in real Redis and held by every limiter sharing it."""

import multiprocessing
import os
import signal
import threading
import time
import uuid

import pytest
import redis
from django.conf import settings
from django.core import mail
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from core import metrics
from dispatch import limits
from dispatch.attempt import Prepared
from dispatch.chunk import sends_dispatch
from dispatch.limits import Account, LocalLimiter, RedisLimiter, channel_account, send_account, slot_acquire
from dispatch.record import Outcome
from dispatch.window import Window
from sends.models import Send
from tests import backends
from tests.backends import provider_error

pytestmark = pytest.mark.django_db


def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def account(**limits) -> Account:
    return Account(f"test:{uuid.uuid4().hex}", **limits)  # keys of its own: no test sees another's counts


@pytest.fixture
def two():
    """Two limiters with connections of their own, as two workers have."""
    return RedisLimiter(client()), RedisLimiter(client())


def granted(limiter, acct: Account) -> str | None:
    slot_id = uuid.uuid4().hex
    ok, _, _ = limiter.try_acquire(acct, slot_id)
    return slot_id if ok else None


def test_the_in_flight_cap_holds_across_limiters_and_a_release_makes_room(two):
    a, b = two
    acct = account(max_in_flight=3)
    held = [granted(a, acct), granted(b, acct), granted(a, acct)]
    assert all(held)
    assert a.try_acquire(acct, "x") == (False, 0.0, "in_flight")
    assert granted(b, acct) is None
    b.release(acct, held[0])  # released by another limiter than took it: the slot is the account's
    assert granted(a, acct) is not None
    assert a.state(acct)[0] == 3


def test_the_rate_holds_across_limiters_racing_for_it(two):
    acct = account(per_second=20)
    starts: list[float] = []
    stop = time.monotonic() + 1.0

    def race(limiter):
        while time.monotonic() < stop:
            if granted(limiter, acct):
                starts.append(time.monotonic())

    threads = [threading.Thread(target=race, args=(limiter,)) for limiter in (*two, *two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 19 <= len(starts) <= 21  # 20 a second, the first at once
    # Evenly spaced, not in bursts: no quarter of a second holds more than its 5 (and one a thread
    # recorded late). A gap between two readings is no measure: a thread descheduled between its grant
    # and its reading shortens the next gap by as much, on a busy machine by tens of milliseconds.
    ordered = sorted(starts)
    busiest = max(sum(1 for t in ordered if start <= t < start + 0.25) for start in ordered)
    assert busiest <= 6


def test_a_denied_call_is_told_how_long_the_rate_makes_it_wait(two):
    a, b = two
    acct = account(per_second=2)
    assert granted(a, acct)
    ok, wait, limit = b.try_acquire(acct, "x")
    assert (ok, limit) == (False, "rate")
    assert 0.4 < wait <= 0.5


def test_a_pause_set_by_one_limiter_stops_the_other_until_it_ends(two):
    a, b = two
    acct = account(max_in_flight=5)
    a.pause(acct, 0.4)
    a.pause(acct, 0.1)  # a shorter pause after it does not shorten it
    ok, wait, limit = b.try_acquire(acct, "x")
    assert (ok, limit) == (False, "paused")
    assert 0.3 < wait <= 0.4
    assert 0.3 < b.state(acct)[1] <= 0.4
    time.sleep(wait)
    assert granted(b, acct) is not None


def _hold_a_slot_and_hang(key: str, ready) -> None:
    # A worker process that takes a slot and never gives it back: SIGKILLed by the test.
    RedisLimiter(client(), lease_seconds=1.0).try_acquire(Account(key, max_in_flight=1), "dead-holder")
    ready.set()
    time.sleep(60)


def test_a_slot_held_by_a_killed_process_comes_back_when_its_lease_ends(two):
    acct = account(max_in_flight=1)
    ready = multiprocessing.get_context("fork").Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold_a_slot_and_hang, args=(acct.key, ready))
    holder.start()
    assert ready.wait(10)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    killed_at = time.monotonic()
    a, _ = two
    assert granted(a, acct) is None  # still held: nobody can tell a dead holder from a slow call
    while granted(a, acct) is None:
        assert time.monotonic() - killed_at < 2, "the dead holder's slot never expired"
        time.sleep(0.05)
    assert a.state(acct)[0] == 1  # ours; the dead one's was pruned


@pytest.mark.parametrize("kind", ["redis", "local"])
def test_waiting_gives_up_at_the_deadline_and_counts_the_wait(kind, settings):
    settings.REDIS_URL = settings.REDIS_URL if kind == "redis" else ""
    metrics.reset()
    acct = account(max_in_flight=1)
    assert slot_acquire(acct, until=time.monotonic() + 1) is not None
    began = time.monotonic()
    assert slot_acquire(acct, until=began + 0.2) is None
    assert 0.15 < time.monotonic() - began < 0.3
    waited = metrics._local[(metrics.KEY + limits.WAIT_METRIC, f"{acct.key}\x1fin_flight")]
    assert 150 <= waited <= 250
    assert metrics._local[(metrics.KEY + limits.CALLS_METRIC, acct.key)] == 1


def test_the_per_process_limiter_holds_the_same_limits():
    local = LocalLimiter(lease_seconds=0.2)
    acct = account(max_in_flight=1, per_second=10)
    assert granted(local, acct)
    assert local.try_acquire(acct, "x")[2] == "in_flight"
    time.sleep(0.2)  # the lease ended: the slot comes back
    assert granted(local, acct)
    local.pause(acct, 0.3)
    assert local.try_acquire(acct, "x")[2] == "paused"


def test_while_redis_does_not_answer_the_limits_hold_per_process(settings, monkeypatch, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    monkeypatch.setattr(limits, "_local", LocalLimiter())
    monkeypatch.setattr(limits, "_redis_down_until", 0.0)
    acct = account(max_in_flight=1)
    assert slot_acquire(acct, until=time.monotonic() + 5) is not None
    assert "Redis is unavailable" in caplog.text
    assert limits.limiter() is limits._local  # for a while Redis is not asked, so not waited on each call
    assert slot_acquire(acct, until=time.monotonic() + 0.1) is None  # the cap, held by this process alone


# --- which account, and dispatch ---------------------------------------------------------------------


def test_nothing_set_means_no_account_to_limit_and_no_round_trip(make_send, monkeypatch):
    send = make_send()
    assert send_account(send) is None
    monkeypatch.setattr(limits, "_limiters", {})
    assert sends_dispatch(send_ids=[send.id]) == {"sent": 1}
    assert limits._limiters == {}  # no limiter was asked for, so not one command went to Redis for it


def test_an_account_is_its_channel_backend_and_credentials(settings, make_send):
    settings.HERALD_EMAIL_MAX_IN_FLIGHT = 4
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "one"}
    first = channel_account("email")
    assert first.key.startswith("email:tests.backends:") and first.max_in_flight == 4
    assert "one" not in first.key  # a hash of the credentials, never the credentials
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "two"}
    assert channel_account("email").key != first.key
    assert not channel_account("sms").limited
    assert send_account(make_send(test=True)) is None  # a test key's send calls no provider


def test_a_429_pauses_the_account_for_every_worker_and_shows_in_metrics(make_send, settings):
    settings.HERALD_EMAIL_MAX_IN_FLIGHT = 2
    settings.HERALD_PROVIDER_PAUSE_SECONDS = 30
    settings.HERALD_METRICS_TOKEN = "scrape-me"
    metrics.reset()
    backends.script.append(provider_error(429, retry_after="5"))
    sends = [make_send(), make_send()]
    assert sends_dispatch(send_ids=[sends[0].id]) == {"scheduled": 1}
    acct = channel_account("email")
    assert 20 < RedisLimiter(client()).state(acct)[1] <= 30  # what another worker's limiter reads
    metrics.flush()

    response = APIClient().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    samples = {
        (s.name, *sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }
    label = ("account", acct.key)
    assert samples[("herald_provider_in_flight", label)] == 0
    assert samples[("herald_provider_limit", label, ("limit", "max_in_flight"))] == 2
    assert 20 < samples[("herald_provider_paused_seconds", label)] <= 30
    assert samples[("herald_provider_calls_total", label)] == 1
    assert samples[("herald_provider_pauses_total", label)] == 1


def test_a_chunk_that_cannot_start_before_its_deadline_releases_what_is_left(make_send, settings):
    settings.HERALD_EMAIL_MAX_IN_FLIGHT = 2
    settings.HERALD_LEASE_SECONDS = 1  # the chunk stops at 0.5 s
    sends = [make_send() for _ in range(3)]
    limits.limiter().pause(channel_account("email"), 30)  # a 429 another worker got

    began = time.monotonic()
    assert sends_dispatch(send_ids=[s.id for s in sends]) == {"released": 3}
    assert time.monotonic() - began < 1  # it did not wait out the pause, holding the claim
    assert mail.outbox == []
    assert set(Send.objects.values_list("status", flat=True)) == {Send.Status.QUEUED}


class SlowBackend(backends.ScriptedBackend):
    """Anymail's test backend, 50 ms a message, counting the calls in it at once."""

    lock = threading.Lock()
    now = most = 0

    def send_messages(self, email_messages):
        cls = type(self)
        with cls.lock:
            cls.now += 1
            cls.most = max(cls.most, cls.now)
        time.sleep(0.05)
        with cls.lock:
            cls.now -= 1
        return super().send_messages(email_messages)


def test_a_chunk_keeps_to_the_in_flight_cap_on_the_providers_threads(make_send, settings):
    settings.HERALD_EMAIL_MAX_IN_FLIGHT = 2
    settings.HERALD_DISPATCH_IN_FLIGHT = 8
    settings.EMAIL_BACKEND = f"{__name__}.SlowBackend"
    SlowBackend.most = 0
    sends = [make_send() for _ in range(8)]
    assert sends_dispatch(send_ids=[s.id for s in sends]) == {"sent": 8}
    assert SlowBackend.most == 2
    assert limits.limiter().state(channel_account("email"))[0] == 0  # every slot given back


def test_a_429s_retry_after_is_how_long_every_worker_leaves_the_account_alone(make_send, settings):
    settings.HERALD_EMAIL_MAX_IN_FLIGHT = 2
    settings.HERALD_PROVIDER_PAUSE_SECONDS = 1
    backends.script.append(provider_error(429, retry_after="12"))
    assert sends_dispatch(send_ids=[make_send().id]) == {"scheduled": 1}
    assert 10 < RedisLimiter(client()).state(channel_account("email"))[1] <= 12


def test_a_send_through_its_orgs_own_providers_waits_for_no_server_limit(make_send, settings):
    settings.HERALD_EMAIL_MAX_IN_FLIGHT = 1
    limits.limiter().pause(channel_account("email"), 30)  # the server's account: nobody may call it
    send = make_send()
    called = []

    def deliver(prepared, routes):
        called.append(routes)
        return Outcome(prepared.send, Send.Status.SENT, {})

    prepared = Prepared(send, rendered=None, attachments=[], content={})
    window = Window(1, until=time.monotonic() + 0.2)
    assert window.start(deliver, prepared) is None  # through the server's account: held back
    assert window.start(deliver, prepared, routes=["the org's provider"]) is not None
    assert called == [["the org's provider"]]
