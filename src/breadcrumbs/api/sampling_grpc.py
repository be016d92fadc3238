"""Jaeger's remote sampling API over gRPC: ``jaeger.api_v2.SamplingManager/
GetSamplingStrategy``, served beside OTLP on the OTLP gRPC port (the OpenTelemetry Java
Jaeger remote sampler speaks only gRPC).

Raw-bytes (de)serialisers, as in ``receivers/otlp_grpc.py``: a malformed request is our
INVALID_ARGUMENT rather than grpc's INTERNAL "Exception deserializing request".
"""

from __future__ import annotations

import grpc
from google.protobuf.message import DecodeError

from breadcrumbs.errors import BadInput, grpc_status
from breadcrumbs.sampling import wire
from breadcrumbs.sampling.proto.jaeger.api_v2 import sampling_pb2
from breadcrumbs.sampling.strategy import StrategyProvider

SERVICE = sampling_pb2.DESCRIPTOR.services_by_name["SamplingManager"].full_name
METHOD = f"/{SERVICE}/GetSamplingStrategy"


def _identity(data: bytes) -> bytes:
    return data


def handler(provider: StrategyProvider) -> grpc.GenericRpcHandler:
    """The generic handler for ``SamplingManager``; add it to a ``grpc.aio`` server."""

    async def get_sampling_strategy(body: bytes, rpc: grpc.aio.ServicerContext) -> bytes:
        try:
            try:
                request = sampling_pb2.SamplingStrategyParameters.FromString(body)
            except DecodeError:
                raise BadInput("not a SamplingStrategyParameters message") from None
            if not request.serviceName.strip():
                raise BadInput("serviceName is required")
            strategy = provider.strategy(request.serviceName)
        except BadInput as error:
            await rpc.abort(grpc_status(error), error.message)
            raise AssertionError("unreachable: abort raises") from error
        return bytes(wire.to_proto(strategy).SerializeToString())

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "GetSamplingStrategy": grpc.unary_unary_rpc_method_handler(
                get_sampling_strategy, request_deserializer=_identity, response_serializer=_identity
            )
        },
    )
