"""The outcome journal: what each claimed send became, written to Redis the moment it is known.

A worker has each outcome acknowledged by Redis before the next send goes out, and writes the outcomes
to the send log together, once per chunk. So the send log learns of them a chunk at a time (one
statement, one commit) while a worker that dies mid-chunk still leaves, for every send but the one in
flight, a record of what happened to it: the sweep reads the journal of a dead claim before it takes the
claim back.
docs/reliability.md has the reasoning, Redis and PostgreSQL restarts included.
"""

import contextlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from datetime import datetime

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# Long enough for any sweep to find a dead claim's journal (the lease is minutes); a live claim deletes its
# own when its outcomes are in the send log, so only dead workers' journals ever wait for this.
TTL_SECONDS = 7 * 24 * 3600
_DATES = ("sent_at", "scheduled_at")

_clients: dict[str, redis.Redis] = {}


class Unavailable(Exception):
    """Redis did not answer: the caller records the outcome in the send log at once instead."""


def enabled() -> bool:
    return bool(settings.REDIS_URL)


def _redis() -> redis.Redis:
    url = settings.REDIS_URL
    if url not in _clients:
        # Short timeouts: a Redis that does not answer must not hold up dispatch, which then writes
        # straight to the send log instead.
        _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1)
    return _clients[url]


def _key(token: uuid.UUID) -> str:
    return f"herald:journal:{token}"


class _Writer:
    """A connection of one process and thread, and how many replies it is owed that nobody has read yet.

    Dispatch journals every send, so it talks to this connection directly: the client's pool, retry and
    callback machinery cost about as much CPU as the round trip itself. A connection that fails or is
    interrupted in the middle of sending or reading is discarded: what it half-did is unknown.
    """

    def __init__(self, url: str) -> None:
        pool = _redis().connection_pool
        self.connection = pool.connection_class(**pool.connection_kwargs)
        self.url = url
        self.pid = os.getpid()
        self.unread = 0

    def send(self, commands: list[tuple]) -> None:
        with self._discarded_on_failure():
            self.connection.send_packed_command(self.connection.pack_commands(commands))
        self.unread += len(commands)

    def read(self) -> None:
        """Read every reply owed: a write's own are the last, after those of any write sent after no
        confirmation (a task interrupted in between), which must not pass for them."""
        with self._discarded_on_failure():
            while self.unread:
                self.connection.read_response()
                self.unread -= 1

    @contextlib.contextmanager
    def _discarded_on_failure(self):
        try:
            yield
        except BaseException:
            self.connection.disconnect()
            if _local.writers.get(self.url) is self:
                del _local.writers[self.url]
            raise


_local = threading.local()


def _writer() -> _Writer:
    writers = _local.__dict__.setdefault("writers", {})
    writer = writers.get(settings.REDIS_URL)
    if writer is None or writer.pid != os.getpid():  # none yet, or inherited from the parent process
        writer = writers[settings.REDIS_URL] = _Writer(settings.REDIS_URL)
    return writer


def journal_write(*, token: uuid.UUID, send_id: int, outcome: dict, first: bool) -> Callable[[], bool]:
    """Send one outcome to the journal without waiting; the function returned waits until Redis has it.

    The caller calls it before the next send goes out: Redis's reply arrives while the next send renders.
    It raises Unavailable when Redis does not take the outcome, and returns True when the outcome had to
    be written again on a new connection (Redis may have restarted and lost what it had before).
    """
    value = json.dumps({k: v.isoformat() if isinstance(v, datetime) else v for k, v in outcome.items()})
    commands = [("HSET", _key(token), str(send_id), value)]
    expire = ("EXPIRE", _key(token), TTL_SECONDS)
    if first:
        commands.append(expire)
    sent_on: _Writer | None = _writer()
    try:
        sent_on.send(commands)
    except redis.RedisError:
        sent_on = None  # confirming sends the commands again, on a new connection

    def confirm() -> bool:
        nonlocal sent_on
        resent = False
        for attempt in (1, 2):
            writer = _writer()
            try:
                if sent_on is not writer:
                    # Again with the expiry: a Redis that restarted empty would keep the entry forever.
                    writer.send(commands if first else [*commands, expire])
                    sent_on, resent = writer, True
                writer.read()
                return resent
            except redis.RedisError as exc:
                # A connection Redis closed (a restart) gets one more try on a new one; writing an entry
                # twice changes nothing.
                sent_on = None
                if attempt == 2 or not isinstance(exc, redis.ConnectionError):
                    raise Unavailable(str(exc)) from exc
        raise AssertionError("not reached: the second attempt returns or raises")

    return confirm


def journal_read(*, token: uuid.UUID) -> dict[int, dict]:
    """Send id -> journaled outcome of a claim; empty when it has none. Raises Unavailable."""
    try:
        entries = _redis().hgetall(_key(token))
    except redis.RedisError as exc:
        raise Unavailable(str(exc)) from exc
    outcomes = {}
    for send_id, value in entries.items():
        outcome = json.loads(value)
        for name in _DATES:
            if outcome.get(name):
                outcome[name] = datetime.fromisoformat(outcome[name])
        outcomes[int(send_id)] = outcome
    return outcomes


def journal_forget(*, token: uuid.UUID) -> None:
    """The claim's outcomes are in the send log: its journal is no longer needed (the TTL is the fallback)."""
    try:
        _redis().delete(_key(token))
    except redis.RedisError:
        logger.warning("journal of claim %s not deleted; it expires by itself", token)
