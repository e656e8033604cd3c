"""A campaign's page shows how to call it: the native API and each vendor dialect, filled in for it."""

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from campaigns.models import Campaign

TOKEN = "$HERALD_TOKEN"
ACCESS_TOKEN = "$ACCESS_TOKEN"
JSON = {"Content-Type": "application/json"}
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


ExampleBuilder = Callable[[Campaign, str], list[Example]]
_builders: list[ExampleBuilder] = []


def examples_register(builder: ExampleBuilder) -> ExampleBuilder:
    """Add the examples of an API that speaks to campaigns; the dialects register theirs when they load."""
    _builders.append(builder)
    return builder


def sample_context(campaign: Campaign) -> dict:
    mailing = campaign.email_mailing or campaign.sms_mailing
    return mailing.sample_context if mailing and isinstance(mailing.sample_context, dict) else {}


def campaign_examples(campaign: Campaign, *, base_url: str) -> list[Example]:
    """How an application triggers this campaign, in each API Herald speaks (docs/dialects.md)."""
    recipient = {"email": SAMPLE["email"], **({"phone": SAMPLE["phone"]} if campaign.sms_mailing_id else {}),
                 "first_name": SAMPLE["first_name"]}  # fmt: skip
    native = Example(
        "Herald's own API", "POST", f"{base_url}/api/v1/campaigns/{campaign.key}/trigger/",
        {"Authorization": f"Bearer {TOKEN}", **JSON, "Idempotency-Key": "order-A-1001"},
        {"recipients": [recipient], "context": sample_context(campaign)},
        "Idempotency-Key is optional: a retry with the same key sends nothing twice.",
    )  # fmt: skip
    return [native, *(example for builder in _builders for example in builder(campaign, base_url))]


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
