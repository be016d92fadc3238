"""Many encoded ``KeyValue``s decoded in one upb parse: the concatenation trick.

A request's attribute values that the decoder has never seen (URLs, user ids: a few per span)
cost ~2 µs each decoded one message at a time, mostly Python call overhead. Protobuf defines
concatenated messages as one message in which repeated fields append in wire order, so the
``KeyValue``s joined parse as one *column message* declaring ``key`` and ``value`` repeated:
upb fills both columns in C, and the values, joined again, parse into one column per type.

Which element belongs to which ``KeyValue`` is kept by a *separator*: before each goes an
explicitly encoded default element of every column (``""``, ``b""``). A proto3 encoder never
writes a default (implicit presence), so the ``i``-th default starts the ``i``-th segment,
and the value is the segment's last element (protobuf's "last one wins"; an empty segment
ends on the separator itself, the default). A column must hold exactly one default per
message: an unusual encoder that writes defaults breaks the count, and so does a malformed
message that swallows the next separator. ``AnyValue`` is a oneof with no default to spare,
so its separator is the profiles-only ``string_value_strindex``.

Everything here returns ``None`` when the trick does not apply; the caller then decodes one
message at a time, so the answer is never different, only slower.
"""

from __future__ import annotations

import base64
import operator
from collections.abc import Sequence
from itertools import compress, count, repeat
from typing import Any, Final

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

__all__ = ["key_value_columns"]

_F = descriptor_pb2.FieldDescriptorProto

# KeyValue (common.proto): the value stays raw AnyValue bytes.
_KEY_VALUE_FIELDS: Final = (("key", 1, _F.TYPE_STRING), ("value", 2, _F.TYPE_BYTES))
# AnyValue (common.proto): a oneof, so each value sets exactly one of these.
_ANY_VALUE_FIELDS: Final = (
    ("string_value", 1, _F.TYPE_STRING),
    ("bool_value", 2, _F.TYPE_BOOL),
    ("int_value", 3, _F.TYPE_INT64),
    ("double_value", 4, _F.TYPE_DOUBLE),
    ("array_value", 5, _F.TYPE_BYTES),
    ("kvlist_value", 6, _F.TYPE_BYTES),
    ("bytes_value", 7, _F.TYPE_BYTES),
    ("string_value_strindex", 8, _F.TYPE_INT32),
)
# An encoded AnyValue starts with its field's tag, (number << 3) | wire type: string, bool,
# int, double and bytes values are the scalars.
_SCALAR_TAGS: Final = bytes([0x0A, 0x10, 0x18, 0x21, 0x3A])
_BOOL_TEXTS: Final = {False: "false", True: "true"}
_TYPE_CODES: Final = bytes.maketrans(_SCALAR_TAGS, b"sbidy")  # model.encode_value's codes


def _column_classes() -> tuple[Any, Any]:
    proto = descriptor_pb2.FileDescriptorProto(
        name="breadcrumbs/otlp_key_values.proto", package="breadcrumbs.key_values", syntax="proto3"
    )
    for message, fields in (
        ("KeyValueColumns", _KEY_VALUE_FIELDS),
        ("AnyValueColumns", _ANY_VALUE_FIELDS),
    ):
        described = proto.message_type.add(name=message)
        for name, number, kind in fields:
            described.field.add(name=name, number=number, type=kind, label=_F.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return tuple(  # type: ignore[return-value]  # two classes
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"breadcrumbs.key_values.{m}"))
        for m in ("KeyValueColumns", "AnyValueColumns")
    )


_KeyValueColumnsMessage, _AnyValueColumnsMessage = _column_classes()

_KEY_VALUE_SEPARATOR: Final = _KeyValueColumnsMessage(key=[""], value=[b""]).SerializeToString()
# AnyValue's oneof has no default to spare: the separator is the profiles-only string index.
_ANY_VALUE_SEPARATOR: Final = _AnyValueColumnsMessage(string_value_strindex=[0]).SerializeToString()


def _presence(column: Sequence[Any], spans: int) -> bytes | None:
    """A byte per element, 0 for a separator (a falsy default) and 1 for a value; None
    unless there is exactly one separator per span (an encoder wrote a default itself)."""
    flags = bytes(map(bool, column))
    return flags if flags.count(0) == spans else None


def _last_values(column: Sequence[Any], spans: int) -> list[Any] | None:
    """Each span's value of a singular field: its segment's last element."""
    if len(column) == spans and not any(column):  # absent from every span: all defaults
        return list(column)
    if len(column) == 2 * spans and not any(column[::2]) and all(column[1::2]):
        return list(column[1::2])  # present once in every span
    flags = _presence(column, spans)
    if flags is None:
        return None
    if b"\x01\x01" not in flags:  # at most once per span: one byte per span, 1 if present
        sources = (repeat(column[0]), filter(None, column))
        return list(map(next, map(sources.__getitem__, flags.replace(b"\x00\x01", b"\x01"))))
    positions = list(compress(count(), map(operator.not_, flags)))
    ends = positions[1:]
    ends.append(len(column))
    return list(map(column.__getitem__, map(operator.sub, ends, repeat(1))))


def _any_value_texts(values: list[bytes]) -> tuple[list[str], str] | None:
    """Texts and type codes (one character each) of encoded scalar ``AnyValue``s, per
    ``model.encode_value``; None when any is not one scalar (arrays, maps, empty values,
    unusual encodings)."""
    if not all(values):
        return None
    first_tags = bytes(map(operator.itemgetter(0), values))
    if first_tags.translate(None, _SCALAR_TAGS):
        return None
    message = _AnyValueColumnsMessage()
    try:
        message.ParseFromString(_ANY_VALUE_SEPARATOR + _ANY_VALUE_SEPARATOR.join(values))
    except (DecodeError, RuntimeError, ValueError):
        return None
    strings, bools, ints = message.string_value, message.bool_value, message.int_value
    doubles, raw_bytes = message.double_value, message.bytes_value
    # Intact separators bound each value, and each value's first field is a scalar, so each
    # gave one element or more: a total of one per value means exactly one each.
    if len(message.string_value_strindex) != len(values) or len(strings) + len(bools) + len(
        ints
    ) + len(doubles) + len(raw_bytes) != len(values):
        return None
    codes = first_tags.translate(_TYPE_CODES).decode("ascii")
    if len(strings) == len(values):
        return list(strings), codes
    texts = {
        0x0A: iter(strings),
        0x10: map(_BOOL_TEXTS.__getitem__, bools),
        0x18: map(str, ints),
        0x21: map(repr, doubles),
        0x3A: map(_base64, raw_bytes),
    }
    return list(map(next, map(texts.__getitem__, first_tags))), codes


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def key_value_columns(raws: Sequence[bytes]) -> tuple[list[str], list[str], str] | None:
    """Keys, value texts and type codes (one character each) of encoded scalar
    ``KeyValue``s, or None."""
    n = len(raws)
    message = _KeyValueColumnsMessage()
    try:
        message.ParseFromString(_KEY_VALUE_SEPARATOR + _KEY_VALUE_SEPARATOR.join(raws))
    except (DecodeError, RuntimeError, ValueError):
        return None
    keys = _last_values(list(message.key), n)
    values = _last_values(list(message.value), n)
    if keys is None or values is None:
        return None
    texts = _any_value_texts(values)
    return None if texts is None else (keys, *texts)
