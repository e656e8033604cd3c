"""A MongoDB-style query over a recipient's fields and attributes, translated to a Django Q object.

Trigger launch's `custom_request` is written for a document database. Herald understands an allow-list of
its operators and nothing else: field names must be identifiers, every value becomes a bound parameter, and
no part of the query ever reaches SQL as text. The caller applies the Q within one org.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import CharField, F, Func, Q
from django.db.models.lookups import Exact

from recipients.models import normalize_email, normalize_phone

OPERATORS = ("$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists", "$and", "$or")
MAX_DEPTH = 8
MAX_CONDITIONS = 100
MAX_VALUES = 1000

# The recipient's own columns a query may name (with the vendor's names for the profile id); every other
# name is an attribute, and `attributes.x` names attribute x even where a column is called x.
COLUMNS = {
    "email": "email",
    "phone": "phone",
    "external_id": "external_id",
    "profile_id": "external_id",
    "_id": "external_id",
    "first_name": "first_name",
    "last_name": "last_name",
    "locale": "locale",
}
NULLABLE_COLUMNS = {"email", "phone", "external_id"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


class QueryError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class _Target:
    lookup: str  # "email" or "attributes__address__city"
    column: bool

    @property
    def nullable(self) -> bool:
        return not self.column or self.lookup in NULLABLE_COLUMNS

    def missing(self) -> Q:
        """Mongo's null: the field is absent or null (an empty name for the columns that are never null)."""
        if not self.column:
            return Q(**{f"{self.lookup}__isnull": True}) | Q(**{f"{self.lookup}__exact": None})
        if self.nullable:
            return Q(**{f"{self.lookup}__isnull": True})
        return Q(**{self.lookup: ""})

    def absent(self) -> Q:
        """$exists: false. A column always exists; a nullable one 'exists' when it has a value."""
        if not self.column or self.nullable:
            return Q(**{f"{self.lookup}__isnull": True})
        return Q(pk__in=[])


def translate(query: Any) -> Q:
    if not isinstance(query, dict) or not query:
        raise QueryError("", 'Must be a non-empty object such as {"email": {"$in": ["a@example.com"]}}.')
    return _Translator().document(query, "", 0)


def attribute_equals(name: str, value: Any) -> Q:
    """Trigger launch's `custom` matching: attribute `name` is `value`, as text or number, or holds its tags.

    The vendor's tag fields are matched by "tag-1, tag-2": a list attribute holding all of those tags.
    """
    if not _NAME.match(name) or "__" in name:
        raise QueryError(name, "A field name is letters, digits and '_', starting with a letter or '_'.")
    lookup = f"attributes__{name}"
    q = Q(**{f"{lookup}__exact": value})
    if isinstance(value, str):
        stripped = value.strip()
        if re.fullmatch(r"-?\d{1,18}", stripped):
            q |= Q(**{f"{lookup}__exact": int(stripped)})
        tags = [tag.strip() for tag in value.split(",") if tag.strip()]
        if tags:
            q |= Q(**{f"{lookup}__contains": tags})
    elif isinstance(value, int | float) and not isinstance(value, bool):
        q |= Q(**{f"{lookup}__exact": str(value)})
    return q


