"""Every setting of ``breadcrumbs serve`` and its default, in one place.

Precedence, highest first: command-line flag > environment variable ``BREADCRUMBS_<NAME>``
(``BREADCRUMBS_OTLP_GRPC_PORT``) > TOML file (``--config FILE``, flat keys named like the
fields, dashes or underscores) > the defaults below. Defaults run with zero configuration.

``host`` defaults to ``127.0.0.1``: breadcrumbs has no authentication yet, so it only listens
on the loopback interface unless told otherwise (``--host 0.0.0.0`` to accept spans from other
machines or containers), as the OpenTelemetry Collector does since v0.104.

Durations accept ``100ms``, ``30s``, ``15m``, ``12h``, ``7d`` (bare numbers are seconds);
sizes accept ``512``, ``64KiB``, ``16MiB``, ``1GiB`` (bare numbers are bytes).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from breadcrumbs.codec.base import DecodeLimits
from breadcrumbs.store.url import parse_store_url

ENV_PREFIX: Final = "BREADCRUMBS_"
_DEFAULT_LIMITS: Final = DecodeLimits()


class ConfigError(ValueError):
    """A setting could not be read; the message names the setting and its source."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kib|kb|mib|mb|gib|gb)?\s*$", re.IGNORECASE)
_SIZE_UNITS: Final = {
    "b": 1,
    "kib": 1024,
    "kb": 1000,
    "mib": 1024**2,
    "mb": 1000**2,
    "gib": 1024**3,
    "gb": 1000**3,
}
_LOG_LEVELS: Final = ("debug", "info", "warning", "error")


def parse_duration(text: str | float) -> float:
    """Seconds from ``7d``, ``12h``, ``15m``, ``30s``, ``100ms`` or a bare number of seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ConfigError(f"negative duration {text!r}")
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ConfigError(f"not a duration: {text!r} (try 7d, 12h, 30s, 100ms)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]


def parse_size(text: str | int) -> int:
    """Bytes from ``16MiB``, ``64KiB``, ``1GiB`` or a bare number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ConfigError(f"negative size {text!r}")
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError(f"not a size: {text!r} (try 16MiB, 512KiB, 1000)")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def _parse_int(text: str | int) -> int:
    if isinstance(text, bool):
        raise ConfigError(f"not an integer: {text!r}")
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"not an integer: {text!r}") from None
    if value < 0:
        raise ConfigError(f"negative value {text!r}")
    return value


def _parse_port(text: str | int) -> int:
    value = _parse_int(text)
    if value > 65535:
        raise ConfigError(f"not a port: {text!r}")
    return value


def _parse_str(text: str) -> str:
    return str(text)


def _parse_path(text: str | Path) -> Path:
    return Path(text).expanduser()


def _parse_store(text: str) -> str:
    try:
        parse_store_url(str(text))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return str(text).strip()


def _parse_bool(text: str | bool) -> bool:
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"not a boolean: {text!r} (true or false)")


def parse_rate(text: str | float) -> float:
    """A sampling rate: a number in (0, 1]."""
    if isinstance(text, bool):
        raise ConfigError(f"not a sampling rate: {text!r} (a number in (0, 1])")
    try:
        rate = float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"not a sampling rate: {text!r} (a number in (0, 1])") from None
    if not 0.0 < rate <= 1.0:  # also NaN
        raise ConfigError(f"sampling rate {text!r} is not in (0, 1]")
    return rate


def _parse_optional_path(text: str | Path) -> str:
    return str(Path(text).expanduser()) if str(text).strip() else ""


def _parse_log_level(text: str) -> str:
    level = str(text).strip().lower()
    if level not in _LOG_LEVELS:
        raise ConfigError(f"log level {text!r} is not one of {', '.join(_LOG_LEVELS)}")
    return level


def _parse_workers(text: str | int) -> str:
    if str(text).strip().lower() == "auto":
        return "auto"
    return str(_parse_int(text))


def _parse_probability(text: str | float) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"not a probability: {text!r} (a number from 0 to 1)") from None
    if isinstance(text, bool) or not 0 <= value <= 1:
        raise ConfigError(f"not a probability: {text!r} (a number from 0 to 1)")
    return value


def _parse_positive(text: str | float) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"not a number: {text!r}") from None
    if isinstance(text, bool) or not (value > 0 and value != float("inf")):
        raise ConfigError(f"not a positive number: {text!r}")
    return value


def _parse_strategies_file(text: str | Path) -> str:
    """The path, once the file reads as Jaeger sampling strategies (errors name the place)."""
    path = str(text).strip()
    if path:
        from breadcrumbs.sampling import strategies_file

        try:
            strategies_file.load(Path(path).expanduser(), default_probability=1.0)
        except strategies_file.StrategiesFileError as error:
            raise ConfigError(str(error)) from None
    return path


_DECODERS: Final = ("auto", "native", "python")


