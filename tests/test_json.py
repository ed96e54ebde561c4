"""`bare._json.loads`: the strict parser behind `request.json()` and `receive_json()`.

bare parses request bodies with msgspec when it is installed and with the standard
library otherwise (orjson only writes JSON: it reads integers beyond 64 bits as floats).
Every parsing test here runs on both parsers, and a generated-body test holds the two
together; neither is trusted over the other, and `json.loads` is the plain oracle.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import pytest

import bare._json
from bare._json import (
    MAX_DEPTH,
    JSONDecodeError,
    _has_lone_surrogate,
    loads,
    msgspec_parser,
    parse_stdlib,
)

parse_msgspec = msgspec_parser()
assert parse_msgspec is not None, "the test extra installs msgspec"
PARSERS = {"stdlib": parse_stdlib, "msgspec": parse_msgspec}


@pytest.fixture(autouse=True, params=list(PARSERS))
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test of this module runs once with each parser behind `loads`."""
    monkeypatch.setattr(bare._json, "_parse", PARSERS[request.param])
    return str(request.param)


def nested(depth: int, inner: bytes = b"", opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    return opener * depth + inner + closer * depth


def objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


# -- nesting depth -------------------------------------------------------------------------


def test_the_depth_limit_is_exact_for_arrays_and_objects() -> None:
    assert loads(nested(MAX_DEPTH)) is not None
    assert loads(objects(MAX_DEPTH)) is not None
    assert loads(b"[" + objects(MAX_DEPTH - 1) + b"]") is not None
    for body in (nested(MAX_DEPTH + 1), objects(MAX_DEPTH + 1), nested(MAX_DEPTH * 100)):
        with pytest.raises(JSONDecodeError, match="nested more than"):
            loads(body)


def test_depth_is_measured_not_counted() -> None:
    # Many brackets, little depth: a long array of small objects is fine.
    wide = json.dumps([{"id": i, "tags": ["a", [i]]} for i in range(2000)]).encode()
    assert len(loads(wide)) == 2000
    # Closing brackets bring the depth down again.
    assert len(loads(b"[" + b",".join([nested(MAX_DEPTH - 1)] * 50) + b"]")) == 50


def test_depth_carries_across_long_bodies() -> None:
    # What is left of the brackets once the innermost pairs are gone (a few times over)
    # is measured in slices of 65536: nesting that starts in one and goes on in the
    # next must add up. Arrays 9 deep leave a pair each, so the deep part straddles.
    for count in (32700, 32767, 32768):
        prefix = b"[" + (nested(9, b"0") + b",") * count
        with pytest.raises(JSONDecodeError, match="nested more than"):
            loads(prefix + nested(MAX_DEPTH) + b"]")
        assert len(loads(prefix + nested(MAX_DEPTH - 1) + b"]")) == count + 1


@pytest.mark.parametrize(
    "body",
    [
        b'["' + b"[" * 1000 + b'"]',  # brackets inside a string are text
        b'["' + b"{" * 500 + b'", "' + b"]" * 500 + b'"]',
        b'["\\"' + b"[" * 1000 + b'"]',  # an escaped quote does not end the string
        b'["\\\\\\"' + b"[" * 1000 + b'"]',  # nor after an escaped backslash
        b'{"\\"' + b"[" * 1000 + b'": ""}',
        b'["", "' + b"[" * 1000 + b'", ""]',
    ],
    ids=["in-string", "split-strings", "escaped-quote", "backslash-then-quote", "key", "empties"],
)
def test_brackets_inside_strings_do_not_count(body: bytes) -> None:
    assert loads(body) == json.loads(body)


@pytest.mark.parametrize(
    "body",
    [
        b'["\\\\", ' + nested(MAX_DEPTH, b'"["') + b"]",  # the string ends after `\\`
        b'["x", ' + nested(MAX_DEPTH) + b"]",
        b'{"k": "v", "' + b"]" * 500 + b'": ' + nested(MAX_DEPTH) + b"}",
    ],
    ids=["string-ends-after-backslashes", "after-a-string", "after-a-key-of-closers"],
)
def test_real_depth_after_strings_is_still_counted(body: bytes) -> None:
    with pytest.raises(JSONDecodeError, match="nested more than"):
        loads(body)


def test_the_depth_limit_does_not_depend_on_the_call_stack() -> None:
    # Close to the recursion limit the parser itself would give up earlier; the limit
    # is checked before it runs, so the answer is the same at any stack depth.
    def at_depth(remaining: int) -> Any:
        if remaining:
            return at_depth(remaining - 1)
        with pytest.raises(JSONDecodeError, match="nested more than"):
            loads(nested(MAX_DEPTH * 4))
        return True

    assert at_depth(sys.getrecursionlimit() // 2)


def test_the_surrogate_walk_is_not_recursive() -> None:
    value: Any = "\ud800"
    for _ in range(sys.getrecursionlimit() * 3):
        value = [{"k": value}]
    assert _has_lone_surrogate(value)
    value[0]["k"] = "fine"
    assert not _has_lone_surrogate(value)
    assert _has_lone_surrogate({"\udfff": 1})  # keys too


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 600 + b'"\\ud800"' + b"]" * 600,
        nested(MAX_DEPTH - 1, b'"\\ud800"'),
        nested(MAX_DEPTH - 1, b'{"\\udc00": 1}'),
        b'["\\ud800\\u0041"]',
    ],
    ids=["600-deep", "at-the-limit", "key", "high-then-not-low"],
)
def test_lone_surrogates_deep_inside_are_refused(body: bytes) -> None:
    with pytest.raises(JSONDecodeError):
        loads(body)


