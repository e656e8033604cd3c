"""Stalled or not: due sends older than the lease, and no worker finishing a chunk in that time."""

import os
import re
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch.models import WorkerProgress
from dispatch.progress import dispatch_state, progress_note
from sends.models import Send
from tests.config.test_observability import METRICS_TOKEN, scrape

pytestmark = pytest.mark.django_db
Status = Send.Status


@pytest.fixture(autouse=True)
def lease(settings):
    settings.HERALD_LEASE_SECONDS = 60
    return 60


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def worked(worker: str, seconds_ago: float) -> None:
    WorkerProgress.objects.update_or_create(worker=worker, defaults={"finished_at": ago(seconds_ago)})


def test_nothing_due_is_never_stalled():
    state = dispatch_state()
    assert (state.due, state.oldest_due_seconds, state.last_progress_seconds, state.stalled) == (
        0,
        None,
        None,
        False,
    )


def test_sends_waiting_past_the_lease_with_no_worker_ever_finishing_a_chunk_are_stalled(make_send):
    make_send(status=Status.QUEUED, created_at=ago(120))
    make_send(status=Status.QUEUED, created_at=ago(5))
    state = dispatch_state()
    assert state.stalled and state.due == 2
    assert state.oldest_due_seconds == pytest.approx(120, abs=5)
    assert (
        state.reason
        == "2 sends due, the oldest for 120 s (the lease is 60 s); a worker last finished a chunk never"
    )


@pytest.mark.parametrize(
    "status, since",
    [(Status.SCHEDULED, "scheduled_at"), (Status.SENDING, "claimed_at")],
    ids=["due", "claimed"],
)
def test_due_scheduled_and_claimed_sends_count_from_when_they_became_due(make_send, status, since):
    make_send(status=status, created_at=ago(3600), scheduled_at=ago(90), claimed_at=ago(5))
    worked("celery@a", 80)
    state = dispatch_state()
    assert state.stalled
    assert state.oldest_due_seconds == pytest.approx(90, abs=5)
    assert state.last_progress_seconds == pytest.approx(80, abs=2)


def test_a_backlog_older_than_the_lease_is_not_stalled_while_a_worker_makes_progress(make_send):
    make_send(status=Status.QUEUED, created_at=ago(600))
    worked("celery@a", 3)
    worked("celery@b", 500)
    assert not dispatch_state().stalled
    # …but the worker that has made none is, as its own container's check sees it.
    assert dispatch_state(worker="celery@b").stalled
    assert re.search(
        r"worker celery@b last finished a chunk 50\d s ago", dispatch_state(worker="celery@b").reason
    )


def test_the_sweep_re_queueing_a_send_does_not_make_it_look_fresh(make_send):
    make_send(status=Status.QUEUED, created_at=ago(120), queued_at=ago(1))
    make_send(status=Status.SENDING, created_at=ago(130), claimed_at=ago(1))
    state = dispatch_state()
    assert state.stalled
    assert state.oldest_due_seconds == pytest.approx(130, abs=5)


def test_a_send_scheduled_for_later_is_not_due(make_send):
    make_send(status=Status.SCHEDULED, scheduled_at=timezone.now() + timedelta(hours=1), queued_at=None)
    assert dispatch_state().due == 0


def test_progress_is_written_at_most_once_a_second_per_worker(django_assert_num_queries):
    progress_note(worker="celery@c")
    first = WorkerProgress.objects.get(worker="celery@c").finished_at
    with django_assert_num_queries(0):
        progress_note(worker="celery@c")
    assert WorkerProgress.objects.get(worker="celery@c").finished_at == first


def test_health_answers_503_and_names_the_reason_when_dispatch_is_stalled(make_send):
    make_send(status=Status.QUEUED, created_at=ago(300))
    worked("celery@a", 200)
    response = APIClient().get("/api/v1/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "stalled"
    assert (body["database"], body["broker"]) == ("ok", "ok")
    assert body["dispatch"]["stalled"] is True
    assert re.fullmatch(
        r"1 sends due, the oldest for 30\d s \(the lease is 60 s\); "
        r"a worker last finished a chunk 20\d s ago",
        body["dispatch"]["reason"],
    )


def test_health_is_200_with_the_dispatch_figures_while_work_goes_on(make_send):
    make_send(status=Status.QUEUED, created_at=ago(300))
    worked("celery@a", 1)
    response = APIClient().get("/api/v1/health/")
    assert response.status_code == 200
    assert response.json()["dispatch"]["due"] == 1
    assert response.json()["dispatch"]["last_progress_seconds"] == pytest.approx(1, abs=2)


def test_the_stalled_gauge_says_the_same_to_prometheus(make_send, settings):
    settings.HERALD_METRICS_TOKEN = METRICS_TOKEN
    assert scrape()[("herald_dispatch_stalled",)] == 0
    make_send(status=Status.QUEUED, created_at=ago(300))
    assert scrape()[("herald_dispatch_stalled",)] == 1
    worked("celery@a", 2)
    samples = scrape()
    assert samples[("herald_dispatch_stalled",)] == 0
    assert samples[("herald_dispatch_last_progress_age_seconds",)] == pytest.approx(2, abs=2)


@pytest.fixture
def worker_process(tmp_path):
    process = subprocess.Popen(["sleep", "300"])
    pidfile = tmp_path / "worker.pid"
    pidfile.write_text(f"{process.pid}\n")
    yield process, pidfile
    process.kill()
    process.wait()


def test_a_worker_containers_check_ends_its_stuck_worker_and_fails(make_send, worker_process):
    process, pidfile = worker_process
    os.utime(pidfile, (time.time() - 120, time.time() - 120))  # started two leases ago
    make_send(status=Status.QUEUED, created_at=ago(300))
    worked("celery@box", 200)
    with pytest.raises(SystemExit) as exit:
        call_command("worker_health", "--worker", "celery@box", "--pidfile", str(pidfile))
    assert exit.value.code == 1
    assert process.wait(timeout=10) == -signal.SIGKILL


def test_a_worker_containers_check_passes_while_its_worker_makes_progress_or_has_just_started(
    make_send, worker_process
):
    process, pidfile = worker_process
    make_send(status=Status.QUEUED, created_at=ago(300))
    call_command("worker_health", "--worker", "celery@box", "--pidfile", str(pidfile))  # started just now
    os.utime(pidfile, (time.time() - 120, time.time() - 120))
    worked("celery@box", 5)
    call_command("worker_health", "--worker", "celery@box", "--pidfile", str(pidfile))
    assert process.poll() is None
