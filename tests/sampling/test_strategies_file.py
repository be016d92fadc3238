"""Jaeger strategies files read as Jaeger reads them, and mistakes named precisely."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from breadcrumbs.sampling import strategies_file, wire
from breadcrumbs.sampling.strategies_file import StrategiesFileError
from breadcrumbs.sampling.strategy import OperationProbability, Probabilistic, RateLimiting

GOLDEN = Path(__file__).parent / "golden"
JAEGER_DEFAULT = 0.001  # Jaeger's default sampling probability, which its snapshots assume


def _normalised(response: dict[str, Any]) -> dict[str, Any]:
    """Jaeger's snapshot JSON (Go encoding/json: zero fields omitted, enum as a number) in
    the shape of its API (every field, enum by name)."""
    return wire.to_json(wire.from_json(response))


@pytest.mark.parametrize("service", ["ServiceA", "ServiceB"])
def test_answers_as_jaegers_snapshots(service: str) -> None:
    strategies = strategies_file.load(
        GOLDEN / "strategies_service_no_per_operation.json", JAEGER_DEFAULT
    )
    expected = orjson.loads(
        (GOLDEN / f"response_service_no_per_operation_{service}.json").read_bytes()
    )
    assert wire.to_json(strategies.strategy(service)) == _normalised(expected)


def test_operation_strategies_merge_as_in_jaeger(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        strategies = strategies_file.load(
            GOLDEN / "strategies_operation_strategies.json", JAEGER_DEFAULT
        )
    # Jaeger's own expectations for this file (file/provider_test.go).
    foo = strategies.strategy("foo")
    assert foo.strategy_type == "PROBABILISTIC"
    assert foo.probabilistic is not None
    assert foo.probabilistic.rate == 0.8
    assert foo.per_operation is not None
    assert foo.per_operation.default_probability == 0.8
    assert foo.per_operation.operations == (
        OperationProbability("op6", 0.5),
        OperationProbability("op1", 0.2),
        OperationProbability("op0", 0.2),
        OperationProbability("op7", 1.0),
    )
    bar = strategies.strategy("bar")
    assert bar.strategy_type == "RATE_LIMITING"
    assert bar.rate_limiting == RateLimiting(5)
    assert bar.per_operation is not None
    assert bar.per_operation.default_probability == JAEGER_DEFAULT
    assert [op.operation for op in bar.per_operation.operations] == [
        "op3",
        "op5",
        "op0",
        "op6",
        "op7",
    ]
    default = strategies.strategy("anyone-else")
    assert default.probabilistic is not None
    assert default.probabilistic.rate == 0.5
    assert default.per_operation is not None
    assert [op.rate for op in default.per_operation.operations] == [0.2, 0.0, 1.0]
    # Rate limits per operation do not exist in Jaeger's protocol: skipped, with a warning.
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert "'op2'" in warned
    assert "'op4'" in warned
    assert "'spam'" in warned


def test_services_without_a_type_get_the_default_probability() -> None:
    strategies = strategies_file.load(
        GOLDEN / "strategies_missing_service_types.json", JAEGER_DEFAULT
    )
    foo = strategies.strategy("foo")
    assert foo.probabilistic is not None
    assert foo.probabilistic.rate == JAEGER_DEFAULT
    assert foo.per_operation is not None
    assert foo.per_operation.probability("op1") == 0.2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"default_strategy": ', "not JSON"),
        ('"nonsense"', "the top level must be an object"),
        ('{"default_strategies": {}}', "unknown key 'default_strategies'"),
        ('{"service_strategies": {"service": "a"}}', "service_strategies must be a list"),
        (
            '{"service_strategies": [{"type": "probabilistic", "param": 1}]}',
            "service_strategies[0]: no service name",
        ),
        (
            '{"service_strategies": [{"service": "a", "type": "probabilistic", "param": 1},'
            ' {"service": "a", "type": "probabilistic", "param": 1}]}',
            "service_strategies[1]: service 'a' is listed twice",
        ),
        (
            '{"service_strategies": [{"service": "a", "type": "probabilistic", "param": 1.5}]}',
            "service_strategies[0].param: 1.5 is not a probability between 0 and 1",
        ),
        (
            '{"default_strategy": {"type": "probabilistic", "param": "half"}}',
            "default_strategy.param: 'half' is not a number",
        ),
        (
            '{"default_strategy": {"type": "ratelimiting", "param": -2}}',
            "default_strategy.param: -2 is not a rate",
        ),
        (
            '{"default_strategy": {"type": "adaptive", "param": 1}}',
            "default_strategy.type: 'adaptive' is not",
        ),
        (
            '{"default_strategy": {"type": "probabilistic", "param": 1,'
            ' "operation_strategies": [{"type": "probabilistic", "param": 1}]}}',
            "default_strategy.operation_strategies[0]: no operation name",
        ),
        (
            '{"default_strategy": {"type": "probabilistic", "param": 1,'
            ' "operation_strategies": [{"operation": "x", "type": "probabilistic",'
            ' "param": 2}]}}',
            "default_strategy.operation_strategies[0].param: 2 is not a probability",
        ),
    ],
)
def test_mistakes_name_the_file_and_the_place(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "strategies.json"
    path.write_text(text)
    with pytest.raises(StrategiesFileError) as raised:
        strategies_file.load(path, 1.0)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(StrategiesFileError, match="cannot read sampling strategies file"):
        strategies_file.load(tmp_path / "absent.json", 1.0)


def test_an_edited_file_is_read_again_and_a_broken_edit_keeps_the_last_good_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "strategies.json"
    path.write_text('{"default_strategy": {"type": "probabilistic", "param": 0.5}}')
    strategies = strategies_file.ReloadingStrategies(path, 1.0, check_s=0)
    assert strategies.strategy("a").probabilistic == Probabilistic(0.5)
    path.write_text('{"default_strategy": {"type": "probabilistic", "param": 0.25}}')
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a coarse clock's same tick
    assert strategies.strategy("a").probabilistic == Probabilistic(0.25)
    path.write_text('{"default_strategy": {"type": "probabilistic", "param": 9}}')
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    with caplog.at_level(logging.ERROR):
        assert strategies.strategy("a").probabilistic == Probabilistic(0.25)
    assert "param: 9 is not a probability" in caplog.text
