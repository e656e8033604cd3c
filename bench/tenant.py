"""An org of the benchmark's own, with an API token, the workload's mailing and a campaign sending it."""

from dataclasses import dataclass

from bench import workload
from campaigns.models import Campaign
from mailings.models import Mailing
from orgs.services import org_create


@dataclass(frozen=True)
class Tenant:
    org_id: int
    token: str
    campaign_id: int
    campaign_key: str
    campaign_object_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}


def tenant_create(name: str) -> Tenant:
    org, token = org_create(name=f"Benchmark {name}")
    mailing = Mailing.objects.create(org=org, **workload.MAILING)
    campaign = Campaign.objects.create(
        org=org, key="order-confirmed", name="Order confirmed", email_mailing=mailing
    )
    return Tenant(org.pk, token, campaign.pk, campaign.key, str(campaign.object_id))


def sends_reset() -> None:
    """Empty the send log, triggers and recipients between measurements, so each starts alike."""
    from django.db import connection

    from recipients.models import Recipient
    from sends.models import DeliveryEvent, Send, Trigger

    tables = ", ".join(m._meta.db_table for m in (DeliveryEvent, Send, Trigger, Recipient))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")
