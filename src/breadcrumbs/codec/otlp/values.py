"""Attribute values in both wire forms (an ``AnyValue`` message, an OTLP/JSON value object) as
(value text, type code) per ``model.encode_value``, and the JSON primitives ``json_in`` shares.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any, Final, TypeAlias

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1 import common_pb2

from breadcrumbs.errors import BadInput
from breadcrumbs.model import (
    encode_value,
)


def _any_python(value: Any) -> Any:
    """An ``AnyValue`` as a plain Python value (None when empty), for JSON texts."""
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_any_python(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any_python(kv.value) for kv in value.kvlist_value.values}
    if which is None or which == "string_value_strindex":  # strindex: profiles only
        return None
    return getattr(value, which)


def _any_text(value: Any) -> tuple[str, str]:
    """An ``AnyValue`` as (value text, type code), per ``model.encode_value``."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value, "s"
    if which == "int_value":
        return str(value.int_value), "i"
    if which == "double_value":
        return repr(value.double_value), "d"
    if which == "bool_value":
        return ("true" if value.bool_value else "false"), "b"
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii"), "y"
    if which == "array_value" or which == "kvlist_value":
        return encode_value(_any_python(value))
    return "", "s"  # an empty value (OTLP's null) reads as an empty string


_Raw: TypeAlias = bytes | tuple[Any, ...]
"""One attribute as it arrives, hashable so the cache can key on it: raw ``KeyValue`` bytes
(protobuf); (key, JSON value name, JSON scalar) for OTLP/JSON string, int and bool values;
(key, "", value text, type code) for any other JSON value."""


def _decode_one_by_one(raws: list[_Raw]) -> tuple[list[str], list[str], str]:
    """Keys, value texts and type codes of raw attributes, each decoded on its own."""
    keys: list[str] = []
    texts: list[str] = []
    codes: list[str] = []
    for raw in raws:
        if isinstance(raw, bytes):
            try:
                kv = common_pb2.KeyValue.FromString(raw)
            except DecodeError as exc:
                raise BadInput(f"malformed OTLP attribute: {exc}") from None
            key = kv.key
            text, code = _any_text(kv.value)
        else:
            key, text, code = raw[0], *_json_scalar_text(raw[1], raw[2], raw[3:])
        keys.append(key)
        texts.append(text)
        codes.append(code)
    return keys, texts, "".join(codes)


def _bad(what: str) -> BadInput:
    return BadInput(f"malformed OTLP/JSON request: {what}")


def _field(item: Any, name: str, kind: type, default: Any, snake: str = "") -> Any:
    """A JSON object's field by its lowerCamelCase (or ``snake``) name; ``default`` when
    absent or null."""
    if type(item) is not dict:
        raise _bad(f"expected an object, got {item!r:.80}")
    value = item.get(name)
    if value is None:
        value = item.get(snake) if snake else None
        if value is None:
            return default
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise _bad(f"{name} must be a {kind.__name__}, got {value!r:.40}")
    return value


def _json_int(value: Any, name: str) -> int:
    if type(value) is int:
        return value
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            pass
    raise _bad(f"{name} must be an integer, got {value!r:.40}")


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


_VALUE_NAMES: Final = {
    spelling: camel
    for camel in (
        "stringValue",
        "intValue",
        "boolValue",
        "doubleValue",
        "bytesValue",
        "arrayValue",
        "kvlistValue",
    )
    for spelling in (camel, _snake(camel))
}
_SCALAR_NAMES: Final = frozenset(
    n for n, camel in _VALUE_NAMES.items() if camel in ("stringValue", "intValue", "boolValue")
)


def _json_scalar_text(name: str, inner: Any, rest: tuple[Any, ...]) -> tuple[str, str]:
    """(value text, type code) of a raw JSON attribute's value (see ``_Raw``)."""
    if not name:
        text, code = inner, rest[0]
        return text, code
    name = _VALUE_NAMES[name]
    if name == "stringValue" and type(inner) is str:
        return inner, "s"
    if name == "boolValue" and type(inner) is bool:
        return ("true" if inner else "false"), "b"
    if name == "intValue" and type(inner) is not bool:
        number = _json_int(inner, "intValue")
        if -(2**63) <= number < 2**63:
            return str(number), "i"
        raise _bad("intValue out of the int64 range")
    raise _bad(f"{name} of the wrong type: {inner!r:.40}")


def _json_python(value: Any) -> Any:
    """An OTLP/JSON AnyValue as a plain Python value (None when empty)."""
    if type(value) is not dict:
        raise _bad("an attribute value must be an object")
    for spelling, inner in value.items():
        name = _VALUE_NAMES.get(spelling)
        if name == "stringValue":
            if type(inner) is not str:
                raise _bad("stringValue must be a string")
            return inner
        if name == "boolValue":
            if type(inner) is not bool:
                raise _bad("boolValue must be true or false")
            return inner
        if name == "intValue":
            number = _json_int(inner, "intValue")
            if not -(2**63) <= number < 2**63:
                raise _bad("intValue out of the int64 range")
            return number
        if name == "doubleValue":
            return _json_double(inner)
        if name == "bytesValue":
            return _json_bytes(inner)
        if name == "arrayValue":
            return [_json_python(v) for v in _field(inner, "values", list, [])]
        if name == "kvlistValue":
            return {
                _field(kv, "key", str, ""): _json_python(_field(kv, "value", dict, {}))
                for kv in _field(inner, "values", list, [])
            }
    return None  # empty, or only unknown fields


def _json_bytes(value: Any) -> bytes:
    if type(value) is not str:
        raise _bad("bytesValue must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        try:  # protobuf's JSON mapping also accepts URL-safe base64
            return base64.urlsafe_b64decode(value)
        except binascii.Error as exc:
            raise _bad(f"bytesValue: {exc}") from None


_DOUBLE_WORDS: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _json_double(value: Any) -> float:
    if type(value) is float or type(value) is int:
        return float(value)
    if type(value) is str:
        if value in _DOUBLE_WORDS:
            return _DOUBLE_WORDS[value]
        try:
            return float(value)
        except ValueError:
            pass
    raise _bad(f"doubleValue must be a number, got {value!r:.40}")
