"""JSON Schema of the native trigger request: the shape is checked whole before anything else."""

import json

import jsonschema

from core.errors import Problem
from core.inputs import MAX_SCHEDULE_SECONDS

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
        "timezone": {"type": "string", "maxLength": 64, "description": "IANA zone, for send windows"},
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
            "delay": {"type": "integer", "minimum": 0, "maximum": MAX_SCHEDULE_SECONDS},
            "send_at": {"type": "string", "description": "ISO 8601 date-time"},
            "expires_at": {"type": "string", "description": "ISO 8601 date-time"},
            "attachments": {"type": "array", "items": ATTACHMENT},
            "reference": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "Your own id for this trigger (an order number): it finds the trigger and its "
                "sends (?reference=, ?correlation_id=) and is in every webhook about them. Defaults to the "
                "Idempotency-Key.",
            },
            "cancellation_key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "Your key for cancelling what has not gone yet (POST "
                "/api/v1/triggers/cancel/): of this trigger, and of every other trigger given the same key.",
            },
            "dedup_key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "Where the campaign has a dedup window: a repeat to a recipient with the "
                "same key within it ends `deduplicated` instead of being sent.",
            },
        },
    }


class Validator:
    """A JSON Schema, built once: a quick check first, jsonschema's for what the quick one cannot pass.

    jsonschema walks 1,000 recipients in about 0.1 s; most schemas here use a handful of keywords that a
    plain function checks ten times faster. It only ever says "valid" when jsonschema would; when it
    cannot tell, jsonschema decides and names the problems.
    """

    def __init__(self, schema: dict):
        self.schema = schema
        self.full = jsonschema.Draft202012Validator(schema)
        self.quick = _quick_check(schema)

    def is_valid(self, data) -> bool:
        return self.quick(data) if self.quick is not None and self.quick(data) else self.full.is_valid(data)

    def iter_errors(self, data):
        if self.quick is not None and self.quick(data):
            return iter(())
        return self.full.iter_errors(data)


_QUICK_TYPES = {"string": (str,), "object": (dict,), "array": (list,), "boolean": (bool,)}
_QUICK_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "minLength",
    "maxLength", "minimum", "maximum", "minItems", "maxItems", "description",
}  # fmt: skip


def _number(d) -> bool:
    return isinstance(d, int | float) and not isinstance(d, bool)


def _quick_check(schema):
    """A function that returns True only for data `schema` accepts; None if it uses what it does not know."""
    if not isinstance(schema, dict) or not schema.keys() <= _QUICK_KEYWORDS:
        return None
    checks = []
    kind = schema.get("type")
    if kind == "integer":
        checks.append(lambda d: type(d) is int)
    elif isinstance(kind, str) and kind in _QUICK_TYPES:
        types = _QUICK_TYPES[kind]
        checks.append(lambda d: isinstance(d, types))
    elif kind is not None:
        return None
    if "enum" in schema:
        allowed = schema["enum"]
        checks.append(lambda d: type(d) is str and d in allowed)
    for keyword, test in (
        ("minLength", lambda d, n: not isinstance(d, str) or len(d) >= n),
        ("maxLength", lambda d, n: not isinstance(d, str) or len(d) <= n),
        ("minimum", lambda d, n: not _number(d) or d >= n),
        ("maximum", lambda d, n: not _number(d) or d <= n),
        ("minItems", lambda d, n: not isinstance(d, list) or len(d) >= n),
        ("maxItems", lambda d, n: not isinstance(d, list) or len(d) <= n),
    ):
        if keyword in schema:
            checks.append(lambda d, n=schema[keyword], test=test: test(d, n))
    if "required" in schema:
        required = set(schema["required"])
        checks.append(lambda d: not isinstance(d, dict) or required <= d.keys())
    if "anyOf" in schema:
        # Only the form "one of these keys is present", as RECIPIENT has it.
        if not all(isinstance(s, dict) and s.keys() == {"required"} for s in schema["anyOf"]):
            return None
        options = [set(s["required"]) for s in schema["anyOf"]]
        checks.append(lambda d: not isinstance(d, dict) or any(o <= d.keys() for o in options))
    if "properties" in schema:
        properties = {}
        for name, sub in schema["properties"].items():
            properties[name] = _quick_check(sub)
            if properties[name] is None:
                return None
        closed = schema.get("additionalProperties", True)
        if closed not in (True, False):
            return None

        def check_properties(d) -> bool:
            if not isinstance(d, dict):
                return True
            for name, value in d.items():
                check = properties.get(name)
                if check is None:
                    if closed is False:
                        return False
                elif not check(value):
                    return False
            return True

        checks.append(check_properties)
    elif schema.get("additionalProperties", True) is not True:
        return None
    if "items" in schema:
        item = _quick_check(schema["items"])
        if item is None:
            return None
        checks.append(lambda d: not isinstance(d, list) or all(item(i) for i in d))

    def check(data) -> bool:
        return all(c(data) for c in checks)

    return check


_validators: dict[str, Validator] = {}


def validator_for(schema: dict) -> Validator:
    """A validator built once per distinct schema: building one costs more than most validations."""
    key = json.dumps(schema, sort_keys=True, default=str)
    found = _validators.get(key)
    if found is None:
        if len(_validators) >= 1000:  # mailings' schemas change over a process's life; keep the recent
            _validators.clear()
        found = _validators[key] = Validator(schema)
    return found


_OWN_WORDS = {
    "maxItems": lambda n: f"At most {n} items.",
    "minItems": lambda n: f"At least {n} item{'s' if n != 1 else ''}.",
    "maxLength": lambda n: f"At most {n} characters.",
    "minLength": lambda n: f"At least {n} character{'s' if n != 1 else ''}.",
    "maxProperties": lambda n: f"At most {n} members.",
}


def schema_problems(schema: dict, data, validator: Validator | None = None) -> list[Problem]:
    """Every way `data` breaks `schema`, each named by its path (recipients[2].email)."""
    problems = []
    for error in (validator or validator_for(schema)).iter_errors(data):
        path = ""
        for part in error.absolute_path:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        wording = _OWN_WORDS.get(error.validator)
        # jsonschema's own message repeats the value: a 100,000-item array, back in full.
        message = wording(error.validator_value) if wording else error.message
        if error.validator == "anyOf" and error.schema is RECIPIENT:
            message = "Give an id, email, phone or external_id."
        problems.append(Problem(path or "body", message))
    return problems
