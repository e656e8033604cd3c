"""docs/api.md's Python is run as written: the walk-through against a live Herald, the webhook receiver
against signatures Herald makes."""

import json
import re
import time
from pathlib import Path

import pytest
from django.db import connections

from orgs.services import token_create
from outbound_webhooks.deliveries import signature
from sends.models import Send
from tests.factories import OrgFactory

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture
def receiver_code() -> dict:
    namespace: dict = {}
    exec(python_blocks()[2], namespace)
    return namespace


@pytest.mark.django_db(transaction=True)
def test_the_python_walkthrough_runs_against_a_live_herald_with_a_test_key(
    live_server, eager_tasks, monkeypatch, capsys
):
    # Each request of the live server runs in a thread of its own: its connection must close with it.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    _, secret = token_create(org=OrgFactory(), name="docs", test=True)
    monkeypatch.setenv("HERALD", live_server.url)
    monkeypatch.setenv("TOKEN", secret)
    namespace: dict = {}
    exec(python_blocks()[0], namespace)
    assert capsys.readouterr().out == "sent Order A-1002 is on its way test key\n"
    send = Send.objects.get(correlation_id=namespace["correlation_id"])
    assert (send.status, send.test, send.to_address) == (Send.Status.SENT, True, "bob@example.com")
    exec(python_blocks()[1], namespace)
    assert namespace["WEBHOOK_SECRET"].startswith("whsec_")


def test_the_documented_check_accepts_herald_s_own_signature(receiver_code):
    body = json.dumps({"id": "d-1", "event": "sent"}).encode()
    header = signature("whsec_abc", int(time.time()), body)
    assert receiver_code["herald_signature_is_valid"]("whsec_abc", header, body)


@pytest.mark.parametrize(
    ("secret", "body", "age"),
    [
        ("whsec_other", b'{"id": "d-1"}', 0),
        ("whsec_abc", b'{"id": "d-2"}', 0),
        ("whsec_abc", b'{"id": "d-1"}', 600),
    ],
    ids=["another secret", "another body", "too old"],
)
def test_the_documented_check_refuses_what_herald_did_not_sign_just_now(receiver_code, secret, body, age):
    header = signature("whsec_abc", int(time.time()) - age, b'{"id": "d-1"}')
    assert not receiver_code["herald_signature_is_valid"](secret, header, body)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=soon,v1=abc"])
def test_the_documented_check_refuses_a_malformed_header(receiver_code, header):
    assert not receiver_code["herald_signature_is_valid"]("whsec_abc", header, b"{}")


def test_the_documented_receiver_handles_a_retry_once(receiver_code, capsys):
    send = {"correlation_id": "c-1", "status": "bounced", "error": None}
    body = json.dumps({"id": "d-1", "event": "bounced", "send": send}).encode()
    headers = {"Herald-Signature": signature("whsec_abc", int(time.time()), body)}
    seen: set = set()
    handle = receiver_code["handle_herald_webhook"]
    assert handle("whsec_abc", headers, body, seen) == 200
    assert handle("whsec_abc", headers, body, seen) == 200
    assert capsys.readouterr().out == "bounced c-1 bounced None\n"
    assert handle("whsec_abc", {"Herald-Signature": "t=1,v1=00"}, body, seen) == 400
