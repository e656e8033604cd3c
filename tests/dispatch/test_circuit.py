"""The circuit breaker per provider account: opened by repeated failures for every worker at once (two
breakers on one Redis stand for two workers), probed by exactly one after the cool-down, closed by a
success; the same states in one process without Redis."""

import time

import pytest
from django.conf import settings as django_settings

from dispatch.circuit import CLOSED_SECONDS, Breaker


@pytest.fixture(params=["redis", "local"])
def two_workers(request, settings):
    settings.HERALD_CIRCUIT_FAILURES = 3
    settings.HERALD_CIRCUIT_WINDOW_SECONDS = 30
    settings.HERALD_CIRCUIT_COOLDOWN_SECONDS = 1
    account = f"test-{time.monotonic_ns()}"
    if request.param == "local":
        one = Breaker("")
        return one, one, account
    url = django_settings.REDIS_URL
    return Breaker(url), Breaker(url), account


def test_failures_open_the_circuit_for_every_worker(two_workers):
    one, other, account = two_workers
    assert not one.failed(account) and not other.failed(account)
    assert one.allows(account) and other.allows(account)
    assert one.failed(account), "the third failure, from either worker, opens it"
    assert not one.allows(account)
    time.sleep(CLOSED_SECONDS)  # the other worker asks again this long after it last found it closed
    assert not other.allows(account)
    assert other.state(account) == "open"


def test_after_the_cool_down_one_worker_probes_and_a_success_closes_it(two_workers):
    one, other, account = two_workers
    for _ in range(3):
        one.failed(account)
    time.sleep(1.1)
    assert one.state(account) == "half-open"
    allowed = [one.allows(account), other.allows(account), one.allows(account)]
    assert allowed.count(True) == 1, "exactly one probe"
    one.succeeded(account)
    assert other.state(account) == "closed"
    assert one.allows(account) and other.allows(account)


def test_a_failed_probe_opens_it_again_at_once(two_workers):
    one, other, account = two_workers
    for _ in range(3):
        one.failed(account)
    time.sleep(1.1)
    assert one.allows(account)
    assert one.failed(account), "one failure of the probe is enough"
    assert not other.allows(account)


def test_a_success_between_failures_starts_the_count_again(two_workers):
    one, _, account = two_workers
    one.failed(account)
    one.failed(account)
    one.succeeded(account)
    assert not one.failed(account)
    assert one.allows(account)
