"""The shop's services, one module each; every module has ``build(ctx) -> ServiceSpec``."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec

__all__ = ["SERVICES", "UNTRACED", "builder"]

# Name -> module. The gateway comes first: it gets the base port.
SERVICES: dict[str, str] = {
    "gateway": "gateway",
    "auth": "auth",
    "menu": "menu",
    "cache": "cache",
    "inventory": "inventory",
    "pricing": "pricing",
    "legacy-pricing": "legacy_pricing",
    "payment": "payment",
    "fraud-check": "fraud_check",
    "loyalty": "loyalty",
    "delivery-scheduling": "delivery_scheduling",
    "courier-matching": "courier_matching",
    "notifications": "notifications",
    "fashion-critic": "fashion_critic",
}

# Sends no spans at all: it must show up only as a peer of pricing's client spans.
UNTRACED = frozenset({"legacy-pricing"})


def builder(name: str) -> Callable[[ServiceContext], ServiceSpec]:
    module = importlib.import_module(f"breadcrumbs.demo.services.{SERVICES[name]}")
    build: Callable[[ServiceContext], ServiceSpec] = module.build
    return build
