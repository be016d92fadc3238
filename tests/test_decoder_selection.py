"""Which OTLP protobuf decoder the server uses, and what the start-up banner says about it."""

from __future__ import annotations

import pytest

from breadcrumbs.codec import otlp, zipkin, zipkin_native
from breadcrumbs.server import decoding_summary


def test_the_banner_names_the_decoder() -> None:
    assert decoding_summary("python", 0) == "python, in the server"
    assert decoding_summary("python", 2) == "python, 2 worker processes"
    if otlp.NATIVE_AVAILABLE:
        assert decoding_summary("auto", 1) == "native, 1 worker process"
    else:
        assert decoding_summary("auto", 0).startswith("python (native decoder not built")


def test_native_when_not_built_is_a_clear_error() -> None:
    if otlp.NATIVE_AVAILABLE:
        assert otlp.proto_decoder("native")[0] == "native"
        return
    with pytest.raises(ValueError, match="use --decoder python"):
        otlp.proto_decoder("native")


def test_the_json_decoders_follow_the_same_choice() -> None:
    # One --decoder for every format, so the banner's one word is true for all of them.
    for choice in ("auto", "python", "native"):
        if choice == "native" and not otlp.NATIVE_AVAILABLE:
            continue
        name = otlp.proto_decoder(choice)[0]
        assert otlp.json_decoder(choice)[0] == name
        assert zipkin_native.json_decoder(choice)[0] == name
    assert otlp.json_decoder("python")[1] is otlp.decode_json
    assert zipkin_native.json_decoder("python")[1] is zipkin.decode_json
