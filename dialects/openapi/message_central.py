"""Message Central's wire format: the fields of each version, its answers, and its trigger as the OpenAPI
schema documents it."""

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from dialects.openapi import (
    ID_MAX,
    IDEMPOTENCY_KEY,
    MESSAGE_CENTRAL,
    RETRY_AFTER,
    component,
    error_responses,
    problems,
    www_authenticate,
)

# Field names are case sensitive, as the vendor's document insists; v3.7 spells them in lower case and
# adds the SMS number.
FIELDS = {
    "1.0": {"rid": "id", "email": "email", "firstName": "first_name", "lastName": "last_name"},
    "3.7": {
        "rid": "id", "email": "email", "firstname": "first_name", "lastname": "last_name",
        "mobile": "phone", "phone": "phone",
    },
}  # fmt: skip
TEXT_LIMITS = {"email": 254, "first_name": 150, "last_name": 150, "phone": 32}

ERROR = component(
    "MessageCentralError",
    {
        "type": "object",
        "required": ["message", "errors"],
        "properties": {"message": {"type": "string"}, "errors": problems("[1].rid")},
    },
)
ADDED = component(
    "MessageCentralAdded",
    {
        "type": "array",
        "items": {"type": "integer"},
        "description": "The ids of the recipients added, in request order, each once.",
        "example": [13, 20],
    },
)
# The vendor's examples, as its documents print them (v3.7's unquoted keys are read as JSON5).
EXAMPLES = {
    "1.0": [
        OpenApiExample("An existing recipient", {"rid": 22, "context": {"ordernumber": 123}}),
        OpenApiExample(
            "A recipient found or created by email",
            {
                "lastName": "Doe",
                "context": {"header": "XYZ-123"},
                "email": "user@domain.com",
                "firstName": "John",
            },
        ),
        OpenApiExample("Existing recipients by id", [13, 20]),
    ],
    "3.7": [
        OpenApiExample(
            "Recipients found or created by email",
            [{"email": "user@domain.com", "firstname": "John", "lastname": "Doe", "context": "XYZ-123"}],
        ),
    ],
}


def request_schema(api_version: str) -> dict:
    """One recipient, an array of them, or an array of recipient ids: what parse_recipients reads."""
    fields = FIELDS[api_version]
    texts = {
        vendor: {"type": "string", "maxLength": TEXT_LIMITS[herald]}
        for vendor, herald in fields.items()
        if herald != "id"
    }
    context = {"description": "Any JSON value; the template reads it as {{ context }}."}
    rid = {"type": "integer", "minimum": 1, "maximum": ID_MAX, "description": "An existing recipient's id."}
    # With a rid the recipient exists and its other fields are ignored; without one, an address finds or
    # creates it.
    by_rid = {
        "type": "object",
        "required": ["rid"],
        "additionalProperties": False,
        "properties": {"rid": rid, "context": context, **{name: {} for name in texts}},
    }
    by_address = [
        {
            "type": "object",
            "required": [name],
            "additionalProperties": False,
            "properties": {
                "rid": {"nullable": True, "enum": [None]},
                "context": context,
                **texts,
                name: {**texts[name], "minLength": 1},
            },
        }
        for name, herald in fields.items()
        if herald in ("email", "phone")
    ]
    recipient = {"anyOf": [by_rid, *by_address]}
    return {
        "anyOf": [
            recipient,
            {
                "type": "array",
                "minItems": 1,
                "maxItems": settings.HERALD_MAX_BATCH,
                "items": {"anyOf": [recipient, rid]},
            },
        ]
    }


def documented(api_version: str):
    """The OpenAPI operations of one version's trigger: PUT and POST alike."""
    sms = " and the SMS number as `mobile` (alias `phone`)" if api_version == "3.7" else ""
    names = "firstName/lastName" if api_version == "1.0" else "firstname/lastname"
    operation = dict(
        tags=[MESSAGE_CENTRAL],
        summary=f"Add recipients to a triggered mailing (Message Central {api_version})",
        description=f"Field names are case sensitive: {names}{sms}. A body that is not strict JSON is "
        "read as JSON5 (unquoted keys, as in the vendor's v3.7 example). `extraWhereClause` is refused.",
        auth=[{"ApiToken": []}, {"ApiTokenBasic": []}],
        parameters=[
            OpenApiParameter(
                "orgid",
                {"type": "integer", "minimum": 1},
                required=True,
                description="The API token's own org.",
                examples=[OpenApiExample("The vendor's", 2)],
            ),
            OpenApiParameter(
                "mid",
                {"type": "integer", "minimum": 1},
                required=True,
                description="The campaign's integer id.",
                examples=[OpenApiExample("The vendor's", 1)],
            ),
            IDEMPOTENCY_KEY,
            RETRY_AFTER,
            www_authenticate("Basic"),
        ],
        request={"application/json": request_schema(api_version)},
        examples=EXAMPLES[api_version],
        responses={
            200: OpenApiResponse(ADDED, "The recipients were added; their messages are on their way."),
            **error_responses(
                ERROR,
                {
                    400: "The body or the query is not valid; `errors` names each field as the body does "
                    "(`rid`, `[2].email`). Nothing of the batch is stored.",
                    401: None,
                    403: "The API token lacks the send scope.",
                    404: "No such org for this token, or no such mailing in it.",
                    405: None,
                    409: None,
                    413: None,
                    429: None,
                    500: None,
                },
            ),
        },
    )
    name = f"message_central_v{api_version.replace('.', '_')}_trigger"
    return extend_schema_view(
        put=extend_schema(operation_id=f"{name}_put", **operation),
        post=extend_schema(operation_id=f"{name}_post", **operation),
    )
