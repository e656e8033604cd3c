"""parcelLab's wire format: the trigger and re-trigger requests (checked with these schemas), its answers, and
its operations as the OpenAPI schema documents them."""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view

from dialects.openapi import PARCELLAB, RETRY_AFTER, component, error_responses, problems
from mailings.models import Channel

MAX_DELAY = 366 * 24 * 3600


def trigger_schema() -> dict:
    return {
        "type": "object",
        "required": ["to", "channel", "message"],
        "additionalProperties": False,
        "properties": {
            "to": {
                "type": "array",
                "minItems": 1,
                "maxItems": settings.HERALD_MAX_BATCH,
                "items": {
                    "type": "object",
                    "required": ["address"],
                    "additionalProperties": False,
                    "properties": {
                        "address": {"type": "string", "minLength": 1, "maxLength": 254},
                        "name": {"type": "string", "maxLength": 300},
                    },
                },
            },
            "client": {"type": "string", "maxLength": 200},
            "locale": {"type": "string", "pattern": r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,3}$"},
            "channel": {"type": "string", "minLength": 1, "maxLength": 20},
            "message": {"type": "string", "minLength": 1, "maxLength": 100},
            "placeholders": {
                "type": "array",
                "maxItems": 500,
                "items": {
                    "type": "object",
                    "required": ["name", "value"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "value": {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]},
                    },
                },
            },
            "delay": {"type": "number", "minimum": 0, "maximum": MAX_DELAY},
            "correlationId": {"type": "string", "minLength": 1, "maxLength": 200},
        },
    }


RETRIGGER_SCHEMA = {
    "type": "object",
    "required": ["channel", "id"],
    "properties": {
        "channel": {"type": "string", "minLength": 1, "maxLength": 20},
        "id": {
            "anyOf": [{"type": "string", "minLength": 1, "maxLength": 100}, {"type": "integer"}],
            "description": "A message id from the trigger's answer, or the send's UUID.",
        },
    },
}
# The vendor's channel is free text; Herald sends these, in any case.
CHANNEL_DOC = {
    "type": "string",
    "enum": ["email", "Mail", "E-mail", "SMS"],
    "description": "email (or Mail, E-mail) or SMS, in any case.",
}

ERROR = component(
    "ParcelLabError",
    {
        "type": "object",
        "required": ["success", "message"],
        "properties": {
            "success": {"type": "boolean", "enum": [False]},
            "message": {"type": "string"},
            "errors": problems("to[1].address"),
            "reference": {
                "type": "string",
                "description": "Only on a 500: quote it when reporting the fault.",
            },
        },
    },
)
TRIGGERED = component(
    "ParcelLabTriggered",
    {
        "type": "object",
        "required": ["correlationId", "messages"],
        "properties": {
            "correlationId": {"type": "string", "description": "The one given, or a new UUID v4."},
            "messages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "channel", "address"],
                    "properties": {
                        "id": {"type": "string", "description": "What re-trigger takes."},
                        "channel": {"type": "string", "enum": [Channel.EMAIL, Channel.SMS]},
                        "address": {"type": "string"},
                    },
                },
            },
        },
    },
)
RETRIGGERED = component(
    "ParcelLabRetriggered",
    {
        "type": "object",
        "required": ["success", "id", "retriggered"],
        "properties": {
            "success": {"type": "boolean", "enum": [True]},
            "id": {"type": "string", "description": "The new message's id."},
            "retriggered": {"type": "string", "description": "The id it was sent again from."},
        },
    },
)
_CREDENTIALS = [{"ParcelLabUser": [], "ParcelLabToken": []}]


def trigger_operation(operation_id: str):
    """The trigger, documented at one of its two paths."""
    schema = trigger_schema()
    schema["properties"]["channel"] = {**schema["properties"]["channel"], **CHANNEL_DOC}
    return extend_schema_view(
        post=extend_schema(
            operation_id=operation_id,
            tags=[PARCELLAB],
            summary="Trigger a message to a list of recipients",
            description="`message` is a campaign's key; each `to[].address` an email address or a phone "
            "number, as `channel` says, found or created. A given `correlationId` is the idempotency key.",
            auth=_CREDENTIALS,
            parameters=[RETRY_AFTER],
            request={"application/json": schema},
            examples=[
                OpenApiExample(
                    "The vendor's",
                    {
                        "to": [
                            {"address": "abc@parcellab.com", "name": "Customer Name"},
                            {"address": "xyz@parcellab.com"},
                        ],
                        "client": "parcelFashion",
                        "locale": "en",
                        "channel": "Mail",
                        "message": "WarehouseNotification",
                        "placeholders": [],
                        "delay": 60,
                        "correlationId": "5ee80bba-7bb9-4427-a32f-5b374e39a1de",
                    },
                )
            ],
            responses={
                202: OpenApiResponse(TRIGGERED, "Triggered: the messages will be sent."),
                **error_responses(
                    ERROR,
                    {
                        400: "The payload is not valid (each problem in `errors`), names an unknown or "
                        "paused message, or reuses a correlationId with another payload.",
                        403: "No or invalid credentials, or a token without the send scope.",
                        405: None,
                        413: None,
                        429: None,
                        500: None,
                    },
                ),
            },
        )
    )


retrigger_operation = extend_schema(
    operation_id="parcellab_retrigger_message",
    tags=[PARCELLAB],
    summary="Send a message again",
    description="Sends it again as a new send, linked to the old one, to the recipient's address now.",
    auth=_CREDENTIALS,
    parameters=[RETRY_AFTER],
    request={
        "application/json": {
            **RETRIGGER_SCHEMA,
            "properties": {**RETRIGGER_SCHEMA["properties"], "channel": CHANNEL_DOC},
        }
    },
    examples=[OpenApiExample("An email", {"channel": "Mail", "id": "1"})],
    responses={
        202: OpenApiResponse(RETRIGGERED, "Accepted: the message is sent again."),
        **error_responses(
            ERROR,
            {
                400: "channel or id is missing or not valid.",
                401: "No or invalid credentials, or a token without the send scope.",
                404: "No message of the org has this id on this channel.",
                405: None,
                413: None,
                429: None,
                500: None,
            },
        ),
    },
)
