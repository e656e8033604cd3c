"""JSON Schema of the native trigger request: the shape is checked whole before anything else."""

import json

import jsonschema

from orgs.errors import Problem

ATTACHMENT = {
    "type": "object",
    "required": ["filename", "content"],
    "additionalProperties": False,
    "properties": {
        "filename": {"type": "string", "minLength": 1, "maxLength": 255},
        "content_type": {"type": "string", "maxLength": 255},
        "content": {"type": "string", "description": "base64"},
    },
}

RECIPIENT = {
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": [key]} for key in ("id", "email", "phone", "external_id")],
    "properties": {
        "id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        "email": {"type": "string", "maxLength": 254},
        "phone": {"type": "string", "maxLength": 32},
        "external_id": {"type": "string", "minLength": 1, "maxLength": 200},
        "first_name": {"type": "string", "maxLength": 150},
        "last_name": {"type": "string", "maxLength": 150},
        "locale": {"type": "string", "maxLength": 35},
        "attributes": {"type": "object"},
        "context": {"type": "object"},
    },
}


def trigger_schema(max_batch: int) -> dict:
    return {
        "type": "object",
        "required": ["recipients"],
        "additionalProperties": False,
        "properties": {
            "recipients": {"type": "array", "minItems": 1, "maxItems": max_batch, "items": RECIPIENT},
            "context": {"type": "object"},
            "channel": {"type": "string", "enum": ["email", "sms"]},
            "locale": {"type": "string", "maxLength": 35},
            "delay": {"type": "integer", "minimum": 0, "maximum": 366 * 24 * 3600},
            "send_at": {"type": "string", "description": "ISO 8601 date-time"},
            "expires_at": {"type": "string", "description": "ISO 8601 date-time"},
            "attachments": {"type": "array", "items": ATTACHMENT},
        },
    }


_validators: dict[str, jsonschema.Draft202012Validator] = {}


def validator_for(schema: dict) -> jsonschema.Draft202012Validator:
    """A validator built once per distinct schema: building one costs more than most validations."""
    key = json.dumps(schema, sort_keys=True, default=str)
    found = _validators.get(key)
    if found is None:
        if len(_validators) >= 1000:  # mailings' schemas change over a process's life; keep the recent
            _validators.clear()
        found = _validators[key] = jsonschema.Draft202012Validator(schema)
    return found


def schema_problems(
    schema: dict, data, validator: jsonschema.Draft202012Validator | None = None
) -> list[Problem]:
    """Every way `data` breaks `schema`, each named by its path (recipients[2].email)."""
    problems = []
    for error in (validator or validator_for(schema)).iter_errors(data):
        path = ""
        for part in error.absolute_path:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = error.message
        if error.validator == "anyOf" and error.schema is RECIPIENT:
            message = "Give an id, email, phone or external_id."
        problems.append(Problem(path or "body", message))
    return problems
