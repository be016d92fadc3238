"""Strategies from a file in Jaeger's format (``--sampling-strategies FILE``)::

    {
      "default_strategy": {"type": "probabilistic", "param": 0.5,
                           "operation_strategies": [{"operation": "/health",
                                                     "type": "probabilistic", "param": 0}]},
      "service_strategies": [
        {"service": "checkout", "type": "probabilistic", "param": 0.8,
         "operation_strategies": [{"operation": "POST /pay", "type": "probabilistic",
                                   "param": 1}]},
        {"service": "search", "type": "ratelimiting", "param": 5}
      ]
    }

Read as Jaeger reads it, so a file that works there gives the same answers here: a service
not listed gets ``default_strategy``; a service without operation strategies of its own gets
the default's (with its own probability as their default); one with its own gets the
default's added for operations it does not name; an operation strategy can only be
probabilistic (Jaeger's protocol has no per-operation rate limit), so a ``ratelimiting`` one
is skipped with a warning, as Jaeger does. The file is read again when it changes
(``ReloadingStrategies``). Unlike Jaeger, a mistake is an error naming the
file and the place (``service_strategies[1].param: 1.5 is not a probability between 0 and
1``) rather than a silent fallback to the default.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from breadcrumbs.sampling.strategy import (
    OperationProbability,
    PerOperation,
    Probabilistic,
    RateLimiting,
    Strategy,
    check_probability,
    check_rate,
)

log = logging.getLogger(__name__)

_TOP_KEYS = frozenset({"default_strategy", "service_strategies"})
_STRATEGY_KEYS = frozenset({"type", "param", "operation_strategies", "service"})
_OPERATION_KEYS = frozenset({"operation", "type", "param"})


class StrategiesFileError(ValueError):
    """The strategies file cannot be used; the message names the file and the place."""


@dataclass(frozen=True, slots=True)
class FileStrategies:
    """The strategies of one file: a ``StrategyProvider``."""

    default: Strategy
    services: Mapping[str, Strategy]

    def strategy(self, service: str) -> Strategy:
        return self.services.get(service, self.default)


class ReloadingStrategies:
    """A file's strategies, read again when the file changes: edit it and the SDKs get the
    new strategies at their next poll, no restart. The file is checked (one ``stat``) at most
    every ``check_s`` seconds, when a strategy is asked for; a change that does not parse is
    logged and the last good strategies stay in force. A ``StrategyProvider``."""

    def __init__(self, path: Path, default_probability: float, check_s: float = 5.0) -> None:
        self.path = path
        self.default_probability = default_probability
        self.check_s = check_s
        self._stamp = _stamp(path)
        self.current = load(path, default_probability)
        self._checked = time.monotonic()

    def strategy(self, service: str) -> Strategy:
        now = time.monotonic()
        if now - self._checked >= self.check_s:
            self._checked = now
            self._reload_if_changed()
        return self.current.strategy(service)

    def _reload_if_changed(self) -> None:
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self.current = load(self.path, self.default_probability)
        except StrategiesFileError as error:
            log.error("sampling strategies not reloaded, the last good ones stay: %s", error)
            return
        log.info("sampling strategies reloaded from %s", self.path)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


def load(path: Path, default_probability: float) -> FileStrategies:
    """Read and check ``path``; ``default_probability`` is used where the file names none."""
    try:
        text = path.read_bytes()
    except OSError as error:
        raise StrategiesFileError(
            f"cannot read sampling strategies file {path}: {error.strerror}"
        ) from None
    try:
        return parse(orjson.loads(text), default_probability)
    except orjson.JSONDecodeError as error:
        raise StrategiesFileError(f"{path}: not JSON: {error}") from None
    except ValueError as error:
        raise StrategiesFileError(f"{path}: {error}") from None


def parse(data: Any, default_probability: float) -> FileStrategies:
    """The strategies of a parsed file; ValueError naming the place of the first mistake."""
    if not isinstance(data, dict):
        raise ValueError(
            "the top level must be an object with default_strategy and/or service_strategies"
        )
    _no_unknown_keys(data, _TOP_KEYS, "the top level")
    fallback = Strategy(probabilistic=Probabilistic(default_probability))
    default = fallback
    if data.get("default_strategy") is not None:
        default = _service_strategy(data["default_strategy"], "default_strategy", fallback)
    listed = data.get("service_strategies") or []
    if not isinstance(listed, list):
        raise ValueError("service_strategies must be a list")
    services: dict[str, Strategy] = {}
    for index, entry in enumerate(listed):
        where = f"service_strategies[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object")
        name = entry.get("service")
        if not isinstance(name, str) or not name:
            raise ValueError(f'{where}: no service name ("service": "checkout")')
        if name in services:
            raise ValueError(f"{where}: service {name!r} is listed twice")
        own = _service_strategy(entry, where, fallback)
        services[name] = _with_default_operations(own, default)
    return FileStrategies(default, services)


def _no_unknown_keys(data: dict[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")


def _strategy(data: dict[str, Any], where: str, fallback: Strategy) -> Strategy:
    kind = data.get("type")
    if kind is None and "param" not in data:  # Jaeger: no type means the default probability
        return fallback
    param = data.get("param")
    if kind == "probabilistic":
        return Strategy(probabilistic=Probabilistic(check_probability(param, f"{where}.param")))
    if kind == "ratelimiting":
        tps = check_rate(param, f"{where}.param")
        whole = math.floor(tps)
        if whole != tps:  # Jaeger's protocol carries an int32: it would truncate silently
            log.warning("%s: ratelimiting param %s truncated to %d traces/s", where, tps, whole)
        return Strategy(rate_limiting=RateLimiting(whole))
    raise ValueError(f'{where}.type: {kind!r} is not "probabilistic" or "ratelimiting"')


def _service_strategy(data: Any, where: str, fallback: Strategy) -> Strategy:
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be an object")
    _no_unknown_keys(data, _STRATEGY_KEYS, where)
    strategy = _strategy(data, where, fallback)
    listed = data.get("operation_strategies") or []
    if not isinstance(listed, list):
        raise ValueError(f"{where}.operation_strategies must be a list")
    if not listed:
        return strategy
    fallback_rate = fallback.probabilistic.rate if fallback.probabilistic else 1.0
    own_rate = strategy.probabilistic.rate if strategy.probabilistic else fallback_rate
    operations: list[OperationProbability] = []
    for index, entry in enumerate(listed):
        at = f"{where}.operation_strategies[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{at} must be an object")
        _no_unknown_keys(entry, _OPERATION_KEYS, at)
        name = entry.get("operation")
        if not isinstance(name, str) or not name:
            raise ValueError(f'{at}: no operation name ("operation": "GET /cart")')
        if entry.get("type") not in ("probabilistic", "ratelimiting"):
            raise ValueError(f'{at}.type: {entry.get("type")!r} is not "probabilistic"')
        parsed = _strategy(entry, at, fallback)
        if parsed.probabilistic is None:
            log.warning(
                "%s (%r): per-operation strategies can only be probabilistic in Jaeger's "
                "protocol; the operation uses the service default %g",
                at,
                name,
                own_rate,
            )
            continue
        operations.append(OperationProbability(name, parsed.probabilistic.rate))
    return replace(strategy, per_operation=PerOperation(own_rate, operations=tuple(operations)))


def _with_default_operations(own: Strategy, default: Strategy) -> Strategy:
    """Jaeger's merge: the default's operation strategies apply to every listed service."""
    if default.per_operation is None:
        return own
    if own.per_operation is None:
        inherited = default.per_operation
        if own.probabilistic is not None:
            inherited = replace(inherited, default_probability=own.probabilistic.rate)
        return replace(own, per_operation=inherited)
    named = {op.operation for op in own.per_operation.operations}
    extra = tuple(op for op in default.per_operation.operations if op.operation not in named)
    merged = replace(own.per_operation, operations=own.per_operation.operations + extra)
    return replace(own, per_operation=merged)
