"""Every doctor check, by name: one function of one shape, ``check(evidence) -> findings``.

Adding a check is a function in its family's module and one line here; the name's prefix is
its family (``propagation``, ``naming``, ...), as the API and the CLI show it.
"""

from __future__ import annotations

from typing import Final

from breadcrumbs.analysis.doctor import (
    head_sampling,
    instrumentation,
    naming,
    noise,
    propagation,
    sampling,
    skew,
)
from breadcrumbs.analysis.doctor.findings import Check

CHECKS: Final[dict[str, Check]] = {
    "propagation.client-without-server": propagation.client_without_server,
    "propagation.orphans": propagation.orphans,
    "propagation.several-roots": propagation.several_roots,
    "propagation.message-new-trace": propagation.message_starts_new_trace,
    "naming.ids-in-names": naming.ids_in_names,
    "naming.generic-names": naming.generic_names,
    "naming.inconsistent": naming.inconsistent_route_names,
    "naming.across-services": naming.naming_across_services,
    "instrumentation.uncovered-time": instrumentation.uncovered_time,
    "instrumentation.peers-only": instrumentation.peers_only,
    "noise.dynamic-keys": noise.dynamic_keys,
    "noise.exploding-values": noise.exploding_values,
    "noise.huge-values": noise.huge_values,
    "sampling.too-few-for-p99": sampling.too_few_for_p99,
    "sampling.errors-lost": sampling.errors_lost_to_head_sampling,
    "sampling.error-traces-lost": head_sampling.error_traces_lost,
    "skew.clock-skew": skew.clock_skew,
}
