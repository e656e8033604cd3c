"""A campaign's page shows how to call it, and every example on it works as shown."""

import json
import os
import subprocess
from urllib.parse import urlsplit

import pytest

from campaigns.admin_howto import ACCESS_TOKEN, TOKEN, campaign_examples
from orgs.services import token_create
from sends.models import Send
from tests.factories import CampaignFactory, MailingFactory, RecipientFactory, SmsMailingFactory
from tests.test_admin import url

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop_campaign(org):
    mailing = MailingFactory(org=org, sample_context={"order_number": "A-1001"})
    return CampaignFactory(org=org, key="order-completed", email_mailing=mailing)


def call(client, example, secret: str, access_token: str = ""):
    def fill(text: str) -> str:
        return text.replace(TOKEN, secret).replace(ACCESS_TOKEN, access_token)

    target = urlsplit(example.url)
    path = target.path + (f"?{target.query}" if target.query else "")
    body = fill(json.dumps(example.body)) if example.body is not None else ""
    headers = {name: fill(value) for name, value in example.headers.items() if name != "Content-Type"}
    return client.generic(example.method, path, body, content_type="application/json", headers=headers)


def test_the_campaign_page_shows_each_dialects_call_filled_in(admin_client, shop_campaign):
    content = admin_client.get(url("campaigns_campaign_change", shop_campaign.pk)).content.decode()
    assert "How to call it" in content
    assert "http://testserver/api/v1/campaigns/order-completed/trigger/" in content
    assert f"orgid={shop_campaign.org_id}&amp;mid={shop_campaign.pk}" in content
    assert "&quot;message&quot;: &quot;order-completed&quot;" in content  # parcelLab's message key
    assert f"/messaging/v1/messageDefinitionSends/{shop_campaign.object_id}/send" in content
    assert f"/trg/{shop_campaign.link_id}/ada@example.com" in content
    assert "&quot;order_number&quot;: &quot;A-1001&quot;" in content  # the mailing's sample context


def test_every_example_triggers_the_campaign_as_shown(client, org, shop_campaign):
    RecipientFactory(org=org, email="ada@example.com")  # trigger launch finds existing profiles only
    _, secret = token_create(org=org, name="shop backend")
    examples = campaign_examples(shop_campaign, base_url="http://testserver")
    access_token = ""
    for example in examples:
        response = call(client, example, secret, access_token)
        assert response.status_code in (200, 202), (example.title, response.content)
        if example.url.endswith("/v2/token"):
            access_token = response.json()["access_token"]
    triggering = [e for e in examples if not e.url.endswith("/v2/token")]
    assert Send.objects.filter(campaign=shop_campaign).count() == len(triggering) == 6
    assert set(Send.objects.values_list("to_address", flat=True)) == {"ada@example.com"}


def test_an_sms_only_campaign_shows_no_marketing_cloud_call_and_its_examples_work(client, org):
    campaign = CampaignFactory(org=org, email_mailing=None, sms_mailing=SmsMailingFactory(org=org))
    RecipientFactory(org=org, email="ada@example.com", phone="+4915112345678")
    _, secret = token_create(org=org, name="shop backend")
    examples = campaign_examples(campaign, base_url="http://testserver")
    assert not [e for e in examples if "Marketing Cloud" in e.title]
    for example in examples:
        response = call(client, example, secret)
        assert response.status_code in (200, 202), (example.title, response.content)
    assert set(Send.objects.values_list("channel", flat=True)) == {"sms"}


def test_the_retrigger_failed_page_opened_from_a_campaign_has_it_chosen(admin_client, shop_campaign):
    response = admin_client.get(url("sends_send_retrigger_failed"), {"campaign": shop_campaign.pk})
    assert response.status_code == 200
    assert response.context["form"].initial["campaign"] == str(shop_campaign.pk)
    assert not response.context["form"].errors


def test_each_curl_command_passes_the_token_and_body_through_the_shell(shop_campaign):
    for example in campaign_examples(shop_campaign, base_url="http://testserver"):
        # The command with curl swapped for printf: the shell hands over the arguments curl would get.
        shown = subprocess.run(
            ["bash", "-c", example.curl.replace("curl ", "printf '%s\\0' ", 1)],
            env={"HERALD_TOKEN": "hrld_secret", "ACCESS_TOKEN": "access", "PATH": os.environ["PATH"]},
            capture_output=True, text=True, check=True,
        ).stdout.split("\0")[:-1]  # fmt: skip
        assert shown[:3] == ["-X", example.method, example.url]
        headers = [shown[i + 1] for i, arg in enumerate(shown) if arg == "-H"]
        expected = [f"{k}: {v}".replace(TOKEN, "hrld_secret").replace(ACCESS_TOKEN, "access")
                    for k, v in example.headers.items()]  # fmt: skip
        assert headers == expected
        if example.body is not None:
            body = json.loads(shown[shown.index("-d") + 1])
            assert body == json.loads(json.dumps(example.body).replace(TOKEN, "hrld_secret"))