def test_surrogate_pairs_are_fine() -> None:
    assert loads(nested(MAX_DEPTH - 1, b'"\\ud83d\\ude00"')) is not None
    assert loads(b'"\\\\ud800"') == "\\ud800"  # an escaped backslash: no escape at all


# -- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"1e999",
        b"-1e999",
        b"1E400",
        b'{"a": [1, {"b": 1E400}]}',
        b"[2e+308]",
        b"1e0000000999",
        b"9" * 250 + b"e99",
        b"1" * 400 + b".5",
        b"-" + b"1" * 400 + b".0",
    ],
)
def test_numbers_too_large_for_a_float_are_refused(body: bytes) -> None:
    with pytest.raises(JSONDecodeError, match="number too large"):
        loads(body)


def test_large_but_finite_numbers_and_underflow_are_kept() -> None:
    assert loads(b"[1e308, -1.7976931348623157e308, 1e-999, 10e99, 1e100]") == [
        1e308,
        -1.7976931348623157e308,
        0.0,
        1e100,
        1e100,
    ]
    long_mantissa = b"9" * 99 + b".5"  # shorter than the pattern that checks numbers
    assert math.isfinite(loads(long_mantissa))
    assert loads(b"1" * 400) == int("1" * 400)  # an integer is exact, never infinite
    assert loads(b'"1e999"') == "1e999"


@pytest.mark.parametrize("body", [b"NaN", b"-Infinity", b"[Infinity]"])
def test_named_constants_are_refused(body: bytes) -> None:
    with pytest.raises(JSONDecodeError):
        loads(body)


# -- models from the validation libraries, in any handler's JSON -----------------------


def test_models_are_written_by_their_own_rules() -> None:
    import msgspec
    import pydantic

    from bare._json import _dumps_stdlib, dumps

    class Point(msgspec.Struct, rename="camel"):
        x_pos: int
        label: str = "p"

    class User(pydantic.BaseModel):
        name: str
        tags: set[str] = set()

    value = {"point": Point(1), "user": User(name="ada", tags={"x"})}
    expected = {"point": {"xPos": 1, "label": "p"}, "user": {"name": "ada", "tags": ["x"]}}
    for encode in (dumps, _dumps_stdlib):
        assert json.loads(encode(value)) == expected


def test_handlers_and_exception_handlers_may_return_models() -> None:
    import msgspec

    from bare import Bare, RequestValidationError
    from bare.testing import TestClient

    class Problem(msgspec.Struct):
        title: str
        count: int

    app = Bare()

    @app.get("/model")
    async def model(request: Any) -> Any:
        return Problem("plain", 1)

    @app.get("/typed")
    async def typed(limit: int) -> dict[str, int]:
        return {"limit": limit}

    @app.exception_handler(RequestValidationError)
    async def problem(request: Any, exc: RequestValidationError) -> Problem:
        return Problem("invalid", len(exc.errors))

    client = TestClient(app)
    assert client.get("/model").json() == {"title": "plain", "count": 1}
    answer = client.get("/typed?limit=x")
    assert (answer.status_code, answer.json()) == (422, {"title": "invalid", "count": 1})


def test_how_a_type_is_written_is_decided_once_and_the_record_is_bounded() -> None:
    import dataclasses
    import enum

    from bare import _json

    class Colour(enum.Enum):
        RED = "red"

    values = [Colour.RED, {1, 2}, decimal_value(), uuid_value()]
    first = [_json.default(value) for value in values]
    assert (
        [_json.default(value) for value in values]
        == first
        == ["red", [1, 2], "1.5", "00000000-0000-0000-0000-000000000000"]
    )
    # Classes made as the app runs: each is still written, and the record stays bounded.
    made = [dataclasses.make_dataclass(f"Made{n}", [("n", int)]) for n in range(600)]
    assert [_json.default(cls(n)) for n, cls in enumerate(made)] == [{"n": n} for n in range(600)]
    assert len(_json._CONVERTERS) <= _json._MAX_CONVERTERS
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        _json.default(object())


def decimal_value() -> Any:
    import decimal

    return decimal.Decimal("1.5")


def uuid_value() -> Any:
    import uuid

    return uuid.UUID(int=0)