def _parse_decoder(text: str) -> str:
    name = str(text).strip().lower()
    if name not in _DECODERS:
        raise ConfigError(f"decoder {text!r} is not one of {', '.join(_DECODERS)}")
    return name


def _setting(default: Any, parse: Callable[[Any], Any], help: str) -> Any:
    return field(default=default, metadata={"parse": parse, "help": help})


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration of one server. Ports set to 0 are disabled."""

    data_dir: Path = _setting(  # noqa: RUF009 (returns a dataclasses.field)
        Path("./breadcrumbs-data"), _parse_path, "Directory for the WAL and the store."
    )
    store: str = _setting(
        "duckdb",
        _parse_store,
        "Where spans are kept: duckdb (in the data dir), chdb:///dir or "
        "clickhouse://user:pass@host:8123/db?cluster=NAME.",
    )
    host: str = _setting("127.0.0.1", _parse_str, "Interface every port listens on.")
    otlp_grpc_port: int = _setting(4317, _parse_port, "OTLP gRPC receiver port (0: off).")
    otlp_http_port: int = _setting(4318, _parse_port, "OTLP HTTP receiver port (0: off).")
    zipkin_port: int = _setting(9411, _parse_port, "Zipkin receiver and API port (0: off).")
    http_port: int = _setting(
        16686, _parse_port, "UI, Jaeger API, /metrics, /healthz, /readyz port (0: off)."
    )
    sampling_port: int = _setting(
        5778, _parse_port, "Jaeger remote sampling port for SDKs, /sampling?service=S (0: off)."
    )
    retention: float = _setting(
        7 * 86400.0, parse_duration, "How long spans are kept (e.g. 7d, 12h; 0: forever)."
    )
    max_request_bytes: int = _setting(
        16 * 1024**2, parse_size, "Largest request body on the wire (413 beyond)."
    )
    max_decompressed_bytes: int = _setting(
        64 * 1024**2, parse_size, "Largest request body after gzip (413 beyond)."
    )
    max_spans: int = _setting(
        _DEFAULT_LIMITS.max_spans, _parse_int, "Spans per request (400 beyond)."
    )
    max_attributes: int = _setting(
        _DEFAULT_LIMITS.max_attributes, _parse_int, "Attributes per span; the rest are dropped."
    )
    max_value_length: int = _setting(
        _DEFAULT_LIMITS.max_value_length, _parse_int, "Characters per attribute value; cut beyond."
    )
    max_events: int = _setting(_DEFAULT_LIMITS.max_events, _parse_int, "Events per span.")
    max_links: int = _setting(_DEFAULT_LIMITS.max_links, _parse_int, "Links per span.")
    flush_interval: float = _setting(
        1.0, parse_duration, "Longest time a span waits in the WAL before the store flush."
    )
    max_unflushed_spans: int = _setting(
        400_000, _parse_int, "Spans in the WAL not yet in the store before 429s."
    )
    max_metric_series: int = _setting(
        10_000,
        _parse_int,
        "RED series (service, operation, kind) kept; spans of more count as otel.metric.overflow.",
    )
    sampling_strategies: str = _setting(
        "",
        _parse_strategies_file,
        "Head-sampling strategies served to SDKs: a Jaeger strategies JSON file.",
    )
    sampling_adaptive: bool = _setting(
        False,
        _parse_bool,
        "Serve adaptive head sampling: per-operation probabilities aiming at "
        "--sampling-target-tps.",
    )
    sampling_target_tps: float = _setting(
        1.0, _parse_positive, "Adaptive sampling: traces per second kept per service and operation."
    )
    sampling_default_probability: float = _setting(
        1.0,
        _parse_probability,
        "Head-sampling probability of services and operations with no strategy yet.",
    )
    sampling_min_probability: float = _setting(
        1e-5, _parse_probability, "Adaptive sampling: the lowest probability served."
    )
    sampling_max_probability: float = _setting(
        1.0, _parse_probability, "Adaptive sampling: the highest probability served."
    )
    sampling_interval: float = _setting(
        30.0, parse_duration, "Adaptive sampling: how often rates are recomputed."
    )
    query_timeout: float = _setting(
        30.0,
        parse_duration,
        "Longest a query may run; it is stopped and answered 503 beyond (0: no limit).",
    )
    query_threads: int = _setting(
        4, _parse_int, "Store reads running at once (more wait; ingest has its own threads)."
    )
    max_query_window: float = _setting(
        7 * 86400.0,
        parse_duration,
        "Longest time window a trace search or dependency graph may cover (400 beyond).",
    )
    max_query_traces: int = _setting(
        1500, _parse_int, "Most traces one search or trace list may return (400 beyond)."
    )
    tail_sampling_rate: float = _setting(
        1.0,
        parse_rate,
        "Tail sampling: keep every error and slow trace and this share of the rest (1: all).",
    )
    tail_sampling_policy: str = _setting(
        "",
        _parse_optional_path,
        "Tail sampling policy file (TOML; README, Tail sampling); overrides the rate's policies.",
    )
    decode_workers: str = _setting(
        "auto",
        _parse_workers,
        "Processes decoding large requests (auto: cores - 2, up to 4; 0: in the server).",
    )
    decoder: str = _setting(
        "auto",
        _parse_decoder,
        "OTLP and Zipkin JSON decoders: auto (native when built, else python), native, python.",
    )
    log_level: str = _setting("info", _parse_log_level, "debug, info, warning or error.")
    demo: bool = _setting(
        False, _parse_bool, "Also run the kale smoothie demo shop, with traffic, sending here."
    )

    def __post_init__(self) -> None:
        if self.sampling_adaptive and self.sampling_strategies:
            raise ConfigError(
                "--sampling-adaptive and --sampling-strategies exclude each other: "
                "choose a strategies file or adaptive rates"
            )
        if self.sampling_min_probability > self.sampling_max_probability:
            raise ConfigError(
                f"--sampling-min-probability {self.sampling_min_probability:g} is above "
                f"--sampling-max-probability {self.sampling_max_probability:g}"
            )
        if self.sampling_adaptive and self.sampling_min_probability <= 0:
            raise ConfigError("--sampling-min-probability must be above 0 for adaptive sampling")
        if self.sampling_interval <= 0:
            raise ConfigError("--sampling-interval must be longer than 0")

    @property
    def decode_worker_count(self) -> int:
        if self.decode_workers != "auto":
            return int(self.decode_workers)
        # The server process keeps about a core busy (HTTP, gRPC, the WAL) and DuckDB's insert
        # another: workers only pay off beyond those two (bench/README.md, Ingest).
        return max(0, min(4, len(os.sched_getaffinity(0)) - 2))

    @property
    def decode_limits(self) -> DecodeLimits:
        return DecodeLimits(
            max_spans=self.max_spans,
            max_attributes=self.max_attributes,
            max_value_length=self.max_value_length,
            max_events=self.max_events,
            max_links=self.max_links,
        )


SETTING_NAMES: Final[tuple[str, ...]] = tuple(f.name for f in dataclasses.fields(Settings))


def setting_help(name: str) -> str:
    """The one-line help of a setting (used for the CLI flags)."""
    return str(_FIELDS[name].metadata["help"])


def setting_type(name: str) -> type:
    """The Python type of a setting's value (``bool`` settings are on/off CLI flags)."""
    return type(_FIELDS[name].default)


