"""What operators watch: JSON log lines for triggers and send outcomes, and Prometheus metrics at /metrics."""

import json
import logging
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from config.logging import JsonFormatter, TextFormatter
from core import metrics
from dispatch.chunk import sends_dispatch
from dispatch.observe import send_outcome
from outbound_webhooks.deliveries import webhook_delivery_attempt
from outbound_webhooks.models import WebhookDelivery, WebhookEndpoint
from sends.models import Send
from tests import backends
from tests.backends import provider_error

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
URL = "/api/v1/campaigns/order-completed/trigger/"
ORDER = {"recipients": [{"email": "ann@example.com"}], "context": {"order_number": "A-7"}}
METRICS_TOKEN = "scrape-me"


@pytest.fixture(autouse=True)
def fresh_metrics(settings):
    settings.HERALD_METRICS_TOKEN = METRICS_TOKEN
    metrics.reset()
    yield
    metrics.reset()


def scrape(token: str = METRICS_TOKEN) -> dict[tuple, float]:
    response = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return samples


def records(caplog, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == event]


# --- logs ---------------------------------------------------------------------------------------------


def test_the_json_formatter_writes_one_object_per_line_with_the_extra_fields():
    record = logging.makeLogRecord(
        {"name": "herald.sends", "levelname": "INFO", "msg": "send %s sent", "args": ("abc",),
         "org": 7, "correlation_id": "abc"}
    )  # fmt: skip
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "send abc sent"
    assert (entry["level"], entry["logger"], entry["org"], entry["correlation_id"]) == (
        "INFO", "herald.sends", 7, "abc"
    )  # fmt: skip


def test_the_text_formatter_shows_the_extra_fields_as_key_value_pairs():
    record = logging.makeLogRecord(
        {"name": "herald.sends", "levelname": "INFO", "msg": "send abc sent", "org": 7, "error": ""}
    )
    assert TextFormatter().format(record).endswith("INFO herald.sends send abc sent org=7")


def test_the_json_formatter_keeps_the_traceback_in_the_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, "f", 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]


def test_log_format_json_makes_every_line_json():
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "config.settings"}
    code = "import logging; logging.getLogger('herald.x').warning('hello %s', 'there', extra={'org': 3})"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stderr.splitlines() if "hello" in line]
    assert json.loads(line)["message"] == "hello there"
    assert json.loads(line)["org"] == 3


def test_an_accepted_trigger_logs_one_line_with_org_campaign_and_correlation_ids(
    api, org, campaign, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO)
    with django_capture_on_commit_callbacks(execute=False):
        body = api.post(URL, ORDER, format="json").json()
    [record] = records(caplog, "trigger.accepted")
    assert (record.org, record.campaign, record.campaign_key) == (org.pk, campaign.pk, "order-completed")
    assert (record.trigger, record.sends, record.source, record.test) == (body["trigger"], 1, "api", False)
    assert record.correlation_ids == [body["sends"][0]["correlation_id"]]


def test_a_refused_trigger_logs_no_acceptance(api, campaign, caplog):
    caplog.set_level(logging.INFO)
    assert api.post(URL, {"recipients": []}, format="json").status_code == 400
    assert records(caplog, "trigger.accepted") == []


def test_each_dispatched_send_logs_its_outcome(make_send, org, campaign, caplog):
    caplog.set_level(logging.INFO)
    sent, failed = make_send(), make_send()
    backends.script.extend([None, provider_error(400)])
    sends_dispatch(send_ids=[sent.pk, failed.pk])
    [ok] = records(caplog, "send.sent")
    assert (ok.org, ok.campaign, ok.campaign_key, ok.correlation_id) == (
        org.pk, campaign.pk, "order-completed", str(sent.correlation_id)
    )  # fmt: skip
    assert ok.levelno == logging.INFO and ok.provider_message_id
    [bad] = records(caplog, "send.failed")
    assert bad.correlation_id == str(failed.correlation_id)
    assert bad.levelno == logging.WARNING
    assert "provider answered 400" in bad.error


def test_logging_an_outcome_makes_no_query(make_send, django_assert_num_queries):
    send = Send.objects.select_related("campaign").get(pk=make_send().pk)
    with django_assert_num_queries(0):
        send_outcome(send, Send.Status.SENT, {"provider_message_id": "m-1"})


# --- /metrics -----------------------------------------------------------------------------------------


def test_metrics_are_off_until_a_token_is_set(settings):
    settings.HERALD_METRICS_TOKEN = ""
    assert APIClient().get("/metrics").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {METRICS_TOKEN}"])
def test_metrics_need_the_token(header):
    response = APIClient().get("/metrics", **({"HTTP_AUTHORIZATION": header} if header else {}))
    assert response.status_code == 401
    assert "herald" not in response.content.decode()


