"""How many real spans a sampled span stands for: its OpenTelemetry adjusted count.

A sampler records its decision in the W3C ``tracestate`` entry ``ot``, sub-key ``th``: the
rejection threshold T as 1-14 lowercase hex digits, right-padded with zeros to 56 bits
(``ot=th:8`` is T = 2^55). The span was kept with probability p = (2^56 - T) / 2^56 and so
counts 1 / p real spans (OpenTelemetry's "Probability Sampling" specification, and its
``tracestate`` handling). Head samplers set it; a tail sampler keeping a trace with
probability q writes the product (a larger threshold). A missing, empty or malformed ``ot`` or
``th`` (upper case, more than 14 digits, not hex) counts 1: unsampled traffic is the common case
and a span must never be weighted by a value we cannot read.

One function reads it for whole Arrow columns (``adjusted_count``): a regular-expression
extract (RE2, in Arrow) finds the ``th`` digits; only the spans that carry one are converted,
with one numpy pass over their bytes. No per-span Python.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

THRESHOLD_BITS: Final = 56
THRESHOLD_DIGITS: Final = THRESHOLD_BITS // 4
MAX_ADJUSTED_COUNT: Final = float(2**THRESHOLD_BITS)
"""The largest adjusted count: T = 2^56 - 1, a span kept with probability 2^-56."""

# ``ot`` is a tracestate list member (members split by ',' with optional spaces or tabs around
# them); ``th`` one of its ';'-separated ``key:value`` sub-keys.
_OT_ENTRY: Final = r"(?:^|,)[ \t]*ot=(?P<ot>[^,]*?)[ \t]*(?:,|$)"
_TH_FIELD: Final = r"(?:^|;)th:(?P<th>[0-9a-f]{1,14})(?:;|$)"

_NIBBLE: Final = np.zeros(256, dtype=np.uint64)
_NIBBLE[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10, dtype=np.uint64)
_NIBBLE[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16, dtype=np.uint64)
_PLACES: Final = np.array(
    [16 ** (THRESHOLD_DIGITS - 1 - i) for i in range(THRESHOLD_DIGITS)], dtype=np.uint64
)


def _thresholds(digits: pa.Array) -> np.ndarray:
    """T (uint64) of each non-null string of 1-14 lowercase hex digits."""
    padded = pc.utf8_rpad(digits, width=THRESHOLD_DIGITS, padding="0")
    # Every value is now exactly 14 ASCII bytes: the data buffer is an n x 14 matrix.
    offsets = np.frombuffer(padded.buffers()[1], dtype=_offset_type(padded))
    first, last = int(offsets[padded.offset]), int(offsets[padded.offset + len(padded)])
    data = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[first:last]
    nibbles = _NIBBLE[data.reshape(len(padded), THRESHOLD_DIGITS)]
    return (nibbles * _PLACES).sum(axis=1, dtype=np.uint64)  # type: ignore[no-any-return]


def _offset_type(array: pa.Array) -> type[np.signedinteger]:
    return np.int64 if pa.types.is_large_string(array.type) else np.int32


def adjusted_count(trace_state: pa.Array | pa.ChunkedArray) -> pa.DoubleArray:
    """The adjusted count (float64, >= 1, never null) of each span, from its ``TraceState``
    (a string column; null counts 1)."""
    states = (
        trace_state.combine_chunks() if isinstance(trace_state, pa.ChunkedArray) else trace_state
    )
    if not pa.types.is_string(states.type) and not pa.types.is_large_string(states.type):
        states = states.cast(pa.string())
    weights = np.ones(len(states), dtype=np.float64)
    if len(states) == 0:
        return pa.array(weights, pa.float64())
    candidates = pc.match_substring(states, "th:")  # cheap prefilter: most spans carry none
    where = np.flatnonzero(candidates.to_numpy(zero_copy_only=False) == True)  # noqa: E712
    if len(where) == 0:
        return pa.array(weights, pa.float64())
    picked = states.take(pa.array(where, pa.int64()))
    ot = pc.struct_field(pc.extract_regex(picked, _OT_ENTRY), "ot")
    th = pc.struct_field(pc.extract_regex(ot, _TH_FIELD), "th")
    has = th.is_valid().to_numpy(zero_copy_only=False)
    if not has.any():
        return pa.array(weights, pa.float64())
    thresholds = _thresholds(th.filter(pa.array(has)))
    kept = np.uint64(2**THRESHOLD_BITS) - thresholds  # >= 1: T < 2^56 with 14 digits
    weights[where[has]] = MAX_ADJUSTED_COUNT / kept.astype(np.float64)
    return pa.array(weights, pa.float64())


def adjusted_count_of(trace_state: str) -> float:
    """``adjusted_count`` of one tracestate value (for tests and single spans)."""
    return float(adjusted_count(pa.array([trace_state], pa.string()))[0].as_py())
