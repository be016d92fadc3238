"""py_zipkin, a real Zipkin client, posting JSON v2 and proto3 over HTTP to a real server;
read back through the Zipkin API and the Jaeger API."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from py_zipkin.encoding._types import Encoding, Kind
from py_zipkin.transport import SimpleHTTPTransport
from py_zipkin.zipkin import zipkin_span
from tests.conftest import VISIBLE_TIMEOUT_S

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e


def _zipkin_trace(server: ServerProcess, trace_id: str, count: int) -> list[dict[str, Any]]:
    """A bounded poll, generous for a loaded CI machine (the 2 s visibility is benchmarked)."""
    deadline = time.monotonic() + VISIBLE_TIMEOUT_S
    while True:
        response = httpx.get(f"{server.zipkin_url}/api/v2/trace/{trace_id}", timeout=10.0)
        if response.status_code == 200 and len(spans := response.json()) >= count:
            return list(spans)
        assert time.monotonic() < deadline, f"{response.status_code} {response.text[:300]}"
        time.sleep(0.05)


@pytest.mark.parametrize("encoding", [Encoding.V2_JSON, Encoding.V2_PROTO3])
def test_py_zipkin_round_trips(encoding: Encoding, server: ServerProcess) -> None:
    run = encoding.name.lower()
    # SimpleHTTPTransport asserts the 202 itself: the ack
    transport = SimpleHTTPTransport("127.0.0.1", server.ports["zipkin_port"])
    with zipkin_span(
        service_name="zk-web",
        span_name=f"get /{run}",
        transport_handler=transport,
        sample_rate=100.0,
        encoding=encoding,
        kind=Kind.SERVER,
    ) as root:
        root.update_binary_annotations({"http.path": "/checkout", "run": run})
        with zipkin_span(service_name="zk-web", span_name="select", kind=Kind.CLIENT) as child:
            child.add_annotation("query.start")
            child.add_sa_binary_annotation(port=5432, service_name="postgres", host="10.0.0.7")
            child.update_binary_annotations({"db.system": "postgresql"})
        assert root.zipkin_attrs is not None
        trace_id = root.zipkin_attrs.trace_id
        root_id = root.zipkin_attrs.span_id

    spans = _zipkin_trace(server, trace_id, 2)
    by_name = {span["name"]: span for span in spans}
    assert set(by_name) == {f"get /{run}", "select"}
    top, select = by_name[f"get /{run}"], by_name["select"]
    assert top["traceId"].lstrip("0") == trace_id.lstrip("0")
    assert top["id"] == root_id
    assert "parentId" not in top
    assert select["parentId"] == root_id
    assert top["kind"] == "SERVER"
    assert select["kind"] == "CLIENT"
    assert top["localEndpoint"]["serviceName"] == "zk-web"
    assert top["tags"]["http.path"] == "/checkout"
    assert select["tags"]["db.system"] == "postgresql"
    assert select["remoteEndpoint"]["serviceName"] == "postgres"
    assert select["remoteEndpoint"]["port"] == 5432
    assert [a["value"] for a in select["annotations"]] == ["query.start"]
    assert top["duration"] >= select["duration"] > 0

    # the Jaeger API sees the same trace, with the 64-bit id padded to 128 bits
    jaeger = server.get_json(f"/api/traces/{trace_id}")["data"][0]
    assert jaeger["traceID"] == trace_id.rjust(32, "0")
    jaeger_spans = {span["operationName"]: span for span in jaeger["spans"]}
    assert jaeger_spans["select"]["references"] == [
        {"refType": "CHILD_OF", "traceID": trace_id.rjust(32, "0"), "spanID": root_id}
    ]
    assert jaeger["processes"][jaeger_spans["select"]["processID"]]["serviceName"] == "zk-web"
    assert {"key": "span.kind", "type": "string", "value": "client"} in jaeger_spans["select"][
        "tags"
    ]
    assert "zk-web" in httpx.get(f"{server.zipkin_url}/api/v2/services", timeout=10).json()
