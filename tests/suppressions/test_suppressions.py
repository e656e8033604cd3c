"""Suppressions: an address that hard-bounced, complained or unsubscribed gets nothing more from its org."""

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dispatch.chunk import sends_dispatch
from sends.models import Send
from sends.services import send_test
from suppressions.models import Suppression
from suppressions.services import suppression_add
from tests.conftest import api_client_for
from tests.factories import CampaignFactory, RecipientFactory
from tests.provider_events.providers import ANYMAIL_SETTINGS, postmark

pytestmark = pytest.mark.django_db
Status = Send.Status


@pytest.fixture
def make_send(org, campaign):
    def make(address: str, **fields) -> Send:
        recipient = RecipientFactory(org=fields.get("org", org), email=address)
        defaults = dict(
            org=org,
            campaign=campaign,
            mailing=campaign.email_mailing,
            recipient=recipient,
            channel="email",
            to_address=address,
            context={"order_number": 42},
            queued_at=timezone.now(),
        )
        return Send.objects.create(**{**defaults, **fields})

    return make


def test_after_a_hard_bounce_later_sends_to_the_address_end_suppressed_unsent(client, settings, make_send):
    settings.ANYMAIL = ANYMAIL_SETTINGS
    first = make_send("ann@example.com")
    sends_dispatch(send_ids=[first.pk])
    first.refresh_from_db()
    postmark("bounced", message_id=first.provider_message_id, address="ann@example.com", at=1714557600).post(
        client
    )
    mail.outbox.clear()

    later = Send.objects.create(
        org=first.org,
        campaign=first.campaign,
        mailing=first.mailing,
        recipient=first.recipient,
        channel="email",
        to_address="ann@example.com",
        context={"order_number": 43},
        queued_at=timezone.now(),
    )
    assert sends_dispatch(send_ids=[later.pk]) == {"suppressed": 1}
    later.refresh_from_db()
    assert later.status == Status.SUPPRESSED
    assert "suppressed for this org (bounced)" in later.last_error
    assert mail.outbox == []


def test_a_transactional_critical_campaign_still_reaches_a_suppressed_address(org, make_send):
    suppression_add(org=org, address="ann@example.com", reason=Suppression.Reason.COMPLAINED)
    reset = CampaignFactory(org=org, key="password-reset", transactional_critical=True)
    normal = make_send("ann@example.com")
    critical = Send.objects.create(
        org=org,
        campaign=reset,
        mailing=reset.email_mailing,
        recipient=normal.recipient,
        channel="email",
        to_address="ann@example.com",
        context={"order_number": 1},
        queued_at=timezone.now(),
    )
    assert sends_dispatch(send_ids=[normal.pk, critical.pk]) == {"suppressed": 1, "sent": 1}
    assert Send.objects.get(pk=normal.pk).status == Status.SUPPRESSED
    assert Send.objects.get(pk=critical.pk).status == Status.SENT
    [message] = mail.outbox
    assert message.to == ["ann@example.com"]


def test_suppression_ignores_the_case_of_an_address(org):
    suppression_add(org=org, address="Ann@Example.COM", reason=Suppression.Reason.MANUAL)
    mailing = CampaignFactory(org=org).email_mailing
    send = send_test(mailing=mailing, address="ANN@example.com")
    sends_dispatch(send_ids=[send.pk])
    assert Send.objects.get(pk=send.pk).status == Status.SUPPRESSED
    assert Suppression.objects.get().address == "ann@example.com"


def test_another_orgs_suppression_does_not_stop_this_orgs_send(org, other_org, make_send):
    suppression_add(org=other_org, address="ann@example.com", reason=Suppression.Reason.BOUNCED)
    send = make_send("ann@example.com")
    assert sends_dispatch(send_ids=[send.pk]) == {"sent": 1}


def test_a_chunk_looks_its_suppressions_up_in_one_query(org, make_send):
    sends = [make_send(f"p{i}@example.com") for i in range(6)]
    for send in sends[::2]:
        suppression_add(org=org, address=send.to_address, reason=Suppression.Reason.BOUNCED)
    with CaptureQueriesContext(connection) as queries:
        assert sends_dispatch(send_ids=[s.pk for s in sends]) == {"suppressed": 3, "sent": 3}
    assert sum('"suppressions_suppression"' in q["sql"] for q in queries) == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["p1@example.com", "p3@example.com", "p5@example.com"]


def test_a_second_suppression_of_an_address_keeps_the_first_reason(org):
    first, created = suppression_add(org=org, address="ann@example.com", reason=Suppression.Reason.BOUNCED)
    again, created_again = suppression_add(
        org=org, address="ann@example.com", reason=Suppression.Reason.MANUAL
    )
    assert (created, created_again, again.pk, again.reason) == (True, False, first.pk, "bounced")


