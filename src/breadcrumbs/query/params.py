"""Shared vocabulary of the API parameter parsers: query pairs in, typed values or BadInput out.

API adapters hand the parsers the request's query string as ``(name, value)`` pairs (Starlette's
``request.query_params.multi_items()``), so repeated parameters (``tag=a:1&tag=b:2``) survive.
Every error names the parameter, so a 400 tells the caller what to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

from breadcrumbs.errors import BadInput

Params: TypeAlias = Sequence[tuple[str, str]]

NS_PER_US = 1_000
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000

# Bounds that keep every later ns computation inside int64 (about 292 years).
MAX_NS = 2**63 - 1


def values(params: Params, name: str) -> list[str]:
    """Every value of a repeated parameter, in order."""
    return [value for key, value in params if key == name]


def first(params: Params, name: str) -> str:
    """The first value of a parameter, "" when absent (as Go's ``FormValue``)."""
    for key, value in params:
        if key == name:
            return value
    return ""


def parse_int(text: str, name: str, *, minimum: int = 0, maximum: int = MAX_NS) -> int:
    """A decimal integer in [minimum, maximum], or BadInput naming the parameter."""
    stripped = text.strip()
    # int() also accepts "1_000" and non-ASCII digits; APIs mean plain ASCII decimals.
    body = stripped[1:] if stripped[:1] in ("-", "+") else stripped
    if not body or not body.isascii() or not body.isdigit():
        raise BadInput(f"unable to parse param '{name}': not an integer: {text[:64]!r}")
    number = int(stripped)
    if number < minimum or number > maximum:
        raise BadInput(
            f"unable to parse param '{name}': {number} is outside [{minimum}, {maximum}]"
        )
    return number


def scaled(number: int, factor: int, name: str) -> int:
    """``number * factor`` (a unit conversion to ns), or BadInput when it overflows int64."""
    result = number * factor
    if result > MAX_NS or result < -MAX_NS:
        raise BadInput(f"unable to parse param '{name}': {number} is too large")
    return result
