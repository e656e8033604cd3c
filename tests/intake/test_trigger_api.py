import base64

import pytest
from django.core import mail

from campaigns.models import Campaign
from recipients.models import Recipient
from sends.models import Send, Trigger
from tests.factories import CampaignFactory, RecipientFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/campaigns/order-completed/trigger/"


def problems(response) -> dict[str, str]:
    return {p["field"]: p["message"] for p in response.json()["error"]["problems"]}


def test_a_trigger_is_accepted_with_its_sends(api, campaign):
    response = api.post(
        URL,
        {"recipients": [{"email": "Ann@Example.com", "first_name": "Ann"}], "context": {"order_number": 42}},
        format="json",
    )
    assert response.status_code == 202
    body = response.json()
    trigger = Trigger.objects.get(pk=body["trigger"])
    [send] = body["sends"]
    assert set(send) == {"id", "correlation_id", "recipient", "status", "last_error", "test"}
    assert send["status"] == "queued"
    row = Send.objects.get(pk=send["id"])
    assert row.trigger == trigger
    assert row.to_address == "ann@example.com"
    assert row.context == {"order_number": 42}
    assert Recipient.objects.get(pk=send["recipient"]).first_name == "Ann"


def test_an_existing_recipient_is_found_by_email_external_id_or_id(api, campaign, recipient):
    response = api.post(
        URL,
        {"recipients": [{"email": "ADA@example.com"}, {"external_id": "crm-1"}, {"id": recipient.id}]},
        format="json",
    )
    assert response.status_code == 202
    assert {s["recipient"] for s in response.json()["sends"]} == {recipient.id}
    assert Recipient.objects.count() == 1


def test_the_same_new_address_twice_in_a_batch_makes_one_recipient(api, campaign):
    response = api.post(
        URL, {"recipients": [{"email": "x@example.com"}, {"email": "x@example.com"}]}, format="json"
    )
    assert response.status_code == 202
    assert Recipient.objects.filter(email="x@example.com").count() == 1
    assert len(response.json()["sends"]) == 2


def test_a_batch_with_an_unknown_id_and_a_bad_address_stores_nothing(api, campaign):
    response = api.post(
        URL,
        {"recipients": [{"email": "fine@example.com"}, {"id": 999999}, {"email": "not-an-address"}]},
        format="json",
    )
    assert response.status_code == 400
    found = problems(response)
    assert found["recipients[1].id"] == "No recipient with id 999999."
    assert "not a valid email address" in found["recipients[2].email"]
    assert "Nothing was stored" in response.json()["error"]["message"]
    assert not Trigger.objects.exists()
    assert not Send.objects.exists()
    assert not Recipient.objects.exists()


def test_another_orgs_recipient_id_is_unknown(api, campaign, other_org):
    stranger = RecipientFactory(org=other_org)
    response = api.post(URL, {"recipients": [{"id": stranger.id}]}, format="json")
    assert response.status_code == 400
    assert problems(response) == {"recipients[0].id": f"No recipient with id {stranger.id}."}


def test_the_shape_of_the_request_is_checked_field_by_field(api, campaign):
    response = api.post(
        URL,
        {"recipients": [{"email": 5, "colour": "red"}], "delay": -1, "channel": "fax", "expires_at": "soon"},
        format="json",
    )
    assert response.status_code == 400
    found = problems(response)
    assert "5 is not of type 'string'" in found["recipients[0].email"]
    assert "'colour' was unexpected" in found["recipients[0]"]
    assert "minimum" in found["delay"]
    assert "channel" in found
    assert "ISO 8601" in found["expires_at"]


def test_an_empty_or_oversized_batch_is_refused(api, campaign, settings):
    settings.HERALD_MAX_BATCH = 3
    assert api.post(URL, {"recipients": []}, format="json").status_code == 400
    too_many = {"recipients": [{"email": f"r{i}@example.com"} for i in range(4)]}
    response = api.post(URL, too_many, format="json")
    assert response.status_code == 400
    assert "recipients" in problems(response)
    assert not Send.objects.exists()


def test_a_paused_campaign_is_a_conflict(api, campaign):
    campaign.status = Campaign.Status.PAUSED
    campaign.save()
    response = api.post(URL, {"recipients": [{"email": "a@example.com"}]}, format="json")
    assert response.status_code == 409
    assert problems(response)["campaign"].startswith("The campaign is paused")
    assert not Send.objects.exists()


