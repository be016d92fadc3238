"""OpenTelemetry consistent probability sampling: the rejection threshold ``th`` that a head
sampler records in the W3C ``tracestate`` (``ot=th:<hex>``) so a backend can weight counts.

A trace's randomness R is the low 56 bits of its trace id (W3C trace context level 2
random trace ids), or the explicit ``rv:<14 hex>`` sub-key when present. A sampler with
threshold T keeps the trace when R >= T, so every sampler at the same probability makes the
same decision for the same trace, and p = (2^56 - T) / 2^56. ``th`` is T as 14 hex digits
with trailing zeros dropped (``th:0`` is p = 1, ``th:8`` is p = 1/2).

Probabilities are rounded to 4 significant hex digits (the precision the OpenTelemetry Go
and Java samplers use by default), so tracestates stay short; the decision is taken with the
rounded T, so the recorded probability is exactly the one applied.
"""

from __future__ import annotations

import re
from typing import Final

MAX_THRESHOLD: Final = 1 << 56
_DIGITS: Final = 14
_PRECISION: Final = 4
_RANDOMNESS_MASK: Final = MAX_THRESHOLD - 1
_OT_THRESHOLD: Final = re.compile(r"(?:^|;)th:([0-9a-f]{1,14})(?:;|$)")
_OT_RANDOMNESS: Final = re.compile(r"(?:^|;)rv:([0-9a-f]{14})(?:;|$)")


def threshold(probability: float) -> int:
    """T for ``probability`` (in [0, 1]); ``MAX_THRESHOLD`` means never keep."""
    if not probability > 0:
        return MAX_THRESHOLD
    if probability >= 1:
        return 0
    kept = min(max(round(probability * MAX_THRESHOLD), 1), MAX_THRESHOLD - 1)
    # Round the smaller side, so both p = 0.999 and p = 0.00001 keep 4 significant digits.
    if kept <= MAX_THRESHOLD - kept:
        return MAX_THRESHOLD - _significant(kept)
    return min(_significant(MAX_THRESHOLD - kept), MAX_THRESHOLD - 1)


def _significant(value: int) -> int:
    """``value`` (>= 1) rounded to ``_PRECISION`` significant hex digits, never to 0."""
    step = 1 << (4 * max(0, len(f"{value:x}") - _PRECISION))
    return max(step, round(value / step) * step)


def probability(t: int) -> float:
    return (MAX_THRESHOLD - t) / MAX_THRESHOLD


def encode(t: int) -> str:
    """The ``th`` value for T < 2^56: 14 hex digits without trailing zeros (``0`` for T=0)."""
    return f"{t:0{_DIGITS}x}".rstrip("0") or "0"


def decode(th: str) -> int | None:
    """T from a ``th`` value, None when it is not 1 to 14 lowercase hex digits."""
    if not 1 <= len(th) <= _DIGITS or any(c not in "0123456789abcdef" for c in th):
        return None
    return int(th.ljust(_DIGITS, "0"), 16)


def from_ot_value(ot: str) -> int | None:
    """T from the value of a tracestate's ``ot`` entry (``th:8;rv:...``), None without one."""
    found = _OT_THRESHOLD.search(ot)
    return decode(found.group(1)) if found else None


def randomness(trace_id: int, ot: str = "") -> int:
    """R: the explicit ``rv`` of the ``ot`` entry, else the trace id's low 56 bits."""
    found = _OT_RANDOMNESS.search(ot)
    if found:
        return int(found.group(1), 16)
    return trace_id & _RANDOMNESS_MASK


def with_threshold(ot: str, t: int) -> str:
    """The ``ot`` entry value with its ``th`` sub-key set to T (others kept, ``th`` first)."""
    kept = [part for part in ot.split(";") if part and not part.startswith("th:")]
    return ";".join([f"th:{encode(t)}", *kept])


def without_threshold(ot: str) -> str:
    """The ``ot`` entry value without ``th`` (a span not sampled must not carry one)."""
    return ";".join(part for part in ot.split(";") if part and not part.startswith("th:"))


# --- whole tracestate headers (the tail sampler rewrites the ``th`` of traces it thins) -----


def _members(tracestate: str) -> list[str]:
    return [member.strip() for member in tracestate.split(",") if member.strip()]


def of_tracestate(tracestate: str) -> int:
    """T from a whole tracestate header (0, probability 1, when absent or invalid)."""
    for member in _members(tracestate):
        if member.startswith("ot="):
            return from_ot_value(member[3:]) or 0
    return 0


def times(t: int, q: float) -> int:
    """The threshold of probability ``probability(t) * q`` (q in (0, 1]): a sampler keeping
    with probability q, independently of the one that set T."""
    kept = round((MAX_THRESHOLD - t) * q)
    return MAX_THRESHOLD - max(1, kept)


def tracestate_with_threshold(tracestate: str, t: int) -> str:
    """``tracestate`` with the ``ot`` member's ``th`` set to T, that member first (a modified
    member moves to the front, as W3C Trace Context says), the others unchanged."""
    ot = ""
    others: list[str] = []
    for member in _members(tracestate):
        if member.startswith("ot=") and not ot:
            ot = member[3:]
        else:
            others.append(member)
    return ",".join(["ot=" + with_threshold(ot, t), *others])
