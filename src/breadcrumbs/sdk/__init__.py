"""Thin helpers on the OpenTelemetry SDK for services that report to breadcrumbs.

    from breadcrumbs import sdk

    telemetry = sdk.init("checkout", service_version="1.4.2", environment="prod")

    @sdk.traced
    def price(cart): ...

    telemetry.shutdown()   # flush on exit

Everything returned is a plain OpenTelemetry object; nothing here replaces the SDK.
"""

from breadcrumbs.sdk.bootstrap import Telemetry, build_propagator, init
from breadcrumbs.sdk.messaging import (
    batch_consumer_span,
    consumer_span,
    extract,
    inject,
    producer_span,
)
from breadcrumbs.sdk.remote_sampler import JaegerRemoteSampler
from breadcrumbs.sdk.thirdparty import ThirdParty, third_party
from breadcrumbs.sdk.traced import Traced, traced

__all__ = [
    "JaegerRemoteSampler",
    "Telemetry",
    "ThirdParty",
    "Traced",
    "batch_consumer_span",
    "build_propagator",
    "consumer_span",
    "extract",
    "init",
    "inject",
    "producer_span",
    "third_party",
    "traced",
]
