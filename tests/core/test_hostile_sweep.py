"""Issue #17's sweep: every operation of the OpenAPI schema Herald serves (the native API and the four
dialects), every field of its request body, its query and its path, given each hostile value. None may
answer a 5xx; a refusal stores nothing; whatever is accepted, every list of the org still reads.

Each operation is a test of its own, against a fresh org. Every request runs in a savepoint that is rolled
back once it has been judged, so each hostile value meets the same valid request around it. That request
(`BASES`) is checked to be accepted as it is: a hostile value must be the only thing wrong with it.
"""

import base64
import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from dialects.marketing_cloud import access_token_issue
from orgs.models import ApiToken
from orgs.services import token_create
from providers.services import provider_create
from sends.models import Send, Trigger
from tests.factories import CampaignFactory, RecipientFactory, SmsMailingFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

DEEP = "\x00sweep-deep\x00"  # stands for 2,000 levels of [[…]], which json.dumps cannot write
DEEP_JSON = "[" * 2_000 + "]" * 2_000
TEXT = {
    "lone surrogate": "\ud800",
    "NUL": "a\x00b",
    "CRLF": "a@example.com\r\nBcc: x@example.com",
    "escape character": "a\x1bb",
    "year 1 at +14:00": "0001-01-01T00:00:00+14:00",
    "year 9999 at -23:59": "9999-12-31T23:59:59-23:59",
    "very long": "x" * 100_000,
}
NUMBERS = {"huge integer": 10**30, "huge negative integer": -(10**30), "2**63": 2**63, "float 1e308": 1e308}
OBJECTS = {
    "surrogate key": {"\ud800": "x"},
    "surrogate value": {"x": "\ud800"},
    "NUL value": {"x": "a\x00b"},
    "NUL key": {"a\x00": "x"},
}
ANY = {"2,000 deep": DEEP, "surrogate": "\ud800", "huge integer": 10**30}
# Path segments and query values travel as URL bytes: a lone surrogate as the UTF-8 bytes it would have.
URL_VALUES = {
    "lone surrogate": "%ED%A0%80",
    "NUL": "%00",
    "CRLF": "%0D%0ABcc:%20x@example.com",
    "not UTF-8": "%FF%FE",
    "dot dot": "..%2F..%2Fetc%2Fpasswd",
    "year 1 at +14:00": quote("0001-01-01T00:00:00+14:00"),
    "huge integer": str(10**30),
    "very long": "x" * 5_000,
}
ORG_TABLES = ["recipients", "mailings", "campaigns", "triggers", "sends", "suppressions", "webhook_endpoints"]


def hostile_values(schema: dict) -> dict[str, Any]:
    """The values to try in a field: its own type's worst, and a few of every other's."""
    types = _types(schema)
    values = dict(ANY)
    if not types or "string" in types:
        values.update(TEXT)
    if not types or types & {"integer", "number"}:
        values.update(NUMBERS)
    if not types or "object" in types:
        values.update(OBJECTS)
    if "array" in types:
        values.update({f"[{name}]": [value] for name, value in TEXT.items() if name != "very long"})
    return values


def _types(schema: dict) -> set[str]:
    kind = schema.get("type")
    types = set(kind if isinstance(kind, list) else [kind] if kind else [])
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        types |= _types(alternative)
    return types