class _Translator:
    def __init__(self):
        self.conditions = 0

    def document(self, query: Any, path: str, depth: int) -> Q:
        if not isinstance(query, dict):
            raise QueryError(path, "Must be an object of conditions.")
        if depth > MAX_DEPTH:
            raise QueryError(path, f"Nested deeper than {MAX_DEPTH} levels.")
        q = Q()
        for key, value in query.items():
            where = f"{path}.{key}" if path else key
            if key in ("$and", "$or"):
                q &= self.combine(key, value, where, depth)
            elif key.startswith("$"):
                raise QueryError(where, _unsupported(key))
            else:
                q &= self.field(key, value, where)
        return q

    def combine(self, operator: str, queries: Any, where: str, depth: int) -> Q:
        if not isinstance(queries, list) or not queries:
            raise QueryError(where, "Must be a non-empty array of queries.")
        parts = [self.document(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(queries)]
        combined = parts[0]
        for part in parts[1:]:
            combined = combined & part if operator == "$and" else combined | part
        return combined

    def field(self, name: str, value: Any, where: str) -> Q:
        target = _target(name, where)
        if isinstance(value, dict) and any(key.startswith("$") for key in value):
            if not all(key.startswith("$") for key in value):
                raise QueryError(where, "Give either operators ($gt, $in, …) or a value, not both.")
            q = Q()
            for operator, operand in value.items():
                q &= self.condition(target, operator, operand, f"{where}.{operator}")
            return q
        return self.condition(target, "$eq", value, where)

    def condition(self, target: _Target, operator: str, operand: Any, where: str) -> Q:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise QueryError(where, f"More than {MAX_CONDITIONS} conditions.")
        if operator == "$eq":
            return _equals(target, _value(target, operand, where))
        if operator == "$ne":
            value = _value(target, operand, where)
            return ~target.missing() if value is None else ~_equals(target, value) | target.missing()
        if operator in ("$in", "$nin"):
            return _one_of(target, _values(target, operand, where), negate=operator == "$nin")
        if operator in ("$gt", "$gte", "$lt", "$lte"):
            return _compare(target, operator[1:], operand, where)
        if operator == "$exists":
            if not isinstance(operand, bool):
                raise QueryError(where, "Must be true or false.")
            return ~target.absent() if operand else target.absent()
        raise QueryError(where, _unsupported(operator))


def _unsupported(operator: str) -> str:
    return f"The operator {operator} is not supported; use {', '.join(OPERATORS)}."


def _target(name: str, where: str) -> _Target:
    segments = name.split(".")
    for segment in segments:
        if not _NAME.match(segment) or "__" in segment:
            raise QueryError(
                where, f"'{name}' is not a field name: letters, digits and '_' separated by dots."
            )
    if segments[0] == "attributes" and len(segments) > 1:
        return _Target("__".join(["attributes", *segments[1:]]), column=False)
    if segments[0] in COLUMNS:
        if len(segments) > 1:
            raise QueryError(where, f"{segments[0]} is text; it has no fields inside.")
        return _Target(COLUMNS[segments[0]], column=True)
    return _Target("__".join(["attributes", *segments]), column=False)


def _value(target: _Target, value: Any, where: str) -> Any:
    if not target.column:
        return value
    if value is None:
        return None
    if not isinstance(value, str):
        raise QueryError(where, f"{target.lookup} is text: compare it with a string.")
    if target.lookup == "email":
        return normalize_email(value)
    if target.lookup == "phone":
        return normalize_phone(value) or value
    return value


def _values(target: _Target, values: Any, where: str) -> list:
    if not isinstance(values, list):
        raise QueryError(where, "Must be an array of values.")
    if len(values) > MAX_VALUES:
        raise QueryError(where, f"At most {MAX_VALUES} values.")
    return [_value(target, value, f"{where}[{i}]") for i, value in enumerate(values)]


def _equals(target: _Target, value: Any) -> Q:
    if value is None:
        return target.missing()
    return Q(**{f"{target.lookup}__exact": value})


def _one_of(target: _Target, values: list, *, negate: bool) -> Q:
    present = [value for value in values if value is not None]
    q = Q(**{f"{target.lookup}__in": present}) if present else Q(pk__in=[])
    if None in values:
        q |= target.missing()
    if not negate:
        return q
    # A field that is missing is "not in" a list without null, as in MongoDB.
    return ~q if None in values else ~q | target.missing()


def _compare(target: _Target, lookup: str, operand: Any, where: str) -> Q:
    if isinstance(operand, bool) or not isinstance(operand, int | float | str):
        raise QueryError(where, "Compare with a number or a string.")
    if target.column:
        return Q(**{f"{target.lookup}__{lookup}": _value(target, operand, where)})
    # JSON orders values of different types too (a boolean sorts above every number); MongoDB compares
    # only values of the same type, and so does this.
    kind = "string" if isinstance(operand, str) else "number"
    same_type = Exact(Func(F(target.lookup), function="jsonb_typeof", output_field=CharField()), kind)
    return Q(same_type) & Q(**{f"{target.lookup}__{lookup}": operand})