_FIELDS: Final = {f.name: f for f in dataclasses.fields(Settings)}


def _default_text(name: str) -> str:
    default: Any = getattr(Settings(), name)
    if name in (
        "retention",
        "flush_interval",
        "sampling_interval",
        "query_timeout",
        "max_query_window",
    ):
        seconds = float(default)
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
            if seconds >= size and seconds % size == 0:
                return f"{int(seconds // size)}{unit}"
        return f"{seconds * 1000:g}ms"
    if name.endswith("_bytes"):
        return f"{int(default) // 1024**2}MiB"
    if isinstance(default, bool):
        return str(default).lower()
    return str(default)


def markdown_table() -> str:
    """Every setting as a Markdown table (flag, environment variable, default, meaning), for
    the README: ``python -c "from breadcrumbs.config import markdown_table as t; print(t())"``.
    """
    rows = ["| flag | environment | default | what |", "|---|---|---|---|"]
    for name in SETTING_NAMES:
        flag = "--" + name.replace("_", "-")
        env = ENV_PREFIX + name.upper()
        default = _default_text(name)
        shown = f"`{default}`" if default else "(none)"
        rows.append(f"| `{flag}` | `{env}` | {shown} | {setting_help(name)} |")
    return "\n".join(rows)


def _apply(values: dict[str, Any], raw: Mapping[str, Any], source: str) -> None:
    for key, value in raw.items():
        name = key.replace("-", "_").lower()
        if name not in _FIELDS:
            raise ConfigError(f"{source}: unknown setting {key!r}")
        try:
            values[name] = _FIELDS[name].metadata["parse"](value)
        except (ConfigError, TypeError, ValueError) as error:
            raise ConfigError(f"{source}: {key}: {error}") from None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge defaults < TOML file < environment < flags. ``None`` flag values are unset.

    ``env`` defaults to ``os.environ``; pass ``{}`` to ignore the environment.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if config_file is None and env.get(ENV_PREFIX + "CONFIG"):
        config_file = Path(env[ENV_PREFIX + "CONFIG"])
    if config_file is not None:
        _apply(values, read_toml(config_file), str(config_file))
    _apply(
        values,
        {
            name: env[ENV_PREFIX + name.upper()]
            for name in SETTING_NAMES
            if ENV_PREFIX + name.upper() in env
        },
        "environment",
    )
    _apply(values, {k: v for k, v in (flags or {}).items() if v is not None}, "flag")
    return Settings(**values)