class Schema:
    """The OpenAPI document /api/schema/ serves, with $refs resolved on the way."""

    def __init__(self) -> None:
        self.document = SchemaGenerator().get_schema(request=None, public=True)

    def resolve(self, schema: dict) -> dict:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = self.document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def operations(self) -> Iterator[tuple[str, str, dict]]:
        for path, methods in self.document["paths"].items():
            for method, operation in methods.items():
                yield path, method, operation

    def body_fields(self, operation: dict) -> list[tuple[tuple, dict]]:
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None:
            return []
        found: dict[tuple, dict] = {}
        self._walk(self.resolve(content["schema"]), (), found)
        return list(found.items())

    def _walk(self, schema: dict, path: tuple, found: dict) -> None:
        if len(path) > 4:  # the query languages nest without end; four levels reach every field Herald reads
            return
        for alternative in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
            self._walk(self.resolve(alternative), path, found)
        for name, child in schema.get("properties", {}).items():
            child = self.resolve(child)
            found.setdefault((*path, name), child)
            self._walk(child, (*path, name), found)
        if isinstance(schema.get("items"), dict):
            items = self.resolve(schema["items"])
            found.setdefault((*path, 0), items)
            self._walk(items, (*path, 0), found)


SCHEMA = Schema()
OPERATIONS = [(path, method) for path, method, _ in SCHEMA.operations()]


def with_value(body: Any, path: tuple, value: Any) -> Any | None:
    """The body with `value` at `path`, building what is missing on the way; None if the body's shape
    has no place for that path (an array's field in a body that is one object)."""
    body = copy.deepcopy(body)
    if not path:
        return value
    holder = body
    for step, following in zip(path, (*path[1:], None), strict=True):
        if not isinstance(holder, dict | list) or isinstance(step, int) != isinstance(holder, list):
            return None
        if isinstance(step, int):
            if not holder:
                holder.append({} if isinstance(following, str) else [])
            step = 0
        if following is None:
            holder[step] = value
        else:
            if isinstance(holder, dict) and step not in holder:
                holder[step] = [] if isinstance(following, int) else {}
            holder = holder[step]
    return body


def encoded(body: Any) -> str:
    # ensure_ascii: a lone surrogate and a NUL travel as \ud800 and \u0000 escapes, as a client sends them.
    return json.dumps(body).replace(json.dumps(DEEP), DEEP_JSON)


