"""The privacy settings and tools in the admin: a campaign's kind, an org's retention, erased suppressions."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from orgs.models import Org
from privacy.services import recipient_erase
from suppressions.models import Suppression
from suppressions.services import suppression_add
from tests.factories import MailingFactory, RecipientFactory

pytestmark = pytest.mark.django_db


def test_a_marketing_campaign_is_added_in_the_admin(admin_client, org):
    mailing = MailingFactory(org=org)
    data = {"org": org.pk, "key": "news", "name": "News", "status": "active", "email_mailing": mailing.pk,
            "sms_mailing": "", "delay_seconds": "0", "cap_scope": "campaign",
            "kind": "marketing"}  # fmt: skip
    assert admin_client.post(reverse("admin:campaigns_campaign_add"), data).status_code == 302
    assert Campaign.objects.get().kind == "marketing"


def test_an_orgs_retention_is_set_in_the_admin(admin_client, org):
    data = {"name": org.name, "rate_limit_per_minute": "", "retention_days": "90", "timezone": "UTC",
            "created_at_0": "2025-01-01", "created_at_1": "10:00:00",
            "tokens-TOTAL_FORMS": "0", "tokens-INITIAL_FORMS": "0",
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}  # fmt: skip
    response = admin_client.post(reverse("admin:orgs_org_change", args=[org.pk]), data)
    assert response.status_code == 302
    assert Org.objects.get(pk=org.pk).retention_days == 90


def test_support_finds_an_erased_address_by_searching_for_it(admin_client, org):
    ann = RecipientFactory(org=org, email="ann@example.com")
    suppression_add(org=org, address="bob@example.com", reason=Suppression.Reason.BOUNCED)
    recipient_erase(recipient=ann)
    changelist = reverse("admin:suppressions_suppression_changelist")
    found = admin_client.get(changelist, {"q": "Ann@Example.com"}).context["cl"].result_list
    assert [(s.address, s.reason) for s in found] == [("", "erased")]
    assert len(admin_client.get(changelist, {"q": "bob@"}).context["cl"].result_list) == 1


def test_a_suppression_cannot_be_added_in_the_admin_without_an_address(admin_client, org):
    data = {"org": org.pk, "address": "", "reason": "manual", "scope": "all"}
    response = admin_client.post(reverse("admin:suppressions_suppression_add"), data)
    assert response.status_code == 200 and "address" in response.context["adminform"].form.errors
    assert not Suppression.objects.exists()
