"""Cancelling what has not gone yet, by cancellation key, trigger id or reference: the API and the admin."""

import pytest
from django.utils import timezone

from core import metrics
from dispatch.chunk import sends_dispatch
from orgs.models import Membership
from sends.models import Send, Trigger
from tests.conftest import api_client_for
from tests.factories import CampaignFactory, MembershipFactory
from tests.test_admin import url

pytestmark = pytest.mark.django_db
Status = Send.Status
TRIGGER = "/api/v1/campaigns/order-completed/trigger/"
CANCEL = "/api/v1/triggers/cancel/"


def trigger(api, n: int = 3, **fields) -> Trigger:
    response = api.post(
        TRIGGER,
        {"recipients": [{"email": f"r{i}@example.com"} for i in range(n)], "context": {"order_number": 1},
         **fields},
        format="json",
    )  # fmt: skip
    assert response.status_code == 202, response.content
    return Trigger.objects.get(pk=response.json()["trigger"])


def statuses(trigger: Trigger) -> list[str]:
    return sorted(trigger.sends.values_list("status", flat=True))


def test_a_cancellation_key_cancels_every_send_not_yet_gone_of_every_trigger_with_it(api, campaign):
    later = trigger(api, 3, cancellation_key="cart-81", delay=3600)
    now = trigger(api, 2, cancellation_key="cart-81")
    other = trigger(api, 2, cancellation_key="cart-99", delay=3600)

    response = api.post(CANCEL, {"cancellation_key": "cart-81"}, format="json")

    assert response.status_code == 200
    assert response.json() == {"triggers": 2, "cancelled": 5, "already_cancelled": 0, "gone": 0}
    assert statuses(later) == ["cancelled"] * 3
    assert statuses(now) == ["cancelled"] * 2
    assert statuses(other) == ["scheduled"] * 2
    send = later.sends.first()
    assert "Cancelled before it was dispatched" in send.last_error
    assert api.get(f"/api/v1/triggers/{now.pk}/").json()["done"] is True


def test_cancelling_again_changes_nothing_and_says_so(api, campaign):
    trigger(api, 2, cancellation_key="k", delay=60)
    api.post(CANCEL, {"cancellation_key": "k"}, format="json")
    again = api.post(CANCEL, {"cancellation_key": "k"}, format="json")
    assert again.json() == {"triggers": 1, "cancelled": 0, "already_cancelled": 2, "gone": 0}


def test_what_a_worker_claimed_or_sent_is_gone_not_cancelled(api, campaign):
    t = trigger(api, 4, reference="order-7")
    first, second, *_ = t.sends.order_by("pk")
    sends_dispatch(send_ids=[first.pk])
    Send.objects.filter(pk=second.pk).update(status=Status.SENDING, claimed_at=timezone.now())

    response = api.post(CANCEL, {"reference": "order-7"}, format="json")

    assert response.json() == {"triggers": 1, "cancelled": 2, "already_cancelled": 0, "gone": 2}
    assert statuses(t) == ["cancelled", "cancelled", "sending", "sent"]


def test_a_cancelled_send_is_never_dispatched_though_its_task_still_runs(api, campaign):
    t = trigger(api, 2)
    api.post(CANCEL, {"trigger": t.pk}, format="json")
    assert sends_dispatch(send_ids=list(t.sends.values_list("pk", flat=True))) == {}
    assert statuses(t) == ["cancelled", "cancelled"]


def test_cancelled_sends_are_counted_in_the_metrics(api, campaign):
    t = trigger(api, 3, delay=60)
    api.post(CANCEL, {"trigger": t.pk}, format="json")
    assert metrics._totals("herald_sends") == {"email\x1fcancelled": 3}


def test_another_orgs_trigger_is_a_404_and_its_key_is_its_own(api, campaign, other_org):
    other_api = api_client_for(other_org)
    CampaignFactory(org=other_org, key="order-completed")
    theirs = trigger(other_api, 2, cancellation_key="shared", delay=60)
    ours = trigger(api, 1, cancellation_key="shared", delay=60)

    assert api.post(CANCEL, {"trigger": theirs.pk}, format="json").status_code == 404
    assert api.post(CANCEL, {"cancellation_key": "shared"}, format="json").json()["cancelled"] == 1
    assert statuses(theirs) == ["scheduled", "scheduled"]
    assert statuses(ours) == ["cancelled"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"cancellation_key", "trigger", "reference"}),
        ({"trigger": 1, "reference": "x"}, {"trigger", "reference"}),
        ({"trigger": "one"}, {"trigger"}),
        ({"trigger": True}, {"trigger"}),
        ({"trigger": 0}, {"trigger"}),
        ({"cancellation_key": ""}, {"cancellation_key"}),
        ({"cancellation_key": "a\r\nb"}, {"cancellation_key"}),
        ({"reference": "x" * 256}, {"reference"}),
        ([], {"cancellation_key", "trigger", "reference"}),
    ],
)
def test_a_bad_cancel_request_is_a_400_naming_the_field_and_cancels_nothing(api, campaign, body, fields):
    t = trigger(api, 1, cancellation_key="k", delay=60)
    response = api.post(CANCEL, body, format="json")
    assert response.status_code == 400
    assert {p["field"] for p in response.json()["error"]["problems"]} == fields
    assert statuses(t) == ["scheduled"]


def test_cancelling_needs_the_send_scope(org, campaign):
    reader = api_client_for(org, scopes=["read"])
    assert reader.post(CANCEL, {"cancellation_key": "k"}, format="json").status_code == 403


def test_a_cancellation_key_with_a_line_break_is_refused_with_the_trigger(api, campaign):
    response = api.post(
        TRIGGER, {"recipients": [{"email": "a@example.com"}], "context": {"order_number": 1},
                  "cancellation_key": "a\nb"}, format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert [p["field"] for p in response.json()["error"]["problems"]] == ["cancellation_key"]
    assert not Trigger.objects.exists()


def test_support_cancels_from_the_admin_within_their_own_org_only(client, api, campaign, org, other_org):
    mine = trigger(api, 2, delay=60)
    CampaignFactory(org=other_org, key="order-completed")
    theirs = trigger(api_client_for(other_org), 1, delay=60)
    client.force_login(MembershipFactory(org=org, role=Membership.Role.SUPPORT).user)

    response = client.post(
        url("sends_trigger_changelist"),
        {"action": "cancel", "_selected_action": [mine.pk, theirs.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "2 send(s) cancelled of 1 trigger(s)" in response.content.decode()
    assert statuses(mine) == ["cancelled", "cancelled"]
    assert statuses(theirs) == ["scheduled"]