def test_a_trigger_and_its_sends_are_counted(api, campaign, eager_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api.post(URL, ORDER, format="json")
    samples = scrape()
    assert samples[("herald_triggers_accepted_total", ("source", "api"))] == 1
    assert samples[("herald_sends_total", ("channel", "email"), ("status", "sent"))] == 1
    assert samples[("herald_dispatch_latency_seconds_count", ("channel", "email"))] == 1
    assert samples[("herald_dispatch_latency_seconds_bucket", ("channel", "email"), ("le", "+Inf"))] == 1


def test_counts_flushed_by_other_processes_add_up_in_redis(settings):
    assert settings.REDIS_URL, "these tests run with Redis (TEST_REDIS_URL)"
    metrics.count("herald_triggers_accepted", "api", amount=2)
    metrics.flush()
    metrics._local.clear()  # as if another process (a worker) had counted them
    metrics.count("herald_triggers_accepted", "api")
    assert scrape()[("herald_triggers_accepted_total", ("source", "api"))] == 3


def test_send_outcomes_counted_on_several_shards_add_up():
    metrics.tally(metrics.send_tallies("sms", "failed"))
    with connection.cursor() as cursor:  # another process's connection, another shard: the rows add up
        cursor.execute("UPDATE core_tally SET shard = (shard + 1) %% %s", [metrics.SHARDS])
    metrics.tally(metrics.send_tallies("sms", "failed") * 2)
    assert scrape()[("herald_sends_total", ("channel", "sms"), ("status", "failed"))] == 3


def test_an_outcome_that_rolls_back_is_not_counted():
    with pytest.raises(RuntimeError), transaction.atomic():
        metrics.tally(metrics.send_tallies("email", "sent", 0.2))
        raise RuntimeError("the outcome's transaction failed")
    assert ("herald_sends_total", ("channel", "email"), ("status", "sent")) not in scrape()


def test_the_latency_histogram_is_cumulative():
    for seconds in (0.05, 0.3, 0.3, 7):
        metrics.tally(metrics.send_tallies("email", "sent", seconds))
    samples = scrape()

    def bucket(le):
        return samples[("herald_dispatch_latency_seconds_bucket", ("channel", "email"), ("le", le))]

    assert (bucket("0.1"), bucket("0.5"), bucket("10.0"), bucket("+Inf")) == (1, 3, 4, 4)
    assert samples[("herald_dispatch_latency_seconds_sum", ("channel", "email"))] == pytest.approx(7.65)
    assert samples[("herald_sends_total", ("channel", "email"), ("status", "sent"))] == 4


def test_queue_depth_and_the_oldest_queued_sends_age_come_from_the_database(make_send):
    make_send(status=Send.Status.QUEUED, queued_at=timezone.now() - timedelta(minutes=10))
    make_send(status=Send.Status.QUEUED)
    make_send(status=Send.Status.SCHEDULED, scheduled_at=timezone.now() - timedelta(seconds=1))
    make_send(status=Send.Status.SCHEDULED, scheduled_at=timezone.now() + timedelta(hours=1))
    samples = scrape()
    assert samples[("herald_sends_waiting", ("state", "queued"))] == 2
    assert samples[("herald_sends_waiting", ("state", "due"))] == 1
    assert samples[("herald_sends_waiting", ("state", "sending"))] == 0
    assert samples[("herald_oldest_queued_send_age_seconds",)] >= 600


def test_a_failed_webhook_post_is_counted(org, make_send, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    with socket.socket() as s:  # a port nobody listens on: the post is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = WebhookEndpoint.objects.create(org=org, url=f"http://127.0.0.1:{port}/hook")
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, send=make_send(), event="sent", payload={},
        retry_until=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    assert webhook_delivery_attempt(delivery_id=delivery.pk, attempts=0) == WebhookDelivery.Status.PENDING
    assert scrape()[("herald_webhook_attempts_total", ("outcome", "retrying"))] == 1


def test_with_redis_down_counts_wait_in_memory_and_work_goes_on(settings, monkeypatch):
    # Saved first, so the pause the failed flush sets is undone after the test, not left to the next ones.
    monkeypatch.setattr(metrics, "_paused_until", 0.0)
    monkeypatch.setattr(metrics, "_client", None)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    metrics.count("herald_triggers_accepted", "api")
    metrics.flush()  # logs a warning, raises nothing
    assert metrics._pending[(metrics.KEY + "herald_triggers_accepted", "api")] == 1
    monkeypatch.setattr(metrics, "_client", None)
    monkeypatch.setattr(metrics, "_paused_until", 0.0)
    settings.REDIS_URL = os.environ["REDIS_URL"]
    metrics.flush()
    assert scrape()[("herald_triggers_accepted_total", ("source", "api"))] == 1
