"""Failover between an org's providers (#19): Anymail's real Postmark backend against two local stand-ins.
A transient or account-level failure moves the send to the next provider, a refusal of the recipient does
not, a provider whose circuit is open is not called, and each hop is on the send."""

import json

import pytest
from django.urls import reverse

from core import metrics
from dispatch.chunk import sends_dispatch
from dispatch.circuit import breaker
from dispatch.routes import PROVIDER_SENDS
from orgs.models import Membership
from providers.services import provider_create
from sends.admin_sendlog import send_timeline
from sends.models import Send
from tests.factories import CampaignFactory, MembershipFactory, RecipientFactory
from tests.providers.postmark import Postmark

pytestmark = pytest.mark.django_db
Status = Send.Status


@pytest.fixture
def stand_ins(settings):
    settings.HERALD_PROVIDER_ALLOW_PRIVATE_NETWORKS = True
    settings.HERALD_CIRCUIT_FAILURES = 3
    settings.HERALD_CIRCUIT_COOLDOWN_SECONDS = 60
    first, second = Postmark(), Postmark()
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def providers(org, stand_ins):
    first, second = stand_ins
    made = [
        provider_create(
            org=org,
            actor=None,
            kind="postmark",
            name=name,
            options={"api_url": server.url},
            credentials={"server_token": f"token-{name}"},
        )  # fmt: skip
        for name, server in (("Primary", first), ("Backup", second))
    ]
    yield made
    for provider in made:
        breaker().succeeded(f"provider-{provider.pk}")  # ids repeat in the next test's database


def dispatched(make_send, n=1) -> list[Send]:
    sends = [make_send() for _ in range(n)]
    sends_dispatch(send_ids=[s.pk for s in sends])
    return [Send.objects.get(pk=s.pk) for s in sends]


def test_an_outage_of_the_first_provider_sends_through_the_second(make_send, stand_ins, providers):
    first, second = stand_ins
    first.answer(503)
    [send] = dispatched(make_send)
    assert send.status == Status.SENT
    assert send.provider == "Backup"
    assert "Primary: provider answered 503" in send.failover
    assert len(first.received) == 1 and len(second.received) == 1
    assert second.received[0]["token"] == "token-Backup"
    timeline = [what for _, what, _ in send_timeline(send)]
    assert any(what.startswith("Failed over: Primary: provider answered 503") for what in timeline)
    assert any(what.startswith("Handed to the provider Backup") for what in timeline)
    metrics.flush()
    counted = metrics._totals(PROVIDER_SENDS)
    org = send.org_id
    assert counted == {f"{org}/Primary\x1ffailed_over": 1, f"{org}/Backup\x1fsent": 1}


def test_the_first_provider_is_used_while_it_answers(make_send, stand_ins, providers):
    first, second = stand_ins
    sends = dispatched(make_send, 3)
    assert {s.provider for s in sends} == {"Primary"} and all(s.failover == "" for s in sends)
    assert len(first.received) == 3 and second.received == []


def test_a_refused_account_fails_over_too(make_send, stand_ins, providers):
    first, _ = stand_ins
    first.answer(401, 10)  # Postmark: bad or missing server token
    [send] = dispatched(make_send)
    assert (send.status, send.provider) == (Status.SENT, "Backup")


def test_a_refusal_of_the_recipient_is_not_tried_elsewhere(make_send, stand_ins, providers):
    first, second = stand_ins
    first.answer(422, 300)  # Postmark: invalid email request
    [send] = dispatched(make_send)
    assert send.status == Status.FAILED
    assert send.provider == "Primary"
    assert second.received == []


def test_a_provider_that_keeps_failing_is_skipped_without_a_call(make_send, stand_ins, providers):
    first, second = stand_ins
    first.answer(503)
    dispatched(make_send, 3)  # the third failure opens its circuit
    calls = len(first.received)
    sends = dispatched(make_send, 5)
    assert len(first.received) == calls, "not called while its circuit is open"
    assert all(s.status == Status.SENT and s.provider == "Backup" for s in sends)
    assert all("circuit open" in s.failover for s in sends)


def test_when_every_provider_fails_the_send_waits_for_a_retry(make_send, stand_ins, providers):
    first, second = stand_ins
    first.answer(503)
    second.answer(500)
    [send] = dispatched(make_send)
    assert send.status == Status.SCHEDULED
    assert "Primary: provider answered 503" in send.failover
    assert "Backup: provider answered 500" in send.failover


def test_a_disabled_provider_is_not_used(make_send, stand_ins, providers):
    first, second = stand_ins
    providers[0].enabled = False
    providers[0].save()
    [send] = dispatched(make_send)
    assert send.provider == "Backup" and first.received == []


def test_another_org_never_sends_through_these_providers(other_org, stand_ins, providers):
    campaign = CampaignFactory(org=other_org)
    recipient = RecipientFactory(org=other_org)
    send = Send.objects.create(
        org=other_org, campaign=campaign, mailing=campaign.email_mailing, recipient=recipient,
        channel="email", to_address=recipient.email, status=Status.QUEUED, context={},
    )  # fmt: skip
    sends_dispatch(send_ids=[send.pk])
    send.refresh_from_db()
    first, second = stand_ins
    assert send.status == Status.SENT and send.provider == ""
    assert first.received == [] and second.received == []


def test_what_fails_over_keeps_to_the_next_providers_limit(make_send, stand_ins, providers, settings):
    settings.HERALD_DISPATCH_IN_FLIGHT = 8
    settings.HERALD_CIRCUIT_FAILURES = 100  # every send tries the first, then fails over
    first, second = stand_ins
    first.answer(503)
    second.server.delay = 0.05
    providers[1].max_in_flight = 2
    providers[1].save()
    sends = dispatched(make_send, 8)
    assert all(s.provider == "Backup" for s in sends)
    assert second.most_in_flight == 2, "no burst at the second provider beyond its own limit"


def test_an_org_admin_adds_a_second_provider_switches_the_first_off_and_sends_go_through_it(
    client, org, make_send, stand_ins, providers
):
    """The issue's own walk, in the admin: the next sends go through the provider left on."""
    first, second = stand_ins
    primary, backup = providers
    backup.delete()  # the org starts with one provider
    client.force_login(MembershipFactory(org=org, role=Membership.Role.ADMIN).user)
    added = client.post(reverse("admin:providers_provider_add"), {
        "org": org.pk, "channel": "email", "kind": "postmark", "name": "Second", "position": "1",
        "enabled": "on",
        "max_in_flight": "0", "per_second": "0", "options": json.dumps({"api_url": second.url}),
        "credentials": json.dumps({"server_token": "second-token"}),
    })  # fmt: skip
    assert added.status_code == 302, added.context["adminform"].form.errors
    second_provider = org.providers.get(name="Second")
    changelist = client.post(reverse("admin:providers_provider_changelist"), {
        "form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "2",
        "form-0-id": primary.pk, "form-0-position": "0",  # enabled left unticked: switched off
        "form-1-id": second_provider.pk, "form-1-position": "1", "form-1-enabled": "on",
        "_save": "Save",
    })  # fmt: skip
    assert changelist.status_code == 302
    primary.refresh_from_db()
    assert not primary.enabled
    sends = dispatched(make_send, 3)
    assert [s.provider for s in sends] == ["Second"] * 3
    assert first.received == [] and [r["token"] for r in second.received] == ["second-token"] * 3
