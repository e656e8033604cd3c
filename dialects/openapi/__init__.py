"""The dialects' wire formats as schemas: what their views check, and what the OpenAPI schema documents.

One module a vendor: its requests (the JSON Schemas a dialect validates with, where it does), its answers
and error shapes (named components), and its operations (`extend_schema`, on its views), each with every
status it answers. Here: what they share. config/openapi.py adds the components, security schemes and tags
named here to the schema, and leaves the dialects' responses as they document them (the native error
envelope is the native API's only).
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

MESSAGE_CENTRAL = "Message Central"
TRIGGER_LAUNCH = "Trigger launch"
PARCELLAB = "parcelLab"
MARKETING_CLOUD = "Marketing Cloud"

# The largest id the database stores (a signed 64-bit integer): what the dialects accept and document.
ID_MAX = 2**63 - 1

_SHAPES = " It answers in the vendor's own response and error shapes, not Herald's error envelope."
TAGS = [
    {"name": MESSAGE_CENTRAL, "description": "Message Central 3.x triggered mailings." + _SHAPES},
    {"name": TRIGGER_LAUNCH, "description": "Trigger launch (API call) v1.1, and v1.0's links." + _SHAPES},
    {"name": PARCELLAB, "description": "parcelLab trigger messages." + _SHAPES},
    {"name": MARKETING_CLOUD, "description": "Salesforce Marketing Cloud triggered sends." + _SHAPES},
]

SECURITY_SCHEMES = {
    "ApiTokenBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "HTTP Basic with the org's API token as the password (any user name).",
    },
    "ParcelLabUser": {"type": "apiKey", "in": "header", "name": "user", "description": "The org's id."},
    "ParcelLabToken": {
        "type": "apiKey",
        "in": "header",
        "name": "token",
        "description": "An API token of that org, with the send scope.",
    },
    "MarketingCloudToken": {
        "type": "oauth2",
        "description": "An access token from POST /v2/token (client_id: the org's id, client_secret: an API "
        "token of it), as `Authorization: Bearer <access_token>`. It lasts 18 minutes.",
        "flows": {
            "clientCredentials": {
                "tokenUrl": "/v2/token",
                "scopes": {"send": "Trigger sends.", "read": "Read delivery records."},
            }
        },
    },
}

# Named schemas of the vendors' answers, added to components/schemas by config/openapi.py.
COMPONENTS: dict[str, dict] = {}


def component(name: str, schema: dict) -> dict:
    """Name a schema in components/schemas; what is returned is the $ref that points to it."""
    COMPONENTS[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def problems(field_example: str) -> dict:
    """The [{"field", "message"}] list that names each problem (Message Central, parcelLab)."""
    return {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["field", "message"],
            "properties": {
                "field": {"type": "string", "example": field_example},
                "message": {"type": "string"},
            },
        },
    }


ERRORS = {
    400: "The request is not valid; the answer names each problem.",
    401: "No credentials, or ones that are not valid.",
    403: "The API token lacks the scope this operation needs.",
    404: "No such object in the credential's org.",
    405: "Another method than this path takes.",
    409: "Conflicts with the current state: a paused campaign, a reused Idempotency-Key.",
    413: "The request body is over HERALD_MAX_REQUEST_BYTES.",
    429: "Over the org's per-minute rate limit; Retry-After says when to try again.",
    500: "A fault of the server's own; it has been logged.",
}


def error_responses(schema: dict, statuses: dict[int, str | None]) -> dict[int, OpenApiResponse]:
    """Each error status with the vendor's error schema; None takes the description from ERRORS."""
    return {status: OpenApiResponse(schema, text or ERRORS[status]) for status, text in statuses.items()}


RETRY_AFTER = OpenApiParameter(
    "Retry-After", int, OpenApiParameter.HEADER, response=[429], description="Seconds until the next minute."
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": 200},
    OpenApiParameter.HEADER,
    description="The same key and body answer the first response again and send nothing more; the same key "
    "with another body is a 409.",
)


def www_authenticate(scheme: str) -> OpenApiParameter:
    return OpenApiParameter(
        "WWW-Authenticate",
        str,
        OpenApiParameter.HEADER,
        response=[401],
        description=f'{scheme} realm="herald"',
    )


class DialectAutoSchema(AutoSchema):
    """A dialect's documented body is required, as its view reads it, unless the view's `body_required`
    says not (drf-spectacular marks a body given as a raw schema optional)."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body is not None and getattr(self.view, "body_required", True):
            body["required"] = True
        return body
