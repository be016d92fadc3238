"""Jaeger's remote sampling API on a real ``breadcrumbs serve``: HTTP on the main port and on
the sampling port, and gRPC ``SamplingManager`` beside OTLP, with a real grpc client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import httpx
import orjson
import pytest

from breadcrumbs.sampling import wire
from breadcrumbs.sampling.proto.jaeger.api_v2 import sampling_pb2

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

GOLDEN = Path(__file__).parent.parent / "sampling" / "golden"
STRATEGIES = GOLDEN / "strategies_service_no_per_operation.json"
METHOD = "/jaeger.api_v2.SamplingManager/GetSamplingStrategy"


@pytest.fixture(scope="module")
def sampling_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from tests.conftest import ServerProcess

    data_dir = tmp_path_factory.mktemp("sampling") / "data"
    server = ServerProcess(
        data_dir,
        extra_args=(
            "--sampling-strategies",
            str(STRATEGIES),
            "--sampling-default-probability",
            "0.001",  # Jaeger's default, which its snapshots assume
        ),
    )
    server.start()
    yield server
    server.stop()


def _golden(service: str) -> dict[str, Any]:
    snapshot = orjson.loads(
        (GOLDEN / f"response_service_no_per_operation_{service}.json").read_bytes()
    )
    return wire.to_json(wire.from_json(snapshot))  # Jaeger's API shape of its snapshot


@pytest.mark.parametrize("service", ["ServiceA", "ServiceB"])
def test_http_on_both_ports_answers_as_jaeger(sampling_server: ServerProcess, service: str) -> None:
    for url in (
        f"{sampling_server.http_url}/api/sampling",
        f"{sampling_server.sampling_url}/sampling",
        f"{sampling_server.sampling_url}/",
    ):
        response = httpx.get(url, params={"service": service})
        assert response.status_code == 200, url
        assert response.headers["content-type"] == "application/json"
        assert response.json() == _golden(service), url


def test_a_service_not_in_the_file_gets_the_default(sampling_server: ServerProcess) -> None:
    body = httpx.get(
        f"{sampling_server.sampling_url}/sampling", params={"service": "unlisted"}
    ).json()
    assert body["strategyType"] == "PROBABILISTIC"
    assert body["probabilisticSampling"] == {"samplingRate": 0.2}
    assert body["operationSampling"]["perOperationStrategies"] == [
        {"operation": "/health", "probabilisticSampling": {"samplingRate": 0.1}}
    ]


@pytest.mark.parametrize("query", ["", "?service=a&service=b", "?service=", "?other=x"], ids=repr)
def test_service_must_be_named_once(sampling_server: ServerProcess, query: str) -> None:
    for url in (
        f"{sampling_server.http_url}/api/sampling",
        f"{sampling_server.sampling_url}/sampling",
    ):
        response = httpx.get(url + query)
        assert response.status_code == 400, url
        assert "'service' parameter must" in response.text


@pytest.fixture
def channel(sampling_server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(sampling_server.grpc_target) as channel:
        yield channel


def _call(channel: grpc.Channel) -> Callable[..., Any]:
    call: Callable[..., Any] = channel.unary_unary(
        METHOD,
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=sampling_pb2.SamplingStrategyResponse.FromString,
    )
    return call


@pytest.mark.parametrize("service", ["ServiceA", "ServiceB"])
def test_grpc_answers_the_same_strategy(channel: grpc.Channel, service: str) -> None:
    response = _call(channel)(
        sampling_pb2.SamplingStrategyParameters(serviceName=service), timeout=10
    )
    expected = wire.from_json(_golden(service))
    assert response == wire.to_proto(expected)
    assert response.strategyType == sampling_pb2.SamplingStrategyType.Value(expected.strategy_type)


def test_grpc_refuses_a_request_without_a_service(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        _call(channel)(sampling_pb2.SamplingStrategyParameters(), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "serviceName is required" in (raised.value.details() or "")


def test_grpc_refuses_garbage(channel: grpc.Channel) -> None:
    raw = channel.unary_unary(METHOD)
    with pytest.raises(grpc.RpcError) as raised:
        raw(b"\xff\xff\xff", timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_sampling_port_can_be_turned_off(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(None, "--sampling-port", "0").start()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.sampling_url}/sampling?service=a", timeout=2)
    # The main port still serves the default strategy: p = 1 unless configured.
    body = httpx.get(f"{server.http_url}/api/sampling?service=a").json()
    assert body == {"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 1.0}}


def test_a_bad_strategies_file_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "strategies.json"
    bad.write_text('{"default_strategy": {"type": "probabilistic", "param": 7}}')
    result = subprocess.run(
        [sys.executable, "-m", "breadcrumbs", "serve", "--sampling-strategies", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "default_strategy.param: 7 is not a probability between 0 and 1" in " ".join(
        result.stderr.split()
    )
