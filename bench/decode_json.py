"""JSON decoder throughput: ``python bench/decode_json.py [--format zipkin-json] [--spans 1000]``.

Decode alone, in spans per CPU second (median request): the native decoder (Rust, when built)
and the Python reference against the floor, ``orjson.loads`` of the same body (parsing into
Python objects, no columns). The bodies are ``bench/decode.py``'s realistic requests (five
services, 8-10 attributes of mixed types per span, some events and errors) as each format
spells them: Zipkin v2 JSON as breadcrumbs' own Zipkin API writes them (tags, endpoints,
annotations with attributes) and OTLP/JSON as protobuf's JSON mapping with hex ids.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable

import orjson

from breadcrumbs.codec import otlp, zipkin, zipkin_native
from breadcrumbs.codec.base import DecodeResult
from decode import _otlp_json, _rate, make_request

Decoder = Callable[[bytes], DecodeResult]


def zipkin_body(request_bytes: bytes) -> bytes:
    """A request as Zipkin v2 JSON: decoded, then written by the Zipkin API's encoder."""
    batch = otlp.decode_proto(request_bytes).batch
    return orjson.dumps(zipkin.to_zipkin_spans(batch))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--format", choices=["zipkin-json", "otlp-json"], default="zipkin-json")
    parser.add_argument("--spans", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rng = random.Random(42)
    requests = [make_request(args.spans, rng) for _ in range(8)]
    native: Decoder | None
    if args.format == "zipkin-json":
        bodies = [zipkin_body(r.SerializeToString()) for r in requests]
        python: Decoder = zipkin.decode_json
        native = zipkin_native.decode_json if zipkin_native.AVAILABLE else None
    else:
        bodies = [_otlp_json(r) for r in requests]
        python = otlp.decode_json
        native = otlp.decode_json_native if otlp.json_native.AVAILABLE else None
    count = python(bodies[0]).batch.num_rows
    print(f"{args.format}: {count} spans per request, {len(bodies[0]):,} bytes")
    n = 0

    def run(work: Callable[[bytes], object]) -> Callable[[], None]:
        def once() -> None:
            nonlocal n
            work(bodies[n % len(bodies)])
            n += 1

        return once

    floor = _rate("orjson.loads (floor)", count, args.seconds, run(orjson.loads))
    fast = 0.0
    if native is not None:
        fast = _rate("native (Rust)", count, args.seconds, run(native))
        print(f"{'native / floor':<32} {fast / floor:>12.3f}")
    else:
        print(f"native {args.format}: not available")
    slow = _rate("python (reference)", count, args.seconds, run(python))
    print(f"{'python / floor':<32} {slow / floor:>12.3f}")
    if fast:
        print(f"{'native / python':<32} {fast / slow:>12.3f}")


if __name__ == "__main__":
    main()
