"""Schemathesis hooks for `make fuzz` (tests/fuzz/run.sh sets SCHEMATHESIS_HOOKS to this module).

Schemathesis draws values that fit the schema, or break it in the ways a schema can say; issue #17's
failures came from values no schema names: a lone surrogate, NUL, a line break, 2,000 levels of nesting,
years 1 and 9999 at the extreme offsets, integers past 64 bits. Here about half of the drawn requests have
one of their values (any of them, at any depth, the whole body included) replaced by one of those, so every
operation meets them, mixed with everything else schemathesis draws.
"""

import copy
from collections.abc import Iterator
from typing import Any

import schemathesis
from hypothesis import strategies as st


def _nested(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


# Text that travels in a URL too (a query or a path): requests cannot encode a lone surrogate there.
URL_TEXT = [
    "a\x00b",
    "a\r\nBcc: x@example.com",
    "a\x1bb",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-23:59",
    "../../etc/passwd",
    str(10**30),
    "x" * 5_000,
]
TEXT = [*URL_TEXT, "\ud800", "a\udfffb", "x" * 100_000]
# 200 levels, far past core.inputs.MAX_DEPTH: schemathesis copies each body with jsonschema_rs, which stops
# at 255, and hashes it recursively within the stack Hypothesis leaves it. 2,000 and 10,000 levels are in
# tests/core (the sweep and test_hostile_input.py).
OTHER = [10**30, -(10**30), 2**63, 1e308, {"\ud800": "x"}, {"x": "a\x00b"}, _nested(200)]
HOSTILE = st.sampled_from(TEXT + OTHER)


def _spots(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """The path of every value in a JSON value, the value itself first."""
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _spots(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _spots(child, (*path, i))


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    value = copy.deepcopy(value)
    holder = value
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = new
    return value


def _hostile(value: Any, values: st.SearchStrategy) -> st.SearchStrategy:
    spots = list(_spots(value))
    return st.one_of(
        st.just(value),
        st.tuples(st.sampled_from(spots), values).map(lambda pair: _replaced(value, *pair)),
    )


def _json_only(context) -> bool:
    """A form body cannot carry a lone surrogate either: only JSON bodies get every hostile value."""
    try:
        return all("json" in body.media_type for body in context.operation.body)
    except AttributeError:
        return False


@schemathesis.hook
def flatmap_body(context, body):
    if not isinstance(body, dict | list):
        return st.just(body)
    return _hostile(body, HOSTILE if _json_only(context) else st.sampled_from(URL_TEXT))


@schemathesis.hook
def flatmap_query(context, query):
    if not query:
        return st.just(query)
    return st.one_of(
        st.just(query),
        st.tuples(st.sampled_from(sorted(query)), st.sampled_from(URL_TEXT)).map(
            lambda pair: {**query, pair[0]: pair[1]}
        ),
    )


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    return st.one_of(
        st.just(path_parameters),
        st.tuples(st.sampled_from(sorted(path_parameters)), st.sampled_from(URL_TEXT)).map(
            lambda pair: {**path_parameters, pair[0]: pair[1]}
        ),
    )
