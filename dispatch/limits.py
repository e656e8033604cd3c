"""A provider account's limits, held by every worker together: calls in flight, calls a second, and a pause
after the provider answered 429.

Counted in Redis, each acquire one Lua script (one round trip) that reads Redis' own clock, so workers on
machines whose clocks differ still share one count. An in-flight slot is a member of a sorted set scored
by when its lease ends: a worker SIGKILLed holding slots leaves them to expire, and the script prunes the
expired ones before it counts. The rate is GCRA with a burst of one: Redis keeps the earliest time the next
call may start, and each call moves it on by 1 / rate, so calls are spaced evenly and no second ever holds
more than the rate (plus the one that opens it). A 429 sets the account's "paused until", which every
acquire honours first.

An account with no limit set costs nothing: `send_account` answers None and no round trip is made. Without
Redis (the embedded default) and while Redis does not answer, the same limits hold per process
(LocalLimiter); docs/operations.md says so.

Today an account is a channel's configured backend (`channel_account`); a provider an org brings (issue
#19) passes its own `Account`, with its own key and limits, to the same functions.
"""

import hashlib
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from core import metrics
from mailings.models import Channel
from sends.models import Send

logger = logging.getLogger(__name__)

# Longer than any provider call (Anymail's timeout is 30 s; dispatch/chunk.py counts on it too), so a live
# call never loses its slot; a dead worker's slots come back after this.
SLOT_LEASE_SECONDS = 60.0
POLL_SECONDS = (0.002, 0.02)  # waiting for a slot: first and longest sleep between tries
WAIT_METRIC = "herald_provider_limit_wait_milliseconds"
CALLS_METRIC = "herald_provider_calls"
PAUSES_METRIC = "herald_provider_pauses"


@dataclass(frozen=True)
class Account:
    """A provider account and its limits; 0 is no limit."""

    key: str
    max_in_flight: int = 0
    per_second: float = 0.0

    @property
    def limited(self) -> bool:
        return self.max_in_flight > 0 or self.per_second > 0


@dataclass(frozen=True)
class Slot:
    account: Account
    id: str
    limiter: "RedisLimiter | LocalLimiter"


# -- which account ---------------------------------------------------------------------------------------


def _fingerprint(*parts: object) -> str:
    # The credentials tell one account from another; only a hash of them reaches Redis and the metrics.
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:8]


@cache
def channel_account(channel: str) -> Account:
    """The account a channel's configured backend sends through, with its HERALD_<CHANNEL>_... limits."""
    if channel == Channel.SMS:
        backend = settings.SMS_BACKEND
        credentials = (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_MESSAGING_SERVICE_SID)
        limits = (settings.HERALD_SMS_MAX_IN_FLIGHT, settings.HERALD_SMS_RATE_PER_SECOND)
    else:
        backend = settings.EMAIL_BACKEND
        credentials = tuple(sorted((k, str(v)) for k, v in settings.ANYMAIL.items() if k != "WEBHOOK_SECRET"))
        limits = (settings.HERALD_EMAIL_MAX_IN_FLIGHT, settings.HERALD_EMAIL_RATE_PER_SECOND)
    key = f"{channel}:{backend.rsplit('.', 1)[0]}:{_fingerprint(backend, credentials)}"
    return Account(key, max(0, int(limits[0])), max(0.0, float(limits[1])))


def send_account(send: Send) -> Account | None:
    """The limited account a send's call goes to; None when nothing limits it (a test send calls none)."""
    if send.test:
        return None
    account = channel_account(send.channel)
    return account if account.limited else None


@receiver(setting_changed)
def _settings_changed(**kwargs) -> None:
    channel_account.cache_clear()


# -- counting in Redis -----------------------------------------------------------------------------------

# KEYS: slots (sorted set), next call's earliest start (GCRA), paused until. ARGV: slot id, max in flight,
# microseconds between calls, lease in microseconds. Times are Redis' own, in microseconds, written with
# %.0f: Lua would print a number this large in exponent notation, losing its last digits.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then return {0, string.format('%.0f', paused - now), 'paused'} end
local max, interval, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if max > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= max then return {0, '0', 'in_flight'} end
end
if interval > 0 then
  local next_at = tonumber(redis.call('GET', KEYS[2]) or '0')
  if next_at > now then return {0, string.format('%.0f', next_at - now), 'rate'} end
  redis.call('SET', KEYS[2], string.format('%.0f', now + interval), 'PX', math.ceil(interval / 1000) + 1000)
end
if max > 0 then
  redis.call('ZADD', KEYS[1], string.format('%.0f', now + lease), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil(lease / 1000))
end
return {1, '0', ''}
"""
# KEYS: paused until. ARGV: seconds. A later pause is never shortened by an earlier one.
PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1]) * 1000000
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.0f', until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000))
end
return 1
"""
# KEYS: slots, paused until. Slots in flight now and the seconds of pause left, for /metrics.
STATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
return {redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.0f', now), '+inf'),
        string.format('%.0f', math.max(paused - now, 0))}