class World:
    """A fresh org with one of everything the operations name, and a credential for each of its schemes."""

    def __init__(self) -> None:
        self.campaign = CampaignFactory(key="order-completed", name="Order completed")
        self.org = self.campaign.org
        self.mailing = self.campaign.email_mailing
        self.sms_campaign = CampaignFactory(
            org=self.org, key="parcel-shipped", sms_mailing=SmsMailingFactory(org=self.org)
        )
        self.recipient = RecipientFactory(
            org=self.org, email="ada@example.com", phone="+4915100000001", attributes={"tier": "gold"}
        )
        token, self.secret = token_create(org=self.org, name="sweep", scopes=ApiToken.ALL_SCOPES)
        self.access_token = access_token_issue(token)
        self.trigger = Trigger.objects.create(org=self.org, campaign=self.campaign, reference="order-1")
        self.send = Send.objects.create(
            org=self.org,
            trigger=self.trigger,
            campaign=self.campaign,
            mailing=self.mailing,
            recipient=self.recipient,
            channel="email",
            to_address=self.recipient.email,
            context={"order_number": 1},
            queued_at=timezone.now(),
        )
        self.suppression_id = self._create("/api/v1/suppressions/", {"address": "gone@example.com"})
        self.webhook_id = self._create("/api/v1/webhooks/", {"url": "https://hooks.example.com/herald"})
        self.audit_id = self.org.audit_entries.values_list("pk", flat=True).first() or 1
        self.provider = provider_create(
            org=self.org, actor=None, kind="postmark", name="Postmark", credentials={"server_token": "t"}
        )

    def _create(self, path: str, body: dict) -> int:
        response = Client().post(path, body, content_type="application/json", **self.headers(["ApiToken"]))
        assert response.status_code == 201, response.content
        return response.json()["id"]

    def headers(self, schemes: list[str]) -> dict[str, str]:
        headers = {}
        for scheme in schemes:
            if scheme == "ApiToken":
                headers["HTTP_AUTHORIZATION"] = f"Bearer {self.secret}"
            elif scheme == "ApiTokenBasic":
                basic = base64.b64encode(f"sweep:{self.secret}".encode()).decode()
                headers["HTTP_AUTHORIZATION"] = f"Basic {basic}"
            elif scheme == "ParcelLabUser":
                headers["HTTP_USER"] = str(self.org.pk)
            elif scheme == "ParcelLabToken":
                headers["HTTP_TOKEN"] = self.secret
            elif scheme == "MarketingCloudToken":
                headers["HTTP_AUTHORIZATION"] = f"Bearer {self.access_token}"
        return headers

    def path_values(self, path: str) -> dict[str, str]:
        ids = {
            "audit": self.audit_id,
            "mailings": self.mailing.pk,
            "recipients": self.recipient.pk,
            "sends": self.send.pk,
            "suppressions": self.suppression_id,
            "triggers": self.trigger.pk,
            "webhooks": self.webhook_id,
            "providers": self.provider.pk,
        }
        room = path.removeprefix("/api/v1/").split("/", 1)[0]
        return {
            "id": str(ids.get(room, "")),
            "key": self.campaign.key,
            "definition": f"key:{self.campaign.key}",
            "recipient_send_id": str(self.send.correlation_id),
            "link_id": self.campaign.link_id,
            "who": self.recipient.email,
        }

    def query(self, operation_id: str) -> str:
        if operation_id.startswith("message_central"):
            return f"orgid={self.org.pk}&mid={self.campaign.pk}"
        return ""

    def bases(self, operation_id: str) -> list[Any]:
        """A request each operation accepts as it is (2xx), for every operation that takes a body."""
        later = (timezone.now() + timedelta(days=1)).isoformat()
        recipient = {"email": "bo@example.com", "first_name": "Bo", "locale": "de-AT", "attributes": {"a": 1}}
        mailing = {
            "name": "Welcome",
            "from_email": "shop@example.com",
            "subject": "Hi",
            "text": "Hi",
            "translations": {"de": {"subject": "Hallo"}},
            "sample_context": {"a": 1},
        }
        campaign = {
            "key": "welcome",
            "name": "Welcome",
            "email_mailing": self.mailing.pk,
            "delay_seconds": 60,
        }
        webhook = {"url": "https://hooks.example.com/other", "events": ["delivered"], "active": True}
        parcel = {
            "to": [{"address": "bo@example.com", "name": "Bo Berg"}],
            "channel": "email",
            "message": self.campaign.key,
            "placeholders": [{"name": "order_number", "value": "A1"}],
            "locale": "de_DE",
            "client": "shop",
            "delay": 60,
            "correlationId": "order-2",
        }
        central = {"email": "bo@example.com", "firstname": "Bo", "context": {"order_number": 2}}
        central_10 = {"email": "bo@example.com", "firstName": "Bo", "context": {"order_number": 2}}
        return {
            "api_v1_campaigns_create": [campaign],
            "api_v1_campaigns_update": [{**campaign, "key": self.campaign.key}],
            "api_v1_campaigns_partial_update": [{"name": "Renamed"}],
            "api_v1_campaigns_trigger_create": [
                {
                    "recipients": [{**recipient, "context": {"a": 1}}],
                    "context": {"order_number": 2},
                    "locale": "de",
                    "send_at": later,
                    "expires_at": later,
                    "reference": "order-2",
                    "cancellation_key": "cart-2",
                    "dedup_key": "order-2",
                    "attachments": [{"filename": "a.txt", "content_type": "text/plain", "content": "aGk="}],
                },
            ],
            "api_v1_mailings_create": [mailing],
            "api_v1_mailings_update": [mailing],
            "api_v1_mailings_partial_update": [{"subject": "Hello"}],
            "api_v1_recipients_create": [recipient],
            "api_v1_recipients_update": [recipient],
            "api_v1_recipients_partial_update": [{"first_name": "Ada"}],
            "api_v1_suppressions_create": [{"address": "bo@example.com", "scope": "marketing"}],
            "api_v1_triggers_cancel_create": [{"reference": "order-1"}, {"trigger": self.trigger.pk}],
            "api_v1_webhooks_create": [webhook],
            "api_v1_webhooks_update": [webhook],
            "api_v1_webhooks_partial_update": [{"active": False}],
            "api_v1_providers_create": [
                {
                    "kind": "postmark",
                    "name": "Postmark 2",
                    "credentials": {"server_token": "t2"},
                    "options": {},
                }
            ],
            "api_v1_providers_update": [{"kind": "postmark", "name": "Postmark", "enabled": True}],
            "api_v1_providers_partial_update": [{"enabled": False}],
            "api_v1_providers_reorder_create": [{"channel": "email", "order": [self.provider.pk]}],
            "marketing_cloud_token": [
                {"grant_type": "client_credentials", "client_id": self.org.pk, "client_secret": self.secret}
            ],
            "marketing_cloud_send": [
                {
                    "From": {"Address": "shop@example.com", "Name": "Shop"},
                    "To": {
                        "Address": "bo@example.com",
                        "SubscriberKey": "bo-1",
                        "ContactAttributes": {"SubscriberAttributes": {"order_number": 2}},
                    },
                    "Options": {"RequestType": "ASYNC"},
                },
            ],
            "trigger_launch_v1_1_start": [
                {
                    "token": self.secret,
                    "id": self.campaign.pk,
                    "matching": "email",
                    "email": "ada@example.com",
                    "content": {"email_title": "New videos"},
                    "custom_data": {"a": 1},
                    "attach": [{"data": "data:text/plain;base64,aGk=", "name": "a.txt"}],
                },
                {
                    "token": self.secret,
                    "id": self.campaign.pk,
                    "custom_request": {"email": "ada@example.com"},
                },
                {
                    "token": self.secret,
                    "id": self.campaign.pk,
                    "matching": "custom",
                    "field_name": "tier",
                    "field_value": "gold",
                    "subscription_filter": {"email": "ada@example.com"},
                },
            ],
            "trigger_launch_v1_0_link_post": [
                {
                    "fields": [
                        {"name": "first_name", "value": "Ann", "option": 2},
                        {"name": "order", "value": "A1", "option": 1},
                    ]
                },
            ],
            "message_central_v1_0_trigger_post": [central_10, [central_10], [self.recipient.pk]],
            "message_central_v1_0_trigger_put": [central_10, [central_10]],
            "message_central_v3_7_trigger_post": [central, [{**central, "mobile": "+4915100000002"}]],
            "message_central_v3_7_trigger_put": [central, [self.recipient.pk]],
            "parcellab_trigger_message": [parcel],
            "parcellab_trigger": [
                {
                    **parcel,
                    "channel": "SMS",
                    "message": self.sms_campaign.key,
                    "to": [{"address": "+4915100000003"}],
                }
            ],
            "parcellab_retrigger_message": [{"channel": "email", "id": str(self.send.pk)}],
        }.get(operation_id, [])


