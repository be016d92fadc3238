"""The tail sampler's configuration: from ``--tail-sampling-rate`` alone, or a policy file.

A policy file is TOML (README, "Tail sampling")::

    quiet_period = "1s"       # decide a trace this long after its last span (if not before)
    max_wait = "30s"          # decide at the latest this long after its first span
    max_traces = 50000        # traces waiting for a decision; beyond, the oldest are decided
    max_spans = 500000        # spans held; beyond, the oldest traces are decided
    decision_memory = 200000  # decided trace ids remembered, so late spans follow
    follow_links = true       # a trace linked from a kept trace is kept ("linked")

    [[policy]]
    type = "error"

    [[policy]]
    type = "latency"
    percentile = 95
    threshold = "2s"
    operations = [{ service = "checkout", name = "POST /orders", threshold = "500ms" }]

    [[policy]]
    type = "probabilistic"
    rate = 0.1                # omitted: --tail-sampling-rate

Each ``[[policy]]`` has a ``type`` from ``policies.REGISTRY``, an optional ``name`` (what kept
traces are labelled with; the type by default) and that type's parameters.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from breadcrumbs.config import ConfigError, parse_duration, parse_rate
from breadcrumbs.sampling.tail.policies import REGISTRY, OperationKey, Params

_SETTINGS: Final = frozenset(
    {"quiet_period", "max_wait", "max_traces", "max_spans", "decision_memory", "follow_links"}
)


@dataclass(frozen=True, slots=True)
class ConfiguredPolicy:
    name: str
    type: str
    params: Params = field(default_factory=Params)


@dataclass(frozen=True, slots=True)
class TailSamplingConfig:
    policies: tuple[ConfiguredPolicy, ...]
    quiet_period_s: float = 1.0
    max_wait_s: float = 30.0
    max_traces: int = 50_000
    max_spans: int = 500_000
    decision_memory: int = 200_000
    follow_links: bool = True

    @property
    def keeps_everything(self) -> bool:
        """True when the sampler could never drop a trace: then it is not run at all."""
        return any(p.type == "probabilistic" and p.params.rate >= 1.0 for p in self.policies)


def for_rate(rate: float) -> TailSamplingConfig:
    """The common case: every error, every trace slower than its operation's recent p95, and
    ``rate`` of the rest."""
    return TailSamplingConfig(
        policies=(
            ConfiguredPolicy("error", "error"),
            ConfiguredPolicy("latency", "latency", Params(percentile=95.0)),
            ConfiguredPolicy("probabilistic", "probabilistic", Params(rate=rate)),
        )
    )


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return value


def _number(value: Any, what: str, *, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{what} must be a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _operations(value: Any, where: str) -> dict[OperationKey, float]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: operations must be a list of {{service, name, threshold}}")
    result: dict[OperationKey, float] = {}
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"service", "name", "threshold"}:
            raise ConfigError(f"{where}: each operation needs service, name and threshold")
        result[(str(entry["service"]), str(entry["name"]))] = parse_duration(entry["threshold"])
    return result


def _params(kind: str, raw: dict[str, Any], where: str, default_rate: float) -> Params:
    unknown = set(raw) - REGISTRY[kind].params
    if unknown:
        allowed = ", ".join(sorted(REGISTRY[kind].params)) or "none"
        raise ConfigError(f"{where}: unknown parameter {sorted(unknown)[0]!r} (allowed: {allowed})")
    values: dict[str, Any] = {}
    if "threshold" in raw:
        values["threshold_s"] = parse_duration(raw["threshold"])
    if "operations" in raw:
        values["operations"] = _operations(raw["operations"], where)
    if "percentile" in raw:
        values["percentile"] = _number(raw["percentile"], f"{where}: percentile", high=100.0)
    if "min_samples" in raw:
        values["min_samples"] = _count(raw["min_samples"], f"{where}: min_samples")
    if "below" in raw:
        values["below"] = _number(raw["below"], f"{where}: below")
    if "traces_per_second" in raw:
        values["traces_per_second"] = _number(
            raw["traces_per_second"], f"{where}: traces_per_second"
        )
    if kind == "probabilistic":
        values["rate"] = parse_rate(raw["rate"]) if "rate" in raw else default_rate
    if kind == "latency" and not {"threshold_s", "operations", "percentile"} & set(values):
        raise ConfigError(f"{where}: latency needs a threshold, operations or a percentile")
    return Params(**values)


def parse(raw: dict[str, Any], source: str, default_rate: float = 1.0) -> TailSamplingConfig:
    """A policy file's content; ``default_rate`` for a probabilistic policy without one."""
    unknown = set(raw) - _SETTINGS - {"policy"}
    if unknown:
        raise ConfigError(f"{source}: unknown setting {sorted(unknown)[0]!r}")
    entries = raw.get("policy", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: at least one [[policy]] is needed")
    policies: list[ConfiguredPolicy] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source}: policy {number}"
        if not isinstance(entry, dict) or entry.get("type") not in REGISTRY:
            kinds = ", ".join(REGISTRY)
            raise ConfigError(f"{where}: type must be one of {kinds}")
        kind = str(entry["type"])
        name = str(entry.get("name", kind))
        if name in (p.name for p in policies):
            raise ConfigError(f"{where}: a second policy named {name!r}")
        rest = {k: v for k, v in entry.items() if k not in ("type", "name")}
        policies.append(ConfiguredPolicy(name, kind, _params(kind, rest, where, default_rate)))
    settings: dict[str, Any] = {}
    for key in ("quiet_period", "max_wait"):
        if key in raw:
            settings[f"{key}_s"] = parse_duration(raw[key])
    for key in ("max_traces", "max_spans", "decision_memory"):
        if key in raw:
            settings[key] = _count(raw[key], f"{source}: {key}")
    if "follow_links" in raw:
        if not isinstance(raw["follow_links"], bool):
            raise ConfigError(f"{source}: follow_links must be true or false")
        settings["follow_links"] = raw["follow_links"]
    return TailSamplingConfig(policies=tuple(policies), **settings)


def load(path: Path, default_rate: float = 1.0) -> TailSamplingConfig:
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except OSError as error:
        raise ConfigError(
            f"cannot read tail sampling policy file {path}: {error.strerror}"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    return parse(raw, str(path), default_rate)


def from_settings(rate: float, policy_file: str) -> TailSamplingConfig | None:
    """What ``serve`` runs: None when nothing could ever be dropped (no stage at all)."""
    config = load(Path(policy_file), default_rate=rate) if policy_file else for_rate(rate)
    return None if config.keeps_everything else config
