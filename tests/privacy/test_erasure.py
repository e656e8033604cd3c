"""Erasing a recipient: no copy of their address, name or context survives anywhere; the counts do."""

import base64
import json

import pytest
from anymail.signals import AnymailTrackingEvent
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from dispatch.chunk import sends_dispatch
from orgs.models import AuditEntry
from outbound_webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from provider_events.tracking import delivery_event_record
from recipients.models import Recipient
from sends.models import DeliveryEvent, Send, Trigger
from sends.unsubscribe import unsubscribe_token
from suppressions.models import Suppression, address_hash
from tests.factories import CampaignFactory, MailingFactory, RecipientFactory

pytestmark = pytest.mark.django_db
Status = Send.Status
ADDRESS = "zebulon.quillfeather@example.com"
PHONE = "+4915199988877"
FIRST, LAST = "Zebulon", "Quillfeather"
MARKER = "ctx-marker-5b1e9c"
ATTACHMENT = f"invoice for {MARKER}".encode()
# What must not be found anywhere afterwards, in any spelling the database may hold it.
TRACES = [ADDRESS, PHONE, FIRST, LAST, MARKER, base64.b64encode(ATTACHMENT).decode()]


@pytest.fixture
def newsletter(org):
    mailing = MailingFactory(
        org=org,
        subject="Hello {{ recipient.first_name }} {{ recipient.last_name }}",
        text="{{ context.marker }} for {{ recipient.email }}. {{ unsubscribe_url }}",
        html="<p>{{ context.marker }} for {{ recipient.first_name }}</p>",
    )
    return CampaignFactory(org=org, key="newsletter", kind="marketing", email_mailing=mailing)


def trigger(api, campaign, recipients: list[dict], **body) -> dict:
    response = api.post(
        f"/api/v1/campaigns/{campaign.key}/trigger/",
        {"recipients": recipients, **body},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"{campaign.key}-{recipients[0].get('email', '')}",
    )
    assert response.status_code == 202, response.json()
    return response.json()


def dispatch_all() -> None:
    sends_dispatch(send_ids=list(Send.objects.filter(status=Status.QUEUED).values_list("pk", flat=True)))


def tracking(send: Send | None, event_type: str, event_id: str, address: str = ADDRESS) -> None:
    delivery_event_record(
        esp_name="Postmark",
        event=AnymailTrackingEvent(
            event_type=event_type, event_id=event_id, timestamp=timezone.now(), recipient=address,
            message_id=send.provider_message_id if send else "unknown-message",
            description=f"Delivered to {address}", mta_response=f"250 OK <{address}>",
            esp_event={"Recipient": address, "Details": MARKER},
        ),
    )  # fmt: skip


@pytest.fixture
def zebulon_everywhere(api, org, newsletter, admin_client, client):
    """Zebulon's data in every place Herald keeps any: sends, triggers, events, webhooks, admin history."""
    WebhookEndpoint.objects.create(org=org, url="https://hooks.example.com/herald")
    person = {"email": ADDRESS, "phone": PHONE, "first_name": FIRST, "last_name": LAST}
    attachment = {"filename": f"{MARKER}.txt", "content": base64.b64encode(ATTACHMENT).decode()}
    trigger(
        api, newsletter, [{**person, "attributes": {"note": MARKER}, "context": {"own": MARKER}}],
        context={"marker": MARKER}, attachments=[attachment],
    )  # fmt: skip
    trigger(
        api, newsletter, [{"email": "otto@example.com", "first_name": "Otto"}], context={"marker": "otto's"}
    )
    dispatch_all()
    zebulon = Recipient.objects.get(email=ADDRESS)
    Send.objects.filter(recipient=zebulon).update(metadata={"crm": MARKER})  # a dialect's custom data
    send = Send.objects.get(recipient=zebulon)
    tracking(send, "delivered", "ev-1")
    tracking(None, "bounced", "ev-2")  # an event Herald could not match to a send, naming the address
    assert client.post(f"/u/{unsubscribe_token(send)}").status_code == 200
    delivery = WebhookDelivery.objects.filter(send=send).first()
    WebhookAttempt.objects.create(
        delivery=delivery, url="https://hooks.example.com/herald", error=f"HTTP 500: {ADDRESS}"
    )
    # Staff corrected the name in the admin: the admin's history names the recipient.
    change = reverse("admin:recipients_recipient_change", args=[zebulon.pk])
    form = {"org": org.pk, "email": ADDRESS, "phone": PHONE, "external_id": "", "first_name": FIRST,
            "last_name": LAST, "locale": "", "attributes": json.dumps({"note": MARKER})}  # fmt: skip
    assert admin_client.post(change, form).status_code == 302
    # The application corrected the name over the API with an Idempotency-Key: the kept answer names them.
    keyed = api.patch(
        f"/api/v1/recipients/{zebulon.pk}/", {"last_name": LAST}, format="json", HTTP_IDEMPOTENCY_KEY="z-1"
    )
    assert keyed.status_code == 200
    # A test send straight to the address, no recipient attached.
    Send.objects.create(
        org=org, mailing=newsletter.email_mailing, channel="email", to_address=ADDRESS, subject=MARKER,
        status=Status.SENT,
    )  # fmt: skip
    return zebulon