class Sweep:
    def __init__(self, world: World, path: str, method: str, operation: dict) -> None:
        self.world, self.method, self.operation = world, method, operation
        self.template = path
        self.headers = world.headers([s for option in operation.get("security", []) for s in option])
        self.lists = [
            p
            for p, m, _ in SCHEMA.operations()
            if m == "get" and p.startswith("/api/v1/") and "{" not in p and "health" not in p
        ]
        self.failures: list[str] = []
        self.requests = 0
        # One client each: a new one loads the middleware anew.
        self.client = Client()
        self.reader = Client(**world.headers(["ApiToken"]))
        # Every request is rolled back, so what the org holds before each is what it holds now.
        self.baseline = self.counts()

    def url(self, path_values: dict[str, str], query: str = "") -> str:
        url = self.template
        for name, value in path_values.items():
            url = url.replace("{" + name + "}", value)
        query = "&".join(q for q in (self.world.query(self.operation["operationId"]), query) if q)
        return f"{url}?{query}" if query else url

    def send(self, url: str, body: str | None, what: str) -> None:
        """One request, judged and then rolled back."""
        self.requests += 1
        with transaction.atomic():
            response = self.call(url, body)
            if response.status_code >= 500:
                self.failures.append(f"{what}: {response.status_code} {response.content[:200]!r}")
            elif response.status_code >= 400 and self.counts() != self.baseline:
                self.failures.append(f"{what}: refused with {response.status_code} but stored something")
            elif response.status_code < 400:
                self.read_everything(what)
            transaction.set_rollback(True)

    def call(self, url: str, body: str | None):
        if body is None:
            return getattr(self.client, self.method)(url, **self.headers)
        return getattr(self.client, self.method)(url, body, content_type="application/json", **self.headers)

    def read_everything(self, what: str) -> None:
        for path in self.lists:
            status = self.reader.get(path).status_code
            if status != 200:
                self.failures.append(f"{what}: then GET {path} answered {status}")

    def counts(self) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT " + ", ".join(f"(SELECT count(*) FROM {t} WHERE org_id = %s)" for t in self.tables()),
                [self.world.org.pk] * len(ORG_TABLES),
            )
            return list(cursor.fetchone())

    def tables(self) -> list[str]:
        return [getattr(self.world.org, name).model._meta.db_table for name in ORG_TABLES]