"""


def _keys(account: Account) -> list[str]:
    base = f"herald:limit:{{{account.key}}}"  # one hash slot for the three, should Redis be a cluster
    return [f"{base}:slots", f"{base}:next", f"{base}:paused"]


class RedisLimiter:
    """The limits every worker shares."""

    def __init__(self, client: redis.Redis, *, lease_seconds: float = SLOT_LEASE_SECONDS):
        self.client = client
        self.lease_us = round(lease_seconds * 1_000_000)
        self._acquire = client.register_script(ACQUIRE)
        self._pause = client.register_script(PAUSE)
        self._state = client.register_script(STATE)

    def try_acquire(self, account: Account, slot_id: str) -> tuple[bool, float, str]:
        """(granted, seconds to wait before trying again, which limit said no)."""
        interval = round(1_000_000 / account.per_second) if account.per_second else 0
        granted, wait_us, limit = self._acquire(
            _keys(account), [slot_id, account.max_in_flight, interval, self.lease_us]
        )
        return bool(granted), int(wait_us) / 1_000_000, limit.decode() if isinstance(limit, bytes) else limit

    def release(self, account: Account, slot_id: str) -> None:
        if account.max_in_flight:
            self.client.zrem(_keys(account)[0], slot_id)

    def pause(self, account: Account, seconds: float) -> None:
        self._pause(_keys(account)[2:], [seconds])

    def state(self, account: Account) -> tuple[int, float]:
        """(calls in flight, seconds of pause left)."""
        keys = _keys(account)
        in_flight, paused_us = self._state([keys[0], keys[2]])
        return int(in_flight), int(paused_us) / 1_000_000


class LocalLimiter:
    """The same limits, counted in this process only: without Redis, or while it does not answer."""

    def __init__(self, *, lease_seconds: float = SLOT_LEASE_SECONDS):
        self.lease = lease_seconds
        self.lock = threading.Lock()
        self.slots: dict[str, dict[str, float]] = {}
        self.next_at: dict[str, float] = {}
        self.paused: dict[str, float] = {}

    def try_acquire(self, account: Account, slot_id: str) -> tuple[bool, float, str]:
        with self.lock:
            now = time.monotonic()
            if self.paused.get(account.key, 0) > now:
                return False, self.paused[account.key] - now, "paused"
            slots = self.slots.setdefault(account.key, {})
            if account.max_in_flight:
                for expired in [s for s, ends in slots.items() if ends <= now]:
                    del slots[expired]
                if len(slots) >= account.max_in_flight:
                    return False, 0.0, "in_flight"
            if account.per_second:
                if self.next_at.get(account.key, 0) > now:
                    return False, self.next_at[account.key] - now, "rate"
                self.next_at[account.key] = now + 1 / account.per_second
            if account.max_in_flight:
                slots[slot_id] = now + self.lease
            return True, 0.0, ""

    def release(self, account: Account, slot_id: str) -> None:
        with self.lock:
            self.slots.get(account.key, {}).pop(slot_id, None)

    def pause(self, account: Account, seconds: float) -> None:
        with self.lock:
            until = time.monotonic() + seconds
            self.paused[account.key] = max(self.paused.get(account.key, 0), until)

    def state(self, account: Account) -> tuple[int, float]:
        with self.lock:
            now = time.monotonic()
            in_flight = sum(ends > now for ends in self.slots.get(account.key, {}).values())
            return in_flight, max(self.paused.get(account.key, 0) - now, 0.0)


_limiters: dict[tuple[int, str], RedisLimiter | LocalLimiter] = {}
_local = LocalLimiter()
_redis_down_until = 0.0  # after Redis failed to answer: counted here for a while, not waited on each call
DOWN_SECONDS = 30


def limiter() -> RedisLimiter | LocalLimiter:
    """This process's limiter: Redis' when REDIS_URL is set (one client a process: a forked child's own)."""
    url = settings.REDIS_URL
    if not url or time.monotonic() < _redis_down_until:
        return _local
    key = (os.getpid(), url)
    if key not in _limiters:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1)
        _limiters[key] = RedisLimiter(client)
    return _limiters[key]


# -- what dispatch calls ---------------------------------------------------------------------------------


def slot_acquire(account: Account, *, until: float) -> Slot | None:
    """Wait until the account's limits let one more call start; None if that is not before `until`
    (time.monotonic()): the caller must not start the call."""
    shared = limiter()
    slot_id = uuid.uuid4().hex
    waited: dict[str, float] = {}
    poll = POLL_SECONDS[0]
    try:
        while True:
            try:
                granted, wait, limit = shared.try_acquire(account, slot_id)
            except redis.RedisError:
                shared = _redis_down()
                granted, wait, limit = shared.try_acquire(account, slot_id)
            if granted:
                metrics.count(CALLS_METRIC, account.key)
                return Slot(account, slot_id, shared)
            if limit == "in_flight":  # no telling when a call ends: look again soon, then less often
                wait, poll = poll, min(poll * 2, POLL_SECONDS[1])
            if time.monotonic() + wait > until:
                return None
            time.sleep(wait)
            waited[limit] = waited.get(limit, 0.0) + wait
    finally:
        for limit, seconds in waited.items():
            metrics.count(WAIT_METRIC, account.key, limit, amount=round(seconds * 1000))


def slot_release(slot: Slot) -> None:
    try:
        slot.limiter.release(slot.account, slot.id)
    except redis.RedisError:  # its lease ends it
        logger.warning("a provider slot was not released: Redis is unavailable", exc_info=True)


def account_pause(account: Account, seconds: float) -> None:
    """The provider said "too many": no worker calls it again for `seconds`."""
    metrics.count(PAUSES_METRIC, account.key)
    try:
        limiter().pause(account, seconds)
    except redis.RedisError:
        _redis_down().pause(account, seconds)


def _redis_down() -> LocalLimiter:
    global _redis_down_until
    _redis_down_until = time.monotonic() + DOWN_SECONDS
    logger.warning("provider limits counted in this process only for %ss: Redis is unavailable", DOWN_SECONDS)
    return _local