def test_a_context_that_breaks_the_mailings_schema_is_refused_with_the_schema_errors(api, campaign):
    mailing = campaign.email_mailing
    mailing.context_schema = {
        "type": "object",
        "required": ["order_number"],
        "properties": {"order_number": {"type": "integer"}},
    }
    mailing.save()
    response = api.post(
        URL,
        {
            "recipients": [
                {"email": "a@example.com"},
                {"email": "b@example.com", "context": {"order_number": "x"}},
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    found = problems(response)
    assert found["recipients[0].context"] == "'order_number' is a required property"
    assert found["recipients[1].context.order_number"] == "'x' is not of type 'integer'"
    assert not Send.objects.exists()


def test_the_recipients_own_context_is_merged_over_the_shared_one(api, campaign):
    response = api.post(
        URL,
        {"recipients": [{"email": "a@example.com", "context": {"b": 3}}], "context": {"a": 1, "b": 2}},
        format="json",
    )
    assert Send.objects.get(pk=response.json()["sends"][0]["id"]).context == {"a": 1, "b": 3}


def test_a_delay_schedules_the_sends_in_the_database(api, campaign):
    response = api.post(URL, {"recipients": [{"email": "a@example.com"}], "delay": 600}, format="json")
    send = Send.objects.get(pk=response.json()["sends"][0]["id"])
    assert send.status == Send.Status.SCHEDULED
    assert 590 < (send.scheduled_at - send.created_at).total_seconds() <= 600


def test_the_campaigns_default_delay_applies(api, org):
    CampaignFactory(org=org, key="order-completed", delay_seconds=120)
    response = api.post(URL, {"recipients": [{"email": "a@example.com"}]}, format="json")
    assert response.json()["sends"][0]["status"] == "scheduled"


def test_delay_and_send_at_together_are_refused(api, campaign):
    response = api.post(
        URL,
        {"recipients": [{"email": "a@example.com"}], "delay": 5, "send_at": "2030-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    assert "send_at" in problems(response)


def test_an_expiry_in_the_past_is_refused(api, campaign):
    response = api.post(
        URL, {"recipients": [{"email": "a@example.com"}], "expires_at": "2001-01-01T00:00:00Z"}, format="json"
    )
    assert problems(response) == {"expires_at": "Already in the past."}


def test_a_campaign_with_email_and_sms_sends_each_channel_the_recipient_has(api, org):
    CampaignFactory(org=org, key="order-completed", sms_mailing=SmsMailingFactory(org=org))
    response = api.post(
        URL,
        {
            "recipients": [
                {"email": "a@example.com", "phone": "+49 151 1234-5678"},
                {"phone": "+4915100000000"},
            ]
        },
        format="json",
    )
    assert response.status_code == 202
    sends = Send.objects.order_by("pk")
    assert [(s.channel, s.to_address) for s in sends] == [
        ("email", "a@example.com"),
        ("sms", "+4915112345678"),
        ("sms", "+4915100000000"),
    ]


def test_a_channel_the_recipient_has_no_address_for_is_refused(api, campaign):
    response = api.post(URL, {"recipients": [{"phone": "+4915100000000"}], "channel": "email"}, format="json")
    assert response.status_code == 400
    assert problems(response) == {"recipients[0]": "Has no email address for the email mailing."}


def test_a_channel_the_campaign_does_not_send_is_refused(api, campaign):
    response = api.post(URL, {"recipients": [{"phone": "+4915100000000"}], "channel": "sms"}, format="json")
    assert response.status_code == 400
    assert "has no sms mailing" in problems(response)["channel"]


def test_attachments_are_kept_once_on_the_trigger_with_sanitised_names(api, campaign):
    content = base64.b64encode(b"id,total\n1,9.99\n").decode()
    response = api.post(
        URL,
        {
            "recipients": [{"email": "a@example.com"}],
            "attachments": [
                {"filename": "../../etc/inv\r\noice.csv", "content_type": "text/csv", "content": content}
            ],
        },
        format="json",
    )
    assert response.status_code == 202
    trigger = Trigger.objects.get()
    assert trigger.attachments == [
        {"filename": "invoice.csv", "content_type": "text/csv", "content": content}
    ]


def test_attachment_content_must_be_base64(api, campaign):
    response = api.post(
        URL,
        {
            "recipients": [{"email": "a@example.com"}],
            "attachments": [{"filename": "a.txt", "content_type": "text/plain", "content": "***"}],
        },
        format="json",
    )
    assert problems(response) == {"attachments[0].content": "Not valid base64."}


def test_oversized_attachments_are_refused(api, campaign, settings):
    settings.HERALD_MAX_ATTACHMENT_BYTES = 10
    content = base64.b64encode(b"x" * 11).decode()
    response = api.post(
        URL,
        {
            "recipients": [{"email": "a@example.com"}],
            "attachments": [{"filename": "a.txt", "content": content}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "at most 10" in problems(response)["attachments"]


def test_the_same_idempotency_key_and_body_answers_the_first_response_again(api, campaign):
    body = {"recipients": [{"email": "a@example.com"}]}
    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    again = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert Trigger.objects.count() == 1
    assert Send.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_a_conflict(api, campaign):
    api.post(URL, {"recipients": [{"email": "a@example.com"}]}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = api.post(
        URL, {"recipients": [{"email": "b@example.com"}]}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 409
    assert "Idempotency-Key" in problems(response)
    assert Send.objects.count() == 1


def test_idempotency_keys_are_per_org(api, other_api, campaign, other_org):
    CampaignFactory(org=other_org, key="order-completed")
    body = {"recipients": [{"email": "a@example.com"}]}
    assert api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 202
    assert other_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 202
    assert Trigger.objects.count() == 2


def test_another_orgs_campaign_is_not_found(other_api, campaign):
    response = other_api.post(URL, {"recipients": [{"email": "a@example.com"}]}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_triggered_sends_are_dispatched_after_commit(
    api, campaign, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            URL,
            {
                "recipients": [{"email": "a@example.com", "first_name": "Ann"}],
                "context": {"order_number": "A-7"},
            },
            format="json",
        )
    assert response.status_code == 202
    [message] = mail.outbox
    assert message.subject == "Order A-7 confirmed"
    assert message.body == "Hello Ann, your order A-7 is confirmed."
    send = Send.objects.get()
    assert send.status == Send.Status.SENT


def test_trigger_progress_counts_sends_by_status(api, campaign):
    body = api.post(
        URL, {"recipients": [{"email": f"r{i}@example.com"} for i in range(3)]}, format="json"
    ).json()
    Send.objects.filter(pk=body["sends"][0]["id"]).update(status=Send.Status.SENT)
    response = api.get(f"/api/v1/triggers/{body['trigger']}/")
    assert response.status_code == 200
    progress = response.json()
    assert progress["counts"] == {"queued": 2, "sent": 1}
    assert progress["total"] == 3
    assert progress["done"] is False


def test_another_orgs_trigger_is_not_found(api, other_api, campaign):
    body = api.post(URL, {"recipients": [{"email": "a@example.com"}]}, format="json").json()
    assert other_api.get(f"/api/v1/triggers/{body['trigger']}/").status_code == 404


def test_a_mailing_of_another_channel_cannot_be_a_campaigns_email_mailing(api, org):
    sms = SmsMailingFactory(org=org)
    response = api.post(
        "/api/v1/campaigns/", {"key": "x", "name": "X", "email_mailing": sms.id}, format="json"
    )
    assert response.status_code == 400
    assert "sms mailing" in problems(response)["email_mailing"]


def test_a_recipient_with_nothing_to_find_it_by_is_named(api, campaign):
    response = api.post(URL, {"recipients": [{"first_name": "Ann"}]}, format="json")
    assert response.status_code == 400
    assert problems(response) == {"recipients[0]": "Give an id, email, phone or external_id."}


def test_a_reference_with_a_line_break_is_a_400_and_stores_nothing(api, campaign):
    response = api.post(
        f"/api/v1/campaigns/{campaign.key}/trigger/",
        {
            "recipients": [{"email": "a@example.com"}],
            "context": {"order_number": 1},
            "reference": "A-1\r\nX: y",
        },
        format="json",
    )
    assert response.status_code == 400
    assert [p["field"] for p in response.json()["error"]["problems"]] == ["reference"]
    assert not Trigger.objects.exists()