# The API


def test_the_api_lists_suppressions_filtered_by_address(api, org, other_org):
    suppression_add(org=org, address="ann@example.com", reason=Suppression.Reason.BOUNCED)
    suppression_add(org=org, address="bob@example.com", reason=Suppression.Reason.UNSUBSCRIBED)
    suppression_add(org=other_org, address="cid@example.com", reason=Suppression.Reason.BOUNCED)
    listed = api.get("/api/v1/suppressions/").json()
    assert sorted(s["address"] for s in listed["results"]) == ["ann@example.com", "bob@example.com"]
    found = api.get("/api/v1/suppressions/", {"address": "Ann@Example.com"}).json()["results"]
    assert [(s["address"], s["reason"], s["source_event"]) for s in found] == [
        ("ann@example.com", "bounced", None)
    ]


def test_the_api_shows_which_event_caused_a_suppression(client, settings, api, org, make_send):
    settings.ANYMAIL = ANYMAIL_SETTINGS
    send = make_send("ann@example.com", status=Status.SENT, provider_message_id="pm-1")
    postmark("complained", message_id="pm-1", address="ann@example.com", at=1714557600).post(client)
    [suppression] = api.get("/api/v1/suppressions/").json()["results"]
    assert suppression["reason"] == "complained"
    assert suppression["source_event"]["send"] == send.pk
    assert suppression["source_event"]["type"] == "complained"


def test_deleting_through_the_api_lifts_the_suppression(api, org, make_send):
    suppression, _ = suppression_add(org=org, address="ann@example.com", reason=Suppression.Reason.BOUNCED)
    assert api.delete(f"/api/v1/suppressions/{suppression.pk}/").status_code == 204
    assert not Suppression.objects.exists()
    send = make_send("ann@example.com")
    assert sends_dispatch(send_ids=[send.pk]) == {"sent": 1}


def test_another_orgs_suppression_is_not_there(api, other_org):
    theirs, _ = suppression_add(org=other_org, address="ann@example.com", reason=Suppression.Reason.BOUNCED)
    assert api.get(f"/api/v1/suppressions/{theirs.pk}/").status_code == 404
    assert api.delete(f"/api/v1/suppressions/{theirs.pk}/").status_code == 404
    assert Suppression.objects.filter(pk=theirs.pk).exists()


def test_the_api_adds_a_manual_suppression_once(api, org):
    response = api.post("/api/v1/suppressions/", {"address": " Ann@Example.com "}, format="json")
    assert response.status_code == 201
    assert (response.json()["address"], response.json()["reason"]) == ("ann@example.com", "manual")
    again = api.post("/api/v1/suppressions/", {"address": "ann@example.com"}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, response.json()["id"])
    assert Suppression.objects.filter(org=org).count() == 1


def test_the_api_refuses_a_suppression_of_no_address(api):
    response = api.post("/api/v1/suppressions/", {"address": "not an address"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] == "address"
    assert not Suppression.objects.exists()


def test_a_read_only_token_cannot_lift_a_suppression(org):
    suppression, _ = suppression_add(org=org, address="ann@example.com", reason=Suppression.Reason.BOUNCED)
    reader = api_client_for(org, scopes=["read"])
    assert reader.get(f"/api/v1/suppressions/{suppression.pk}/").status_code == 200
    assert reader.delete(f"/api/v1/suppressions/{suppression.pk}/").status_code == 403
    assert Suppression.objects.filter(pk=suppression.pk).exists()


# The admin


def test_staff_find_a_suppression_by_address_and_lift_it(admin_client, org):
    ann, _ = suppression_add(org=org, address="ann@example.com", reason=Suppression.Reason.BOUNCED)
    bob, _ = suppression_add(org=org, address="bob@example.com", reason=Suppression.Reason.COMPLAINED)
    page = admin_client.get("/admin/suppressions/suppression/", {"q": "ann@"})
    assert page.status_code == 200
    assert "ann@example.com" in page.content.decode() and "bob@example.com" not in page.content.decode()
    response = admin_client.post(
        "/admin/suppressions/suppression/", {"action": "lift", "_selected_action": [ann.pk]}, follow=True
    )
    assert "Lifted 1 suppression(s)" in response.content.decode()
    assert list(Suppression.objects.values_list("pk", flat=True)) == [bob.pk]


def test_staff_filter_suppressions_by_reason(admin_client, org):
    suppression_add(org=org, address="ann@example.com", reason=Suppression.Reason.BOUNCED)
    suppression_add(org=org, address="bob@example.com", reason=Suppression.Reason.UNSUBSCRIBED)
    page = admin_client.get(
        "/admin/suppressions/suppression/", {"reason__exact": "unsubscribed"}
    ).content.decode()
    assert "bob@example.com" in page and "ann@example.com" not in page
