import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.config import (
    SETTING_NAMES,
    ConfigError,
    Settings,
    load_settings,
    markdown_table,
    parse_duration,
    parse_size,
)


def test_defaults_run_with_zero_configuration() -> None:
    s = load_settings(env={})
    assert s == Settings()
    assert (s.otlp_grpc_port, s.otlp_http_port, s.zipkin_port, s.http_port) == (
        4317,
        4318,
        9411,
        16686,
    )
    assert s.data_dir == Path("breadcrumbs-data")
    assert s.host == "127.0.0.1"
    assert s.retention == 7 * 86400
    assert s.decode_limits.max_spans == s.max_spans


def test_precedence_flag_over_env_over_file_over_default(tmp_path: Path) -> None:
    config = tmp_path / "breadcrumbs.toml"
    config.write_text(
        'otlp-grpc-port = 1111\nzipkin_port = 2222\nhttp_port = 3333\nretention = "2d"\n'
    )
    env = {"BREADCRUMBS_OTLP_GRPC_PORT": "4444", "BREADCRUMBS_ZIPKIN_PORT": "5555"}
    s = load_settings({"otlp_grpc_port": "6666", "http_port": None}, env=env, config_file=config)
    assert s.otlp_grpc_port == 6666  # flag beats env and file
    assert s.zipkin_port == 5555  # env beats file
    assert s.http_port == 3333  # file beats default; an unset (None) flag does not count
    assert s.retention == 2 * 86400
    assert s.otlp_http_port == 4318  # default


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('data_dir = "/tmp/x"\nmax_request_bytes = "1MiB"\n')
    s = load_settings(env={"BREADCRUMBS_CONFIG": str(config)})
    assert s.data_dir == Path("/tmp/x")
    assert s.max_request_bytes == 1024**2


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"otlp_grpc_port": "70000"}, "otlp_grpc_port"),
        ({"http_port": "abc"}, "not an integer"),
        ({"retention": "7 weeks"}, "not a duration"),
        ({"max_request_bytes": "16 parsecs"}, "not a size"),
        ({"log_level": "chatty"}, "log level"),
        ({"demo": "maybe"}, "not a boolean"),
        ({"no_such_thing": "1"}, "unknown setting"),
    ],
)
def test_bad_values_name_the_setting(flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(flags, env={})


def test_bad_toml_and_unknown_keys(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_settings(env={}, config_file=bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(env={}, config_file=unknown)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(env={}, config_file=tmp_path / "missing.toml")


def test_every_setting_has_an_environment_variable(tmp_path: Path) -> None:
    env = {"BREADCRUMBS_" + name.upper(): "7" for name in SETTING_NAMES}
    strategies = tmp_path / "strategies.json"
    strategies.write_text('{"default_strategy": {"type": "probabilistic", "param": 0.7}}')
    env["BREADCRUMBS_SAMPLING_STRATEGIES"] = str(strategies)
    env["BREADCRUMBS_SAMPLING_ADAPTIVE"] = "no"  # excludes a strategies file
    for name in ("DEFAULT", "MIN", "MAX"):
        env[f"BREADCRUMBS_SAMPLING_{name}_PROBABILITY"] = "0.7"
    env["BREADCRUMBS_LOG_LEVEL"] = "debug"
    env["BREADCRUMBS_HOST"] = "::1"
    env["BREADCRUMBS_DATA_DIR"] = "/d"
    env["BREADCRUMBS_DEMO"] = "yes"
    env["BREADCRUMBS_DECODER"] = "Python"
    env["BREADCRUMBS_STORE"] = "chdb:///var/lib/breadcrumbs"
    env["BREADCRUMBS_TAIL_SAMPLING_RATE"] = "0.5"
    s = load_settings(env=env)
    assert s.tail_sampling_rate == 0.5
    assert s.tail_sampling_policy == "7"
    assert s.store == "chdb:///var/lib/breadcrumbs"
    assert s.otlp_grpc_port == 7
    assert s.retention == 7.0
    assert s.max_links == 7
    assert s.host == "::1"
    assert s.log_level == "debug"
    assert s.demo is True
    assert s.sampling_strategies == str(strategies)
    assert s.sampling_min_probability == 0.7
    assert s.decoder == "python"
    assert load_settings({"demo": False}, env=env).demo is False


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 604800.0), ("12h", 43200.0), ("15m", 900.0), ("30s", 30.0), ("100ms", 0.1), ("5", 5.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@settings(deadline=None)  # no timed assertions: the machine is shared
@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["ms", "s", "m", "h", "d"]))
def test_parse_duration_property(value: int, unit: str) -> None:
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    assert parse_duration(f"{value}{unit}") == pytest.approx(value * factor)


@settings(deadline=None)  # no timed assertions: the machine is shared
@given(st.integers(min_value=0, max_value=2**40), st.sampled_from(["", "KiB", "MiB", "GiB"]))
def test_parse_size_property(value: int, unit: str) -> None:
    factor = {"": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}[unit]
    assert parse_size(f"{value}{unit}") == value * factor


@settings(deadline=None)  # no timed assertions: the machine is shared
@given(st.text(max_size=12))
def test_parsers_accept_or_raise_config_error(text: str) -> None:
    for parse in (parse_duration, parse_size):
        with contextlib.suppress(ConfigError):
            assert parse(text) >= 0


def test_markdown_table_lists_every_setting_with_its_default() -> None:
    table = markdown_table()
    for name in SETTING_NAMES:
        assert f"`--{name.replace('_', '-')}`" in table
        assert f"`BREADCRUMBS_{name.upper()}`" in table
    assert "| `--retention` | `BREADCRUMBS_RETENTION` | `7d` |" in table
    assert "| `--max-request-bytes` | `BREADCRUMBS_MAX_REQUEST_BYTES` | `16MiB` |" in table


def test_sampling_settings_that_contradict_each_other_are_refused(tmp_path: Path) -> None:
    strategies = tmp_path / "strategies.json"
    strategies.write_text("{}")
    both = {"sampling_adaptive": True, "sampling_strategies": str(strategies)}
    with pytest.raises(ConfigError, match="exclude each other"):
        load_settings(both, env={})
    with pytest.raises(ConfigError, match="is above --sampling-max-probability"):
        load_settings(
            {"sampling_min_probability": "0.5", "sampling_max_probability": "0.1"}, env={}
        )
    with pytest.raises(ConfigError, match="not a probability"):
        load_settings({"sampling_default_probability": "1.5"}, env={})
