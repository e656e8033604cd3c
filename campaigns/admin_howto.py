"""A campaign's page shows how to call it: the native API and each vendor dialect, filled in for it."""

import json
import shlex
from dataclasses import dataclass, field

from .models import Campaign

TOKEN = "$HERALD_TOKEN"
ACCESS_TOKEN = "$ACCESS_TOKEN"
SAMPLE = {"email": "ada@example.com", "phone": "+4915112345678", "first_name": "Ada", "last_name": "Lovelace"}


@dataclass
class Example:
    title: str
    method: str
    url: str
    headers: dict = field(default_factory=dict)
    body: object = None
    note: str = ""

    @property
    def curl(self) -> str:
        parts = ["curl", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.headers.items():
            # Double quotes around headers with a shell variable in them, so the shell fills it in.
            parts += ["-H", f'"{name}: {value}"' if "$" in value else shlex.quote(f"{name}: {value}")]
        if self.body is not None:
            body = shlex.quote(json.dumps(self.body, ensure_ascii=False, indent=2))
            for variable in (TOKEN, ACCESS_TOKEN):  # out of the single quotes, so the shell fills it in
                body = body.replace(variable, f"'\"{variable}\"'")
            parts += ["-d", body]
        return " \\\n  ".join(_pairs(parts))


def _pairs(parts: list[str]) -> list[str]:
    """`curl -X POST url` on the first line, then one option and its value per line."""
    lines, rest = [" ".join(parts[:4])], parts[4:]
    return lines + [f"{rest[i]} {rest[i + 1]}" for i in range(0, len(rest), 2)]


def campaign_examples(campaign: Campaign, *, base_url: str) -> list[Example]:
    """How an application triggers this campaign, in each API Herald speaks (docs/dialects.md)."""
    mailing = campaign.email_mailing or campaign.sms_mailing
    context = mailing.sample_context if mailing and isinstance(mailing.sample_context, dict) else {}
    has_sms = campaign.sms_mailing_id is not None
    recipient = {"email": SAMPLE["email"], **({"phone": SAMPLE["phone"]} if has_sms else {}),
                 "first_name": SAMPLE["first_name"]}  # fmt: skip
    json_headers = {"Content-Type": "application/json"}
    by = "email" if campaign.email_mailing_id else "phone"
    matching = {"matching": by, by: SAMPLE[by]}
    org = campaign.org_id
    examples = [
        Example(
            "Herald's own API", "POST", f"{base_url}/api/v1/campaigns/{campaign.key}/trigger/",
            {"Authorization": f"Bearer {TOKEN}", **json_headers, "Idempotency-Key": "order-A-1001"},
            {"recipients": [recipient], "context": context},
            "Idempotency-Key is optional: a retry with the same key sends nothing twice.",
        ),
        Example(
            "Message Central 3.7", "PUT", f"{base_url}/v3.7/mailing/trigger?orgid={org}&mid={campaign.pk}",
            {"Authorization": f"Bearer {TOKEN}", **json_headers},
            [{"email": SAMPLE["email"], **({"mobile": SAMPLE["phone"]} if has_sms else {}),
              "firstname": SAMPLE["first_name"], "context": context}],
            f"orgid is this org's id, mid this campaign's id ({campaign.pk}).",
        ),
        Example(
            "parcelLab", "POST", f"{base_url}/v2/trigger-message",
            {"user": str(org), "token": TOKEN, **json_headers},
            {"message": campaign.key, "channel": "email" if campaign.email_mailing_id else "SMS",
             "to": [{"address": SAMPLE["email"] if campaign.email_mailing_id else SAMPLE["phone"],
                     "name": f"{SAMPLE['first_name']} {SAMPLE['last_name']}"}],
             "placeholders": [{"name": k, "value": v} for k, v in context.items()
                              if isinstance(v, str | int | float | bool)]},
            f"The message key is this campaign's key, {campaign.key}; user is this org's id.",
        ),
        Example(
            "Marketing Cloud: 1. an access token", "POST", f"{base_url}/v2/token", json_headers,
            {"grant_type": "client_credentials", "client_id": str(org), "client_secret": TOKEN},
            "Answers access_token, valid for 18 minutes: set ACCESS_TOKEN to it for the next call.",
        ),
        Example(
            "Marketing Cloud: 2. the send", "POST",
            f"{base_url}/messaging/v1/messageDefinitionSends/{campaign.object_id}/send",
            {"Authorization": f"Bearer {ACCESS_TOKEN}", **json_headers},
            {"To": {"Address": SAMPLE["email"], "SubscriberKey": SAMPLE["email"],
                    "ContactAttributes": {"SubscriberAttributes": context}}},
            f"The definition's GUID is this campaign's object_id; key:{campaign.key} names it too. "
            "Marketing Cloud sends the email mailing.",
        ),
        Example(
            "Trigger launch v1.1", "POST", f"{base_url}/api/v1.1/campaigns/triggers/start/", json_headers,
            {"token": TOKEN, "id": campaign.pk, **matching, "content": context},
            "Finds existing recipients only (matching: email, phone, profile_id, custom, custom_request).",
        ),
        Example(
            "Trigger launch v1.0 link", "GET", f"{base_url}/trg/{campaign.link_id}/{SAMPLE['email']}",
            note="The link is the credential: whoever has it triggers this campaign. The last segment is the "
            "recipient's email address, or its md5 or xxh64. Keep it out of places that prefetch URLs.",
        ),
    ]  # fmt: skip
    if not campaign.email_mailing_id:
        examples = [e for e in examples if not e.title.startswith("Marketing Cloud")]  # email only
    return examples


class HowToCallMixin:
    """For CampaignAdmin: the examples under the campaign's form."""

    change_form_template = "admin/campaigns/campaign/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, object_id)
        if campaign is not None:
            base_url = request.build_absolute_uri("/").rstrip("/")
            extra_context = {
                **(extra_context or {}),
                "how_to_call": campaign_examples(campaign, base_url=base_url),
            }
        return super().change_view(request, object_id, form_url, extra_context)
