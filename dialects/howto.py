"""How to call a campaign in each vendor's dialect: examples for its admin page (campaigns/admin_howto.py)."""

from campaigns.admin_howto import (
    ACCESS_TOKEN,
    JSON,
    SAMPLE,
    TOKEN,
    Example,
    examples_register,
    sample_context,
)
from campaigns.models import Campaign


@examples_register
def message_central(campaign: Campaign, base_url: str) -> list[Example]:
    contact = {"email": SAMPLE["email"], **({"mobile": SAMPLE["phone"]} if campaign.sms_mailing_id else {}),
               "firstname": SAMPLE["first_name"], "context": sample_context(campaign)}  # fmt: skip
    return [
        Example(
            "Message Central 3.7", "PUT",
            f"{base_url}/v3.7/mailing/trigger?orgid={campaign.org_id}&mid={campaign.pk}",
            {"Authorization": f"Bearer {TOKEN}", **JSON}, [contact],
            f"orgid is this org's id, mid this campaign's id ({campaign.pk}).",
        )
    ]  # fmt: skip


@examples_register
def parcellab(campaign: Campaign, base_url: str) -> list[Example]:
    email = campaign.email_mailing_id is not None
    placeholders = [
        {"name": name, "value": value}
        for name, value in sample_context(campaign).items()
        if isinstance(value, str | int | float | bool)
    ]
    return [
        Example(
            "parcelLab", "POST", f"{base_url}/v2/trigger-message",
            {"user": str(campaign.org_id), "token": TOKEN, **JSON},
            {"message": campaign.key, "channel": "email" if email else "SMS",
             "to": [{"address": SAMPLE["email"] if email else SAMPLE["phone"],
                     "name": f"{SAMPLE['first_name']} {SAMPLE['last_name']}"}],
             "placeholders": placeholders},
            f"The message key is this campaign's key, {campaign.key}; user is this org's id.",
        )
    ]  # fmt: skip


@examples_register
def marketing_cloud(campaign: Campaign, base_url: str) -> list[Example]:
    if not campaign.email_mailing_id:
        return []  # Marketing Cloud's triggered sends are email only
    return [
        Example(
            "Marketing Cloud: 1. an access token", "POST", f"{base_url}/v2/token", JSON,
            {"grant_type": "client_credentials", "client_id": str(campaign.org_id), "client_secret": TOKEN},
            "Answers access_token, valid for 18 minutes: set ACCESS_TOKEN to it for the next call.",
        ),
        Example(
            "Marketing Cloud: 2. the send", "POST",
            f"{base_url}/messaging/v1/messageDefinitionSends/{campaign.object_id}/send",
            {"Authorization": f"Bearer {ACCESS_TOKEN}", **JSON},
            {"To": {"Address": SAMPLE["email"], "SubscriberKey": SAMPLE["email"],
                    "ContactAttributes": {"SubscriberAttributes": sample_context(campaign)}}},
            f"The definition's GUID is this campaign's object_id; key:{campaign.key} names it too. "
            "Marketing Cloud sends the email mailing.",
        ),
    ]  # fmt: skip


@examples_register
def trigger_launch(campaign: Campaign, base_url: str) -> list[Example]:
    by = "email" if campaign.email_mailing_id else "phone"
    body = {
        "token": TOKEN,
        "id": campaign.pk,
        "matching": by,
        by: SAMPLE[by],
        "content": sample_context(campaign),
    }
    return [
        Example(
            "Trigger launch v1.1", "POST", f"{base_url}/api/v1.1/campaigns/triggers/start/", JSON,
            body,
            "Finds existing recipients only (matching: email, phone, profile_id, custom, custom_request).",
        ),
        Example(
            "Trigger launch v1.0 link", "GET", f"{base_url}/trg/{campaign.link_id}/{SAMPLE['email']}",
            note="The link is the credential: whoever has it triggers this campaign. The last segment is the "
            "recipient's email address, or its md5 or xxh64. Keep it out of places that prefetch URLs.",
        ),
    ]  # fmt: skip