def traces_left() -> list[tuple[str, str, str]]:
    """(table, column, trace) for every text or JSON column of every table that still holds a trace."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'character')"
        )
        columns = cursor.fetchall()
        assert len(columns) > 50  # the whole schema, not a few tables
        found = []
        for table, column in columns:
            quoted = f"{connection.ops.quote_name(table)}.{connection.ops.quote_name(column)}"
            for trace in TRACES:
                cursor.execute(
                    f"SELECT count(*) FROM {connection.ops.quote_name(table)} WHERE {quoted}::text ILIKE %s",
                    [f"%{trace}%"],
                )
                if cursor.fetchone()[0]:
                    found.append((table, column, trace))
    return found


def test_the_fixture_puts_the_persons_data_in_many_tables(zebulon_everywhere):
    tables = {table for table, _, _ in traces_left()}
    assert {
        "recipients_recipient", "sends_send", "sends_trigger", "sends_deliveryevent",
        "outbound_webhooks_webhookdelivery", "outbound_webhooks_webhookattempt", "suppressions_suppression",
        "django_admin_log",
    } <= tables  # fmt: skip


def test_erasing_leaves_no_copy_of_the_address_name_or_context_in_any_table(api, zebulon_everywhere):
    response = api.delete(f"/api/v1/recipients/{zebulon_everywhere.pk}/?erase=true")
    assert response.status_code == 200, response.json()
    assert response.json()["recipient"] == zebulon_everywhere.pk
    assert response.json()["erased"]["sends"] == 2  # the newsletter and the test send to the address
    assert traces_left() == []
    erased = AuditEntry.objects.get(action=AuditEntry.Action.RECIPIENT_ERASED)
    assert erased.object_id == str(zebulon_everywhere.pk) and erased.token is not None


def test_erasing_keeps_counts_statuses_and_timestamps(api, org, zebulon_everywhere):
    before = dict(Send.objects.values_list("pk", "status"))
    sent_at = dict(Send.objects.values_list("pk", "sent_at"))
    counts = {m: m.objects.count() for m in (Send, Trigger, DeliveryEvent, WebhookDelivery, WebhookAttempt)}
    api.delete(f"/api/v1/recipients/{zebulon_everywhere.pk}/?erase=true")
    assert dict(Send.objects.values_list("pk", "status")) == before
    assert dict(Send.objects.values_list("pk", "sent_at")) == sent_at
    assert {m: m.objects.count() for m in counts} == counts
    assert not Recipient.objects.filter(pk=zebulon_everywhere.pk).exists()
    # Otto, triggered alongside, keeps everything.
    otto = Send.objects.get(to_address="otto@example.com")
    assert otto.recipient.first_name == "Otto" and "otto's" in otto.text and otto.context
    assert Trigger.objects.get(sends=otto).context == {"marker": "otto's"}


def test_an_erased_address_stays_suppressed_as_a_hash_and_dispatch_honours_it(api, org, newsletter):
    trigger(api, newsletter, [{"email": ADDRESS, "phone": PHONE}])
    dispatch_all()
    recipient = Recipient.objects.get(email=ADDRESS)
    api.delete(f"/api/v1/recipients/{recipient.pk}/?erase=true")

    suppressions = Suppression.objects.filter(org=org)
    assert {(s.address, s.address_hash, s.scope) for s in suppressions} == {
        ("", address_hash(org.pk, ADDRESS), "all"),
        ("", address_hash(org.pk, PHONE), "all"),
    }
    receipt = CampaignFactory(org=org, key="receipt")  # transactional: not even that goes
    trigger(api, receipt, [{"email": ADDRESS}])
    dispatch_all()
    again = Send.objects.get(campaign=receipt)
    assert again.status == Status.SUPPRESSED and "erased" in again.last_error
    # Support finds it by the address, and may lift it should the person come back.
    found = api.get("/api/v1/suppressions/", {"address": ADDRESS.upper()}).json()["results"]
    assert [(s["address"], s["reason"]) for s in found] == [("", "erased")]


def test_a_send_not_yet_dispatched_is_suppressed_and_never_goes(api, org, newsletter):
    trigger(api, newsletter, [{"email": ADDRESS}], delay=3600)
    send = Send.objects.get()
    assert send.status == Status.SCHEDULED
    api.delete(f"/api/v1/recipients/{send.recipient_id}/?erase=true")
    send.refresh_from_db()
    assert (send.status, send.to_address, send.context) == (Status.SUPPRESSED, "", {})


def test_a_shared_phone_number_stays_with_the_other_person(api, org):
    ann = RecipientFactory(org=org, email="ann@example.com", phone=PHONE)
    RecipientFactory(org=org, email="bob@example.com", phone=PHONE)
    api.delete(f"/api/v1/recipients/{ann.pk}/?erase=true")
    assert list(Suppression.objects.values_list("address_hash", flat=True)) == [
        address_hash(org.pk, "ann@example.com")
    ]


def test_a_provider_event_for_an_erased_send_keeps_nothing_of_the_person(api, org, newsletter):
    trigger(api, newsletter, [{"email": ADDRESS}])
    dispatch_all()
    send = Send.objects.get()
    api.delete(f"/api/v1/recipients/{send.recipient_id}/?erase=true")
    tracking(send, "bounced", "ev-late")
    send.refresh_from_db()
    assert send.status == Status.BOUNCED
    event = DeliveryEvent.objects.get(provider_event_id="ev-late")
    assert (event.address, event.payload, event.description) == ("", None, "")
    assert not Suppression.objects.filter(address=ADDRESS).exists()


def test_a_plain_delete_still_only_deletes_and_a_bad_erase_flag_changes_nothing(api, recipient):
    bad = api.delete(f"/api/v1/recipients/{recipient.pk}/?erase=yes")
    assert bad.status_code == 400
    assert bad.json()["error"]["problems"] == [{"field": "erase", "message": "Must be true or false."}]
    assert Recipient.objects.filter(pk=recipient.pk).exists()
    assert api.delete(f"/api/v1/recipients/{recipient.pk}/").status_code == 204
    assert not Suppression.objects.exists()


def test_another_orgs_recipient_cannot_be_erased(other_api, recipient):
    response = other_api.delete(f"/api/v1/recipients/{recipient.pk}/?erase=true")
    assert response.status_code == 404
    assert Recipient.objects.filter(pk=recipient.pk).exists()


def test_erasing_needs_the_manage_scope(org, recipient):
    from tests.conftest import api_client_for

    reader = api_client_for(org, scopes=["read"])
    assert reader.delete(f"/api/v1/recipients/{recipient.pk}/?erase=true").status_code == 403
    assert Recipient.objects.filter(pk=recipient.pk).exists()


def test_the_admin_action_erases_through_the_same_service(admin_client, zebulon_everywhere):
    response = admin_client.post(
        reverse("admin:recipients_recipient_changelist"),
        {"action": "erase", "_selected_action": [zebulon_everywhere.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Erased 1 recipient(s)" in response.content
    assert traces_left() == []


def test_erasing_leaves_another_orgs_history_of_the_same_address_alone(api, other_org, admin_client):
    theirs = Recipient.objects.create(org=other_org, email=ADDRESS, first_name="Their")
    change = reverse("admin:recipients_recipient_change", args=[theirs.pk])
    form = {"org": other_org.pk, "email": ADDRESS, "phone": "", "external_id": "", "first_name": "Theirs",
            "last_name": "", "locale": "", "attributes": "{}"}  # fmt: skip
    assert admin_client.post(change, form).status_code == 302
    mine = api.post("/api/v1/recipients/", {"email": ADDRESS}, format="json").json()

    assert api.delete(f"/api/v1/recipients/{mine['id']}/?erase=true").status_code == 200

    their_history = LogEntry.objects.get(object_id=str(theirs.pk))
    assert their_history.object_repr == ADDRESS
    assert Recipient.objects.filter(pk=theirs.pk).exists()
