"""What the generated OpenAPI schema cannot infer: the token auth scheme, the native error envelope, and the
components the vendor dialects share."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from dialects import openapi as dialects

NATIVE_PREFIX = "/api/v1/"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "problems"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string"},
                "problems": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string", "example": "recipients[0].email"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}

ERRORS = {
    "400": "The request is invalid; `problems` names each field and what is wrong with it.",
    "401": "No API token, or one that is not valid.",
    "403": "The token lacks the scope this operation needs.",
    "404": "No such object in this org.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflicts with the current state (a paused campaign, a reused Idempotency-Key).",
    "413": "The request body is too large.",
    "415": "Unsupported media type.",
}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "A retry with the same key and body answers the first response again and writes nothing; "
    "the same key with another body is a 409. Kept for HERALD_IDEMPOTENCY_HOURS (48 by default).",
}


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "orgs.auth.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An org's API token: `Bearer hrld_…`"}


def add_error_responses(result: dict, generator, request, public) -> dict:
    """Every native operation documents the error envelope for each error status it can answer.

    The vendor dialects document their own answers, in their vendors' shapes, on their views: their
    operations are left as they are, and the schemas and security schemes they name are added here.
    """
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update({"Error": ERROR_SCHEMA, **dialects.COMPONENTS})
    components.setdefault("securitySchemes", {}).update(dialects.SECURITY_SCHEMES)
    error = {"$ref": "#/components/schemas/Error"}
    tags = []
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            tags += [tag for tag in operation.get("tags", []) if tag not in tags]
            if not path.startswith(NATIVE_PREFIX):
                continue
            responses = operation.setdefault("responses", {})
            if method in ("post", "put", "patch", "delete"):
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                    parameters.append(IDEMPOTENCY_KEY)
            public_path = path.endswith("/health/")
            for status, description in ERRORS.items():
                if public_path and status in ("401", "403", "404", "409"):
                    continue
                if method == "get" and status in ("409", "413", "415"):
                    continue
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": error}}}
                )
    # The native API's tags first, then one a vendor, each saying its answers are the vendor's.
    described = {tag["name"]: tag for tag in dialects.TAGS}
    result["tags"] = [{"name": tag} for tag in tags if tag not in described] + dialects.TAGS
    return result
