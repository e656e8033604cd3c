"""Trigger launch's wire format: the v1.1 and v1.0 requests (checked with these schemas), its answers, and
its operations as the OpenAPI schema documents them."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from dialects.openapi import ID_MAX, IDEMPOTENCY_KEY, RETRY_AFTER, TRIGGER_LAUNCH, component, error_responses

MATCHING = ("email", "phone", "profile_id", "custom", "custom_request")

_ID = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": ID_MAX},
        {"type": "string", "pattern": r"^[0-9]{1,18}$"},
    ],
    "description": "The campaign's integer id, as a JSON number or digits in text.",
}
_ATTACHMENT = {
    "type": "object",
    "required": ["data"],
    "additionalProperties": False,
    "properties": {"data": {"type": "string"}, "name": {"type": "string", "maxLength": 255}},
}
_SUBSCRIPTION_FILTER = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "email": {"type": "string", "maxLength": 254},
        "phone": {"type": "string", "maxLength": 32},
        "subscription_id": {"type": "string"},
        "provider": {"type": "string"},
        "not_strict": {"type": "boolean"},
    },
}
V11_SCHEMA = {
    "type": "object",
    "required": ["token", "id"],
    "additionalProperties": False,
    "properties": {
        "token": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "description": "An API token of the org.",
        },
        "id": _ID,
        "matching": {"type": "string", "enum": list(MATCHING)},
        "email": {"type": "string", "maxLength": 254},
        "phone": {"type": "string", "maxLength": 32},
        "profile_id": {"type": "string", "minLength": 1, "maxLength": 200},
        "field_name": {"type": "string", "minLength": 1, "maxLength": 100},
        "field_value": {"anyOf": [{"type": "string"}, {"type": "number"}]},
        "resource_id": {"anyOf": [{"type": "integer"}, {"type": "string"}], "description": "Ignored."},
        "custom_request": {"type": "object"},
        "content": {"type": "object"},
        "custom_data": {"type": "object"},
        "attach": {"type": "array", "items": _ATTACHMENT},
        "subscription_filter": _SUBSCRIPTION_FILTER,
    },
}
# v1.0 bodies may carry v1.1's token, id, matching and profile_id (the vendor's own example does): the link
# names the campaign and the URL the profile, so those are read and ignored.
V10_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "fields": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["name", "value"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "value": {},
                    "option": {"type": "integer", "enum": [0, 1, 2]},
                },
            },
        },
        "token": {"type": "string", "description": "Ignored: the link is the credential."},
        "id": {"anyOf": [{"type": "integer"}, {"type": "string"}], "description": "Ignored."},
        "matching": {"type": "string", "description": "Ignored."},
        "profile_id": {"type": "string", "description": "Ignored: the URL names the profile."},
    },
}

_NULL = {"nullable": True, "enum": [None], "description": "Always null."}
SUCCESS_SCHEMA = component(
    "TriggerLaunchSuccess",
    {
        "type": "object",
        "required": ["data", "error", "error_text"],
        "properties": {
            "data": _NULL,
            "error": {"type": "integer", "enum": [0]},
            "error_text": {"type": "string", "enum": ["Successful operation"]},
        },
    },
)
ERROR = component(
    "TriggerLaunchError",
    {
        "type": "object",
        "required": ["data", "error", "error_text"],
        "properties": {
            "data": _NULL,
            "error": {"type": "integer", "description": "The HTTP status.", "example": 404},
            "error_text": {"type": "string", "description": "What and why, field by field."},
        },
    },
)
_ERRORS = {
    400: None,
    401: "The API token is not valid.",
    403: "The API token lacks the send scope.",
    404: "No such campaign, or no profile matches.",
    405: None,
    409: None,
    413: None,
    429: None,
    500: None,
}
_EXAMPLE_TOKEN = "abcdefghijklmnqrstuvwxyz"  # the vendor's
START_EXAMPLES = [
    OpenApiExample(
        "A profile by its id",
        {
            "token": _EXAMPLE_TOKEN,
            "id": 84,
            "matching": "profile_id",
            "profile_id": "abcdefghijklmnqrstuvwxyz",
        },
    ),
    OpenApiExample(
        "Profiles by a query",
        {
            "token": _EXAMPLE_TOKEN,
            "id": 84,
            "custom_request": {
                "Custom_ID": {"$in": ["IpHicQquekzYkufl", "xzFKLXeaJkCYHuMb", "SRNOwHVZiWFItJhr"]}
            },
        },
    ),
    OpenApiExample(
        "Content and attachments",
        {
            "token": _EXAMPLE_TOKEN,
            "id": 96,
            "matching": "profile_id",
            "profile_id": "6606e08f10bcdd88297057a7",
            "attach": [
                {"data": "data:text/csv;base64,5LuK5pel44GvCg==", "name": "日本.txt"},
                {"data": "data:text/csv;base64,SEVMTE8K", "name": "US.txt"},
            ],
            "content": {
                "data_lines": ["Channel A", "Channel B"],
                "email_title": "New videos on your favorite channels",
            },
        },
    ),
]
_LINK_PARAMETERS = [
    OpenApiParameter(
        "link_id",
        {"type": "string", "pattern": "^[0-9A-Fa-f]{1,64}$"},
        OpenApiParameter.PATH,
        description="The campaign's secret link id: the credential, and it names the campaign and its org.",
        examples=[OpenApiExample("The vendor's", "465ea6fedf0a75fa9ee0b5fb8f9d5fe89af34054909af8bb")],
    ),
    OpenApiParameter(
        "who",
        str,
        OpenApiParameter.PATH,
        description="One existing profile: its email address, or the md5 (32 hex digits) or xxh64 (16 hex "
        "digits) of it, in lower case.",
        examples=[
            OpenApiExample("An email address", "ann@example.com"),
            OpenApiExample("An xxh64", "dd78094ad0e36ca3"),
        ],
    ),
    IDEMPOTENCY_KEY,
    RETRY_AFTER,
]


def _link_answers(*, body: bool) -> dict:
    errors = {
        400: "The last segment is no email address or hash, or a field cannot be used.",
        404: "No campaign has this link, or no profile of its org matches.",
        405: None,
        409: None,
        **({413: None} if body else {}),
        429: None,
        500: None,
    }
    return {
        200: OpenApiResponse(SUCCESS_SCHEMA, "The message to the profile is on its way."),
        **error_responses(ERROR, errors),
    }


start_operation = extend_schema(
    operation_id="trigger_launch_v1_1_start",
    tags=[TRIGGER_LAUNCH],
    summary="Trigger a campaign for an audience of existing profiles (trigger launch v1.1)",
    description="The API token is in the body. `matching` finds existing profiles (nobody matching is a "
    "404); `custom_request` is a MongoDB-style query. See docs/dialects.md.",
    auth=[],
    parameters=[IDEMPOTENCY_KEY, RETRY_AFTER],
    request={"application/json": V11_SCHEMA},
    examples=START_EXAMPLES,
    responses={
        200: OpenApiResponse(SUCCESS_SCHEMA, "The messages are on their way."),
        **error_responses(ERROR, _ERRORS),
    },
)


link_get_operation = extend_schema(
    operation_id="trigger_launch_v1_0_link_get",
    tags=[TRIGGER_LAUNCH],
    summary="Trigger the link's campaign for one profile (trigger launch v1.0)",
    description="The link is the credential. A GET sends a message: keep links out of places that "
    "prefetch URLs.",
    auth=[],
    parameters=_LINK_PARAMETERS,
    responses=_link_answers(body=False),
)


link_post_operation = extend_schema(
    operation_id="trigger_launch_v1_0_link_post",
    tags=[TRIGGER_LAUNCH],
    summary="Trigger the link's campaign for one profile, with fields (trigger launch v1.0)",
    description="`fields` reach the template as {{ context.<name> }}; option 0 keeps a stored value, 1 "
    "uses the given one for this message, 2 also writes it to the profile. No body is no fields.",
    auth=[],
    parameters=_LINK_PARAMETERS,
    request={"application/json": V10_SCHEMA},
    examples=[
        OpenApiExample(
            "Fields",
            {
                "fields": [
                    {"name": "FirstName", "value": "Jason", "option": 0},
                    {"name": "Order", "value": "123abc456-78", "option": 1},
                ]
            },
        )
    ],
    responses=_link_answers(body=True),
)
