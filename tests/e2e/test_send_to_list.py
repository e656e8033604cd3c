"""A 100,000-row list checked and sent by a real worker while the page shows progress."""

import re
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from intake.models import ListUpload
from orgs.models import Membership
from orgs.services import org_create
from sends.models import Send, Trigger
from tests.e2e.conftest import wait_for
from tests.factories import CampaignFactory, MailingFactory, MembershipFactory
from tests.test_admin import url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROWS = 100_000


def test_a_100000_row_list_is_checked_and_sent_by_a_worker_without_holding_a_request(worker, client):
    org, _ = org_create(name="Shop")
    mailing = MailingFactory(org=org, context_schema={"type": "object", "required": ["order_number"]})
    # Sent in an hour: the test is about the check and the accept, not 100,000 deliveries.
    campaign = CampaignFactory(org=org, email_mailing=mailing, delay_seconds=3600)
    client.force_login(MembershipFactory(org=org, role=Membership.Role.MARKETER).user)
    rows = "".join(f"c{i}@example.com,Ann{i},A-{i}\n" for i in range(ROWS))
    file = SimpleUploadedFile("customers.csv", f"email,first_name,order_number\n{rows}".encode())
    worker.start("--concurrency=1")

    started = time.monotonic()
    response = client.post(url("campaigns_campaign_send_to_list", campaign.pk), {"file": file})
    uploaded = time.monotonic() - started
    preview = response["Location"]
    page = client.get(preview).content.decode()
    assert re.search(rf'<progress value="\d+" max="{ROWS}">', page), "the page shows the check's progress"
    upload = wait_for(
        lambda: ListUpload.objects.filter(status=ListUpload.Status.CHECKED).first(),
        timeout=300, what="the check", log=worker.log,
    )  # fmt: skip
    checked = time.monotonic() - started
    assert (upload.done, upload.problem_count, Trigger.objects.count()) == (ROWS, 0, 0)

    started = time.monotonic()
    client.post(preview, {"confirm": "1"})
    client.post(preview, {"confirm": "1"})  # the double click
    assert "<progress>" in client.get(preview).content.decode()
    wait_for(
        lambda: ListUpload.objects.filter(status=ListUpload.Status.SENT).exists(),
        timeout=600, what="the accept", log=worker.log,
    )  # fmt: skip
    accepted = time.monotonic() - started

    trigger = Trigger.objects.get()
    assert (trigger.source, trigger.send_count) == ("list", ROWS)
    assert Send.objects.filter(trigger=trigger, status=Send.Status.SCHEDULED).count() == ROWS
    print(
        f"\n{ROWS} rows: upload request {uploaded:.1f} s, checked after {checked:.1f} s, "
        f"accepted {accepted:.1f} s"
    )
