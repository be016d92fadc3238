"""The policy file and ``--tail-sampling-rate``."""

from __future__ import annotations

from pathlib import Path

import pytest

from breadcrumbs.config import ConfigError, load_settings
from breadcrumbs.sampling.tail import config

EXAMPLE = """
quiet_period = "500ms"
max_wait = "20s"
max_traces = 1000
decision_memory = 5000
follow_links = false

[[policy]]
type = "error"

[[policy]]
type = "latency"
name = "slow"
percentile = 99
threshold = "2s"
operations = [{ service = "checkout", name = "POST /orders", threshold = "500ms" }]

[[policy]]
type = "rate_limit"
traces_per_second = 5

[[policy]]
type = "probabilistic"
"""


def test_the_rate_alone_keeps_errors_slow_and_a_share_of_the_rest() -> None:
    settings = load_settings({"tail_sampling_rate": "0.1"}, env={})
    sampling = config.from_settings(settings.tail_sampling_rate, settings.tail_sampling_policy)
    assert sampling is not None
    assert [p.type for p in sampling.policies] == ["error", "latency", "probabilistic"]
    assert sampling.policies[2].params.rate == 0.1


def test_the_default_runs_no_sampler() -> None:
    settings = load_settings({}, env={})
    assert settings.tail_sampling_rate == 1.0
    assert config.from_settings(settings.tail_sampling_rate, settings.tail_sampling_policy) is None


def test_the_environment_sets_the_rate() -> None:
    settings = load_settings({}, env={"BREADCRUMBS_TAIL_SAMPLING_RATE": "0.25"})
    assert settings.tail_sampling_rate == 0.25


@pytest.mark.parametrize("rate", ["0", "1.5", "-0.1", "nan", "often"])
def test_a_bad_rate_is_refused(rate: str) -> None:
    with pytest.raises(ConfigError, match="rate"):
        load_settings({"tail_sampling_rate": rate}, env={})


def test_a_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policies.toml"
    path.write_text(EXAMPLE)
    sampling = config.from_settings(0.2, str(path))
    assert sampling is not None
    assert [p.name for p in sampling.policies] == ["error", "slow", "rate_limit", "probabilistic"]
    slow = sampling.policies[1].params
    assert slow.percentile == 99
    assert slow.threshold_s == 2.0
    assert slow.operations == {("checkout", "POST /orders"): 0.5}
    assert sampling.policies[2].params.traces_per_second == 5
    assert sampling.policies[3].params.rate == 0.2  # from the flag
    assert sampling.quiet_period_s == 0.5
    assert sampling.max_wait_s == 20.0
    assert sampling.max_traces == 1000
    assert sampling.decision_memory == 5000
    assert not sampling.follow_links


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one"),
        ('[[policy]]\ntype = "coin"', "type must be one of"),
        ('[[policy]]\ntype = "error"\nrate = 0.5', "unknown parameter 'rate'"),
        ('[[policy]]\ntype = "latency"', "needs a threshold"),
        ('[[policy]]\ntype = "probabilistic"\nrate = 2', "not in"),
        ('[[policy]]\ntype = "latency"\nthreshold = "soon"', "not a duration"),
        ('max_traces = 0\n[[policy]]\ntype = "error"', "positive integer"),
        ('wait = "1s"\n[[policy]]\ntype = "error"', "unknown setting 'wait'"),
        ('[[policy]]\ntype = "error"\n[[policy]]\ntype = "error"', "a second policy"),
        ("[[policy]\n", "policies.toml"),
    ],
)
def test_bad_policy_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policies.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        config.load(path)


def test_a_missing_policy_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        config.from_settings(1.0, str(tmp_path / "nope.toml"))
