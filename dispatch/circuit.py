"""A circuit breaker per provider account, shared by every worker: a provider that keeps failing is skipped
by all of them, probed by one after a cool-down, and used again once it answers.

Closed: calls go through; each transient failure is counted, and HERALD_CIRCUIT_FAILURES of them within
HERALD_CIRCUIT_WINDOW_SECONDS open the circuit. Open: for HERALD_CIRCUIT_COOLDOWN_SECONDS no worker calls
it, and sends fail over to the org's next provider at once instead of each waiting for its own timeout.
Then half-open: one worker (whoever takes the probe key first) sends through it; a success closes the
circuit for everyone, a failure opens it for another cool-down. All of it is Redis keys with expiries, so
no clock is compared between machines, and a worker that dies mid-probe leaves a probe key that expires.

Without Redis (the embedded default) the same states are kept per process.
"""

import threading
import time

import redis
from django.conf import settings

PREFIX = "herald:circuit:"
PROBE_SECONDS = 60  # longer than a provider call may take: a dead prober's claim expires after it
# A closed circuit is asked about again after this long, not before every send: a round trip a send is
# what the hot path cannot afford, and a circuit another worker opened is seen this much later.
CLOSED_SECONDS = 0.5

# failures ARGV: window, threshold, cooldown. Counts a failure; opens (and marks tripped) at the threshold.
# A failure while half-open (tripped, not open) reopens at once: the probe failed.
_FAIL = """
local failures, open, tripped, probe = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('EXISTS', tripped) == 1 and redis.call('EXISTS', open) == 0 then
  redis.call('SET', open, 1, 'EX', ARGV[3])
  redis.call('DEL', probe)
  return 1
end
local n = redis.call('INCR', failures)
if n == 1 then redis.call('EXPIRE', failures, ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', open, 1, 'EX', ARGV[3])
  redis.call('SET', tripped, 1)
  redis.call('DEL', failures)
  return 1
end
return 0
"""


def _keys(account: str) -> list[str]:
    return [f"{PREFIX}{account}:{part}" for part in ("failures", "open", "tripped", "probe")]


class Breaker:
    """What the circuit of each account says, in Redis (shared) or in this process (no Redis)."""

    def __init__(self, url: str = ""):
        self.client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1) if url else None
        self._fail = self.client.register_script(_FAIL) if self.client else None
        self._local: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._closed_until: dict[str, float] = {}  # account -> when to ask Redis again

    def allows(self, account: str) -> bool:
        """Whether a call may go to `account` now: closed, or half-open and this caller took the probe."""
        if self.client is None:
            return self._local_allows(account)
        if self._closed_until.get(account, 0.0) > time.monotonic():
            return True
        _, open_key, tripped, probe = _keys(account)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.exists(open_key)
            pipe.exists(tripped)
            is_open, was_tripped = pipe.execute()
            if is_open:
                return False
            if not was_tripped:
                self._closed_until[account] = time.monotonic() + CLOSED_SECONDS
                return True
            return bool(self.client.set(probe, 1, nx=True, ex=PROBE_SECONDS))
        except redis.RedisError:
            return True  # without the shared state, fail over only on each call's own failure

    def failed(self, account: str) -> bool:
        """Count a transient failure; whether the circuit is open now."""
        if self.client is None:
            return self._local_failed(account)
        self._closed_until.pop(account, None)
        try:
            args = [
                settings.HERALD_CIRCUIT_WINDOW_SECONDS, settings.HERALD_CIRCUIT_FAILURES,
                settings.HERALD_CIRCUIT_COOLDOWN_SECONDS,
            ]  # fmt: skip
            return bool(self._fail(keys=_keys(account), args=args))
        except redis.RedisError:
            return False

    def succeeded(self, account: str) -> None:
        """The account answered: closed for everyone (a no-op, one round trip, when it was closed)."""
        if self.client is None:
            with self._lock:
                self._local.pop(account, None)
            return
        try:
            failures, _, tripped, probe = _keys(account)
            if self.client.exists(tripped) or self.client.exists(failures):
                self.client.delete(failures, tripped, probe)
        except redis.RedisError:
            pass

    def state(self, account: str) -> str:
        """closed, open or half-open: for /metrics and the admin."""
        if self.client is None:
            state = self._local.get(account, {})
            if state.get("open_until", 0) > time.monotonic():
                return "open"
            return "half-open" if state.get("tripped") else "closed"
        _, open_key, tripped, _ = _keys(account)
        try:
            if self.client.exists(open_key):
                return "open"
            return "half-open" if self.client.exists(tripped) else "closed"
        except redis.RedisError:
            return "closed"

    # -- one process ------------------------------------------------------------------------------------

    def _local_allows(self, account: str) -> bool:
        with self._lock:
            state = self._local.get(account)
            if not state or not state.get("tripped"):
                return True
            now = time.monotonic()
            if state["open_until"] > now or state.get("probe_until", 0) > now:
                return False
            state["probe_until"] = now + PROBE_SECONDS
            return True

    def _local_failed(self, account: str) -> bool:
        with self._lock:
            now = time.monotonic()
            state = self._local.setdefault(account, {"failures": [], "open_until": 0.0, "tripped": False})
            if state["tripped"] and state["open_until"] <= now:  # the probe failed
                state["open_until"], state["probe_until"] = now + settings.HERALD_CIRCUIT_COOLDOWN_SECONDS, 0
                return True
            window = now - settings.HERALD_CIRCUIT_WINDOW_SECONDS
            state["failures"] = [at for at in state["failures"] if at > window] + [now]
            if len(state["failures"]) >= settings.HERALD_CIRCUIT_FAILURES:
                state.update(
                    failures=[], open_until=now + settings.HERALD_CIRCUIT_COOLDOWN_SECONDS, tripped=True
                )
                return True
            return False


_breakers: dict[str, Breaker] = {}


def breaker() -> Breaker:
    url = settings.REDIS_URL
    if url not in _breakers:
        _breakers[url] = Breaker(url)
    return _breakers[url]