@pytest.fixture(autouse=True)
def _no_limits(settings):
    # Thousands of requests a minute, and some with bad credentials on purpose.
    settings.HERALD_RATE_LIMIT_PER_MINUTE = 0
    settings.HERALD_AUTH_FAILURES_PER_MINUTE = 0


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_no_hostile_value_is_a_5xx_or_breaks_a_read(path, method):
    operation = SCHEMA.document["paths"][path][method]
    world = World()
    sweep = Sweep(world, path, method, operation)
    path_values = world.path_values(path)
    fields = SCHEMA.body_fields(operation)
    bases = world.bases(operation["operationId"]) if fields or "requestBody" in operation else [None]
    assert bases, f"{operation['operationId']} takes a body: give it a base request in World.bases"
    for base in bases:
        _check_base(sweep, path_values, base)
        placed = 0
        for field, schema in fields:
            for name, value in hostile_values(schema).items():
                body = with_value(base, field, value)
                if body is not None:
                    placed += 1
                    sweep.send(sweep.url(path_values), encoded(body), f"body {_name(field)} = {name}")
        assert placed or not fields, f"no field of {operation['operationId']} fits the base {base!r}"
        for parameter in operation.get("parameters", []):
            if parameter["in"] in ("path", "query"):
                _sweep_parameter(sweep, path_values, parameter, base)
    assert not sweep.failures, f"{len(sweep.failures)} of {sweep.requests} requests:\n" + "\n".join(
        sweep.failures[:40]
    )


def _check_base(sweep: Sweep, path_values: dict[str, str], base: Any) -> None:
    if base is None:
        return
    with transaction.atomic():
        response = sweep.call(sweep.url(path_values), encoded(base))
        transaction.set_rollback(True)
    assert response.status_code < 300, f"the base request is refused: {response.content[:300]!r}"


def _sweep_parameter(sweep: Sweep, path_values: dict[str, str], parameter: dict, base: Any) -> None:
    body = None if base is None else encoded(base)
    for name, value in URL_VALUES.items():
        what = f"{parameter['in']} {parameter['name']} = {name}"
        if parameter["in"] == "path":
            sweep.send(sweep.url({**path_values, parameter["name"]: value}), body, what)
        else:
            sweep.send(sweep.url(path_values, f"{parameter['name']}={value}"), body, what)


def _name(field: tuple) -> str:
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in field).lstrip(".")
