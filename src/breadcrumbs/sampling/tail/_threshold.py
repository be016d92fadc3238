"""W3C tracestate ``ot=th:`` arithmetic for the tail sampler (a private copy).

The OpenTelemetry probability-sampling spec: a rejection threshold T of up to 14 hex digits,
right-padded with zeros to 56 bits; sampling probability p = (2^56 - T) / 2^56; adjusted
count 1/p. No or an invalid ``th`` means p = 1. A tail sampler that keeps a trace with
probability q makes it p * q (the product: its own choice is independent of the head's).

``breadcrumbs.sampling.adjusted_count`` reads the same field for Arrow columns; this module
only writes it, per distinct ``TraceState`` value.
"""

from __future__ import annotations

import re
from typing import Final

MAX_THRESHOLD: Final = 1 << 56
_TH: Final = re.compile(r"^[0-9a-f]{1,14}$")


def _members(tracestate: str) -> list[str]:
    return [member.strip() for member in tracestate.split(",") if member.strip()]


def threshold(tracestate: str) -> int:
    """T from ``ot=th:...`` (0, probability 1, when absent or invalid)."""
    for member in _members(tracestate):
        if not member.startswith("ot="):
            continue
        for field in member[3:].split(";"):
            if field.startswith("th:"):
                digits = field[3:]
                if _TH.fullmatch(digits):
                    return int(digits.ljust(14, "0"), 16)
                return 0
    return 0


def probability(t: int) -> float:
    return (MAX_THRESHOLD - t) / MAX_THRESHOLD


def times(t: int, q: float) -> int:
    """The threshold of probability ``probability(t) * q`` (q in (0, 1])."""
    kept = round((MAX_THRESHOLD - t) * q)
    return MAX_THRESHOLD - max(1, kept)


def encode(t: int) -> str:
    """The ``th`` value: 14 hex digits without trailing zeros, ``0`` for probability 1."""
    if t == 0:
        return "0"
    return f"{t:014x}".rstrip("0")


def with_threshold(tracestate: str, t: int) -> str:
    """``tracestate`` with the ``ot`` member's ``th`` set to ``t``, that member first (a
    modified member moves to the front, as W3C Trace Context says), the rest unchanged."""
    fields: list[str] = []
    others: list[str] = []
    for member in _members(tracestate):
        if member.startswith("ot=") and not fields:
            fields = [f for f in member[3:].split(";") if f and not f.startswith("th:")]
        else:
            others.append(member)
    ot = "ot=" + ";".join([f"th:{encode(t)}", *fields])
    return ",".join([ot, *others])
