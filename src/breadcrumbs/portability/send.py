"""Span batches to a running server's OTLP HTTP endpoint, as any OpenTelemetry exporter sends.

Through the receiver, an import gets what live traffic gets: the server's limits, the WAL's
ack (a 200 means fsynced), span metrics, tail sampling and forwarding. Batches go as OTLP
protobuf (``codec.otlp.encode_proto``) of at most ``spans_per_request`` spans; a 429 or 503
is retried after its ``Retry-After`` (the OTLP spec's retryable answers), a 400 is the data's
fault and is counted as rejected, with the server's reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final

import httpx
from google.protobuf.message import DecodeError
from google.rpc import status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from breadcrumbs.codec.otlp import encode_proto
from breadcrumbs.model import SpanBatch

SPANS_PER_REQUEST: Final = 2_000
_RETRYABLE: Final = frozenset({429, 502, 503, 504})
_MAX_WAIT_S: Final = 30.0


class SendError(Exception):
    """The server cannot be reached or keeps refusing; the message says which and where."""


@dataclass
class SendResult:
    accepted: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)
    retries: int = 0


class OtlpSender:
    """POSTs to ``{endpoint}/v1/traces`` (``endpoint`` as ``OTEL_EXPORTER_OTLP_ENDPOINT``)."""

    def __init__(
        self,
        endpoint: str,
        *,
        spans_per_request: int = SPANS_PER_REQUEST,
        attempts: int = 10,
        timeout_s: float = 60.0,
    ) -> None:
        base = endpoint.rstrip("/")
        self.url = base if base.endswith("/v1/traces") else base + "/v1/traces"
        self._spans_per_request = spans_per_request
        self._attempts = attempts
        self._client = httpx.Client(timeout=timeout_s)
        self.result = SendResult()

    def close(self) -> None:
        self._client.close()

    def send(self, batch: SpanBatch) -> None:
        for offset in range(0, batch.num_rows, self._spans_per_request):
            self._post(batch.slice(offset, self._spans_per_request))

    def _post(self, batch: SpanBatch) -> None:
        body = encode_proto(batch)
        headers = {"Content-Type": "application/x-protobuf"}
        wait_s = 0.5
        for attempt in range(1, self._attempts + 1):
            try:
                response = self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as error:
                if attempt == self._attempts:
                    raise SendError(f"cannot reach {self.url}: {error}") from None
                response = None
            if response is not None and response.status_code not in _RETRYABLE:
                self._settle(response, batch.num_rows)
                return
            if attempt == self._attempts:
                assert response is not None
                raise SendError(
                    f"{self.url} still answers {response.status_code} after {attempt} attempts"
                )
            self.result.retries += 1
            time.sleep(_retry_after(response) or wait_s)
            wait_s = min(_MAX_WAIT_S, wait_s * 2)

    def _settle(self, response: httpx.Response, spans: int) -> None:
        if response.status_code == 200:
            rejected, reason = _partial_success(response.content)
            self.result.accepted += spans - rejected
            self.result.rejected += rejected
            if reason:
                self.result.reasons.append(reason)
            return
        if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 404):
            self.result.rejected += spans
            self.result.reasons.append(f"{response.status_code}: {_status_message(response)}")
            return
        raise SendError(f"{self.url} answered {response.status_code}: {_status_message(response)}")


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    text = response.headers.get("Retry-After", "")
    try:
        return min(_MAX_WAIT_S, max(0.0, float(text)))
    except ValueError:
        return None


def _partial_success(content: bytes) -> tuple[int, str]:
    try:
        answer = ExportTraceServiceResponse.FromString(content)
    except DecodeError:
        return 0, ""
    partial = answer.partial_success
    return int(partial.rejected_spans), partial.error_message


def _status_message(response: httpx.Response) -> str:
    """A Status body's message (protobuf or JSON), else the body's first characters."""
    try:
        return str(status_pb2.Status.FromString(response.content).message) or response.text[:300]
    except DecodeError:
        return response.text[:300]
