"""Marketing Cloud's wire format: its requests and answers, and its operations as the OpenAPI schema
documents them. (The dialect reads property names in any case, so it checks its requests itself.)"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from dialects.openapi import (
    IDEMPOTENCY_KEY,
    MARKETING_CLOUD,
    RETRY_AFTER,
    component,
    error_responses,
    www_authenticate,
)

ACCESS_TOKEN_SECONDS = 1080  # Marketing Cloud's own: 18 minutes

TOKEN_REQUEST = {
    "type": "object",
    "required": ["grant_type", "client_id", "client_secret"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "client_id": {
            "anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*[0-9]{1,18}\s*$"}],
            "description": "The org's id.",
        },
        "client_secret": {"type": "string", "minLength": 1, "description": "An API token of that org."},
        "account_id": {"description": "Ignored: an org is Herald's only business unit."},
    },
}
ACCESS_TOKEN = component(
    "MarketingCloudAccessToken",
    {
        "type": "object",
        "required": [
            "access_token",
            "token_type",
            "expires_in",
            "scope",
            "soap_instance_url",
            "rest_instance_url",
        ],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer", "example": ACCESS_TOKEN_SECONDS},
            "scope": {"type": "string", "description": "The API token's scopes.", "example": "read send"},
            "soap_instance_url": {"type": "string", "description": "Herald's base URL (it serves no SOAP)."},
            "rest_instance_url": {"type": "string", "description": "Herald's base URL."},
        },
    },
)
OAUTH_ERROR = component(
    "MarketingCloudOAuthError",
    {
        "type": "object",
        "required": ["error", "error_description", "error_uri"],
        "properties": {
            "error": {"type": "string", "example": "invalid_client"},
            "error_description": {"type": "string"},
            "error_uri": {"type": "string"},
        },
    },
)
_NULLABLE_TEXT = {"type": "string", "nullable": True}
SEND_REQUEST = {
    "type": "object",
    "description": "Property names are read in any case, as Marketing Cloud does; null is as absent.",
    "properties": {
        "From": {
            "type": "object",
            "nullable": True,
            "required": ["Address"],
            "description": "Overrides the mailing's sender.",
            "properties": {
                "Address": {"type": "string", "description": "An email address."},
                "Name": {**_NULLABLE_TEXT, "maxLength": 200},
            },
        },
        "To": {
            "type": "object",
            "nullable": True,
            "properties": {
                "Address": {
                    **_NULLABLE_TEXT,
                    "description": "The recipient's email address. Missing or not an address: the 202 with "
                    "InvalidOrMissingToAddress.",
                },
                "SubscriberKey": {
                    **_NULLABLE_TEXT,
                    "minLength": 1,
                    "maxLength": 200,
                    "description": "The recipient's external_id (optional in Herald).",
                },
                "ContactAttributes": {
                    "type": "object",
                    "nullable": True,
                    "properties": {
                        "SubscriberAttributes": {
                            "type": "object",
                            "nullable": True,
                            "description": "Names and values: the template's {{ context }}.",
                        }
                    },
                },
            },
        },
        "Options": {
            "type": "object",
            "nullable": True,
            "properties": {
                "RequestType": {
                    **_NULLABLE_TEXT,
                    "enum": ["ASYNC", "SYNC", None],
                    "description": "ASYNC by default.",
                }
            },
        },
    },
}
_SEND_EXAMPLE = {
    "From": {"Address": "code@exacttarget.com", "Name": "Code@"},
    "To": {
        "Address": "example@example.com",
        "SubscriberKey": "example@example.com",
        "ContactAttributes": {
            "SubscriberAttributes": {"Region": "West", "City": "Indianapolis", "State": "IN"}
        },
    },
    "Options": {"RequestType": "ASYNC"},
}
_MESSAGE_ERRORS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["messageErrorCode", "messageErrorStatus"],
        "properties": {
            "messageErrorCode": {"type": "integer", "example": 180008},
            "messageErrorStatus": {"type": "string"},
        },
    },
}
SEND_RESULT = component(
    "MarketingCloudSendResult",
    {
        "type": "object",
        "required": ["requestId", "responses"],
        "properties": {
            "requestId": {"type": "string"},
            "responses": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["recipientSendId", "hasErrors"],
                    "properties": {
                        "recipientSendId": {"type": "string", "description": "What deliveryRecords takes."},
                        "hasErrors": {"type": "boolean"},
                        "messages": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["Queued", "Sent"]},
                        },
                        "messageErrors": _MESSAGE_ERRORS,
                    },
                },
            },
        },
    },
)
INVALID_ADDRESS_SCHEMA = component(
    "MarketingCloudInvalidAddress",
    {
        "type": "object",
        "required": ["recipientSendId", "hasErrors", "messages"],
        "properties": {
            "recipientSendId": {"type": "string", "enum": [""]},
            "hasErrors": {"type": "boolean", "enum": [True]},
            "messages": {"type": "array", "items": {"type": "string", "enum": ["InvalidOrMissingToAddress"]}},
        },
    },
)
DELIVERY_RECORD = component(
    "MarketingCloudDeliveryRecord",
    {
        "type": "object",
        "required": ["deliveryTime", "id", "messageId", "status", "to"],
        "properties": {
            "deliveryTime": {
                **_NULLABLE_TEXT,
                "description": "UTC, to the millisecond, without an offset; null until sent.",
                "example": "2026-11-22T10:15:30.123",
            },
            "id": {"type": "string", "description": "The recipientSendId."},
            "messageId": {"type": "string", "description": "The recipientSendId."},
            "status": {"type": "string", "enum": ["Queued", "Sent", "NotSent"]},
            "to": {
                "type": "object",
                "required": ["address", "id", "key"],
                "properties": {
                    "address": {"type": "string"},
                    "id": {"type": "integer", "nullable": True, "description": "The recipient's id."},
                    "key": {"type": "string", "description": "The subscriber key, else the address."},
                },
            },
            "messageErrors": _MESSAGE_ERRORS,
        },
    },
)
ERROR = component(
    "MarketingCloudError",
    {
        "type": "object",
        "required": ["message", "errorcode", "documentation"],
        "properties": {
            "message": {"type": "string"},
            "errorcode": {
                "type": "integer",
                "description": "0 for 401 and 403, else 10000 + (status - 400).",
            },
            "documentation": {"type": "string"},
            "validationErrors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["message", "errorcode", "path"],
                    "properties": {
                        "message": {"type": "string"},
                        "errorcode": {"type": "integer"},
                        "path": {
                            "type": "string",
                            "example": "To.ContactAttributes.SubscriberAttributes.OrderId",
                        },
                    },
                },
            },
        },
    },
)
_DEFINITION = OpenApiParameter(
    "definition",
    str,
    OpenApiParameter.PATH,
    description="The triggered send definition: a campaign's GUID (also as id:<GUID>), or key:<its key>.",
    examples=[
        OpenApiExample("By GUID", "dfa5ab87-1b0f-e211-b71b-9c8e9920e9fc"),
        OpenApiExample("By key", "key:external_key"),
    ],
)


token_operation = extend_schema(
    operation_id="marketing_cloud_token",
    tags=[MARKETING_CLOUD],
    summary="Trade the org's id and an API token for an access token",
    description="OAuth 2 client credentials, JSON or form-encoded. The access token names the API token: "
    "revoking that revokes it.",
    auth=[],
    parameters=[RETRY_AFTER],
    request={"application/json": TOKEN_REQUEST, "application/x-www-form-urlencoded": TOKEN_REQUEST},
    responses={
        200: OpenApiResponse(ACCESS_TOKEN, "The access token, for Authorization: Bearer."),
        **error_responses(
            OAUTH_ERROR,
            {
                400: "unsupported_grant_type, or invalid_request: no client_id or client_secret.",
                401: "invalid_client: the org's id and the API token do not match.",
                405: None,
                413: None,
                429: None,
                500: None,
            },
        ),
    },
)


send_operation = extend_schema(
    operation_id="marketing_cloud_send",
    tags=[MARKETING_CLOUD],
    summary="Send the definition's email to one address",
    description="ASYNC (the default) queues the message; SYNC sends it in the request and answers the "
    "outcome. A request without a valid To.Address answers 202 with InvalidOrMissingToAddress, as the "
    "vendor documents.",
    auth=[{"MarketingCloudToken": ["send"]}],
    parameters=[_DEFINITION, IDEMPOTENCY_KEY, RETRY_AFTER, www_authenticate("Bearer")],
    request={"application/json": SEND_REQUEST},
    examples=[
        OpenApiExample("ASYNC", _SEND_EXAMPLE),
        OpenApiExample("SYNC", {**_SEND_EXAMPLE, "Options": {"RequestType": "SYNC"}}),
    ],
    responses={
        202: OpenApiResponse(
            {"oneOf": [SEND_RESULT, INVALID_ADDRESS_SCHEMA]},
            "Queued (ASYNC) or the outcome (SYNC); with no valid To.Address, InvalidOrMissingToAddress.",
        ),
        **error_responses(
            ERROR,
            {
                400: "The body is not valid; validationErrors names each field.",
                401: "Not Authorized: no access token, or one that is not valid or expired.",
                403: "The API token lacks the send scope.",
                404: "No such triggered send definition.",
                405: None,
                409: None,
                413: None,
                429: None,
                500: None,
            },
        ),
    },
)


delivery_record_operation = extend_schema(
    operation_id="marketing_cloud_delivery_record",
    tags=[MARKETING_CLOUD],
    summary="How one send went",
    auth=[{"MarketingCloudToken": ["read"]}, {"MarketingCloudToken": ["send"]}],
    parameters=[
        _DEFINITION,
        OpenApiParameter(
            "recipient_send_id",
            str,
            OpenApiParameter.PATH,
            description="The recipientSendId a send answered.",
        ),
        RETRY_AFTER,
        www_authenticate("Bearer"),
    ],
    responses={
        200: OpenApiResponse(DELIVERY_RECORD, "The send's status."),
        **error_responses(
            ERROR,
            {
                401: "Not Authorized: no access token, or one that is not valid or expired.",
                403: "The API token has neither the read nor the send scope.",
                404: "No such definition, or no such delivery record of it.",
                405: None,
                429: None,
                500: None,
            },
        ),
    },
)
