"""The outcome journal: what each claimed send became, written to Redis the moment it is known.

A worker has each outcome acknowledged by Redis before the next send goes out, and writes the outcomes
to the send log together, once per chunk. So the send log learns of them a chunk at a time (one
statement, one commit) while a worker that dies mid-chunk still leaves, for every send but the one in
flight, a record of what happened to it: the sweep reads the journal of a dead claim before it takes the
claim back.
docs/reliability.md has the reasoning, Redis and PostgreSQL restarts included.
"""

import json
import logging
import os
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


# Dispatch journals every send, so it keeps one connection of its own and talks to it directly: the
# client's pool, retry and callback machinery cost about as much CPU as the round trip itself.
_writers: dict[str, tuple[int, redis.Connection]] = {}


def _writer() -> redis.Connection:
    url, pid = settings.REDIS_URL, os.getpid()
    held = _writers.get(url)
    if held is None or held[0] != pid:  # none yet, or inherited from the process this one forked from
        held = _writers[url] = (pid, _redis().connection_pool.make_connection())
    return held[1]


def journal_write(*, token: uuid.UUID, send_id: int, outcome: dict, first: bool) -> Callable[[], None]:
    """Send one outcome to the journal without waiting; the function returned waits until Redis has it.

    The caller calls it before the next send goes out: Redis's reply arrives while the next send renders.
    It raises Unavailable when Redis does not take the outcome.
    """
    value = json.dumps({k: v.isoformat() if isinstance(v, datetime) else v for k, v in outcome.items()})
    commands = [("HSET", _key(token), str(send_id), value)]
    if first:
        commands.append(("EXPIRE", _key(token), TTL_SECONDS))
    sent = _send(commands)

    def confirm() -> None:
        nonlocal sent
        for attempt in (1, 2):
            connection = _writer()
            try:
                if not sent:
                    connection.send_packed_command(connection.pack_commands(commands))
                    sent = True
                for _ in commands:
                    connection.read_response()
                return
            except redis.RedisError as exc:
                # A connection Redis closed (a restart) gets one more try on a new one; writing an entry
                # twice changes nothing.
                _drop(connection)
                sent = False
                if attempt == 2 or not isinstance(exc, redis.ConnectionError):
                    raise Unavailable(str(exc)) from exc

    return confirm


def _send(commands: list[tuple]) -> bool:
    connection = _writer()
    try:
        connection.send_packed_command(connection.pack_commands(commands))
        return True
    except redis.RedisError:
        _drop(connection)  # confirming sends the commands again, on a new connection
        return False


def _drop(connection: redis.Connection) -> None:
    # What a failed connection half-sent or half-read is unknown: it is not used again.
    connection.disconnect()
    _writers.pop(settings.REDIS_URL, None)


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
