"""Big traces in the web UI: send one trace of N spans through OTLP/HTTP to a real
``breadcrumbs serve``, open it in headless Chromium (Debian's, through Playwright) and print:

- server: the native API's full response (``/api/x/traces/{id}``) against the Jaeger API's
  (``/api/traces/{id}``) for the same trace, as the peer in the same run (time and bytes);
- browser floor: fetching the native stream and ``JSON.parse`` of every line in the page, the
  least any UI must do with these bytes;
- first render (the header with the summary), data arrived (last byte parsed in the worker),
  interactive (first waterfall frame drawn), each from navigation start, and interactive after
  the data arrived (typed arrays, tree layout, transfer, first frame);
- scroll and zoom: 120 frames scrolling 10 rows per frame and 60 frames of Ctrl+wheel zoom,
  with the draw time per frame (p50/p95/max) and the frame interval;
- the flame graph: time from the click to its first frame (with the per-level grouping of
  the spans), then 60 Ctrl+wheel zoom steps (in and out; two animation frames each).

    python bench/ui_trace.py --spans 100000 --spans 1000000
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
BATCH = 50_000
FAN_OUT = 8
SERVICES = [f"svc-{name}" for name in "abcdefghijklmnopqrst"]
OPERATIONS = [
    "GET /api/items/{id}",
    "SELECT items",
    "POST /checkout",
    "cache.get",
    "publish order-events",
    "render widget",
    "resolve user",
    "compute price",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def requests(n: int, trace_id: bytes, start_ns: int) -> list[bytes]:
    """A tree with FAN_OUT children per span (parent of i is (i-1)//FAN_OUT), every child
    inside its parent, one service per subtree level, an event on every 50th span."""
    bodies = []
    duration = [0] * n
    start = [0] * n
    start[0], duration[0] = 0, 10**9 * 30
    for i in range(1, n):
        parent = (i - 1) // FAN_OUT
        slot = (i - 1) % FAN_OUT
        width = duration[parent] // FAN_OUT
        start[i] = start[parent] + slot * width + width // 10
        duration[i] = max(width * 8 // 10, 1000)
    for first in range(0, n, BATCH):
        by_service: dict[str, list[Span]] = {}
        for i in range(first, min(n, first + BATCH)):
            span = Span(
                trace_id=trace_id,
                span_id=(i + 1).to_bytes(8, "big"),
                parent_span_id=((i - 1) // FAN_OUT + 1).to_bytes(8, "big") if i else b"",
                name=OPERATIONS[i % len(OPERATIONS)],
                kind=Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=start_ns + start[i],
                end_time_unix_nano=start_ns + start[i] + duration[i],
                attributes=[KeyValue(key="item.index", value=AnyValue(int_value=i))],
            )
            if i % 50 == 0:
                span.events.add(time_unix_nano=start_ns + start[i] + duration[i] // 2, name="tick")
            if i % 997 == 0:
                span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
            by_service.setdefault(SERVICES[(i * 7) % len(SERVICES)], []).append(span)
        request = ExportTraceServiceRequest(
            resource_spans=[
                ResourceSpans(
                    resource=Resource(
                        attributes=[KeyValue(key="service.name", value=AnyValue(string_value=s))]
                    ),
                    scope_spans=[ScopeSpans(spans=spans)],
                )
                for s, spans in by_service.items()
            ]
        )
        bodies.append(request.SerializeToString())
    return bodies


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    ports = {name: free_port() for name in ("http", "otlp-http", "otlp-grpc", "zipkin", "sampling")}
    args = [sys.executable, "-m", "breadcrumbs", "serve", "--data-dir", str(data_dir)]
    args += [f"--{name}-port={port}" for name, port in ports.items()]
    log = (data_dir.parent / "server.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{ports['http']}/readyz", timeout=2).status_code == 200:
                return proc, ports
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("server did not start: " + str(data_dir.parent / "server.log"))
        time.sleep(0.2)


def send(ports: dict[str, int], n: int) -> str:
    trace_id = os.urandom(16)
    bodies = requests(n, trace_id, time.time_ns() - 60 * 10**9)
    with httpx.Client(timeout=300) as client:
        for body in bodies:
            answer = client.post(
                f"http://127.0.0.1:{ports['otlp-http']}/v1/traces",
                content=body,
                headers={"Content-Type": "application/x-protobuf"},
            )
            answer.raise_for_status()
    hex_id = trace_id.hex()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        head = httpx.get(
            f"http://127.0.0.1:{ports['http']}/api/x/traces/{hex_id}?chunk=1&limit=1", timeout=600
        )
        if head.status_code == 200 and b'"storedSpanCount":%d' % n in head.content:
            return hex_id
        time.sleep(1)
    raise SystemExit(f"trace {hex_id} never reached {n} spans")


def timed_get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    body = httpx.get(url, timeout=600).content
    return time.perf_counter() - t0, len(body)


FLOOR_JS = """async (url) => {
  const t0 = performance.now();
  const text = await (await fetch(url)).text();
  let spans = 0;
  for (const line of text.split("\\n")) if (line) spans += JSON.parse(line).count ?? 0;
  return { ms: performance.now() - t0, spans };
}"""

SCROLL_JS = """async ({frames, step, zoom}) => {
  const el = document.querySelector('[data-testid="waterfall"]');
  const timings = window.__breadcrumbs;
  timings.draws = [];
  const gaps = [];
  let last = performance.now();
  for (let i = 0; i < frames; i++) {
    if (zoom) {
      const rect = el.getBoundingClientRect();
      el.dispatchEvent(new WheelEvent("wheel", {deltaY: -60, ctrlKey: true, bubbles: true,
        cancelable: true, clientX: rect.left + rect.width * 0.7, clientY: rect.top + 100}));
    } else {
      el.scrollTop += step;
    }
    await new Promise(requestAnimationFrame);
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }
  await new Promise(requestAnimationFrame);
  return { draws: timings.draws.slice(), gaps };
}"""


FLAME_JS = """async (frames) => {
  const timings = window.__breadcrumbs;
  timings.flameDraws = [];
  const t0 = performance.now();
  document.querySelector('[data-testid="view-flame"]').click();
  while (!timings.flameDraws.length) await new Promise(requestAnimationFrame);
  const openMs = performance.now() - t0;
  const canvas = document.querySelector('[data-testid="flame-canvas"]');
  timings.flameDraws = [];
  const gaps = [];
  let last = performance.now();
  for (let i = 0; i < frames; i++) {
    const rect = canvas.getBoundingClientRect();
    canvas.dispatchEvent(new WheelEvent("wheel", {deltaY: i < frames / 2 ? -60 : 60,
      ctrlKey: true, bubbles: true, cancelable: true, clientX: rect.left + rect.width * 0.4,
      clientY: rect.top + 40}));
    await new Promise(requestAnimationFrame);
    await new Promise(requestAnimationFrame);
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }
  return { openMs, levelsMs: timings.flameLevelsMs, draws: timings.flameDraws.slice(), gaps };
}"""


def open_trace(page: Page, base: str, trace_id: str) -> dict[str, Any]:
    page.goto(f"{base}/map")  # a page of the app; the trace is then opened in-app
    floor = page.evaluate(FLOOR_JS, f"{base}/api/x/traces/{trace_id}")
    t_nav = page.evaluate("performance.timeOrigin + performance.now()")
    page.evaluate(
        f"history.pushState(null, '', '/trace/{trace_id}');"
        "dispatchEvent(new PopStateEvent('popstate'))"
    )
    page.wait_for_function(
        "window.__breadcrumbs && window.__breadcrumbs.interactiveAt > 0", timeout=600_000
    )
    marks = page.evaluate("window.__breadcrumbs")
    page.wait_for_timeout(300)
    scroll = page.evaluate(SCROLL_JS, {"frames": 120, "step": 240, "zoom": False})
    zoom = page.evaluate(SCROLL_JS, {"frames": 60, "step": 0, "zoom": True})
    flame = page.evaluate(FLAME_JS, 60)
    return {
        "floor": floor,
        "t_nav": t_nav,
        "marks": marks,
        "scroll": scroll,
        "zoom": zoom,
        "flame": flame,
    }


def frames(label: str, result: dict[str, list[float]]) -> str:
    draws, gaps = result["draws"], result["gaps"]
    return (
        f"  {label}: draw p50 {pct(draws, 0.5):.2f} ms, p95 {pct(draws, 0.95):.2f} ms, "
        f"max {max(draws, default=0):.2f} ms over {len(draws)} draws; frame interval p50 "
        f"{pct(gaps, 0.5):.1f} ms, p95 {pct(gaps, 0.95):.1f} ms ({1000 / pct(gaps, 0.5):.0f} fps)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, action="append", help="trace size (repeatable)")
    args = parser.parse_args()
    sizes = args.spans or [100_000]
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        proc, ports = start_server(Path(tmp) / "data")
        base = f"http://127.0.0.1:{ports['http']}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                )
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                for n in sizes:
                    t0 = time.perf_counter()
                    trace_id = send(ports, n)
                    print(f"\n{n:,} spans: sent and stored in {time.perf_counter() - t0:.1f} s")
                    # The API keeps the last trace read for the span panel: read another one,
                    # so the figures below include reading this trace from the store.
                    other = send(ports, 1)
                    httpx.get(f"{base}/api/x/traces/{other}", timeout=60).raise_for_status()
                    native_s, native_bytes = timed_get(f"{base}/api/x/traces/{trace_id}")
                    jaeger_s, jaeger_bytes = timed_get(f"{base}/api/traces/{trace_id}")
                    print(
                        f"  server: native API {native_s:.2f} s, {native_bytes / 2**20:.1f} MiB "
                        f"({native_bytes / n:.0f} B/span); Jaeger API (peer) {jaeger_s:.2f} s, "
                        f"{jaeger_bytes / 2**20:.1f} MiB: native/Jaeger time "
                        f"{native_s / jaeger_s:.2f}, bytes {native_bytes / jaeger_bytes:.2f}"
                    )
                    r = open_trace(page, base, trace_id)
                    m, t_nav = r["marks"], r["t_nav"]
                    floor_ms = r["floor"]["ms"]
                    print(f"  browser floor (fetch + JSON.parse of the stream): {floor_ms:.0f} ms")
                    print(
                        f"  from navigation: first render (header) {m['headerAt'] - t_nav:.0f} ms, "
                        f"data arrived {m['arrivedAt'] - t_nav:.0f} ms, interactive "
                        f"{m['interactiveAt'] - t_nav:.0f} ms (floor ratio "
                        f"{(m['interactiveAt'] - t_nav) / r['floor']['ms']:.2f})"
                    )
                    print(
                        "  interactive after the data arrived: "
                        f"{m['interactiveAt'] - m['arrivedAt']:.0f} ms "
                        f"(tree layout in the worker {m['layoutMs']:.0f} ms)"
                    )
                    print(frames("scroll", r["scroll"]))
                    print(frames("zoom", r["zoom"]))
                    flame = r["flame"]
                    steps = flame["gaps"]
                    print(
                        f"  flame graph: open {flame['openMs']:.0f} ms (levels "
                        f"{flame['levelsMs']:.0f} ms); zoom: draw p50 "
                        f"{pct(flame['draws'], 0.5):.2f} ms, p95 {pct(flame['draws'], 0.95):.2f} "
                        f"ms, max {max(flame['draws'], default=0):.2f} ms; step (two frames) "
                        f"p50 {pct(steps, 0.5):.1f} ms, p95 {pct(steps, 0.95):.1f} ms"
                    )
                browser.close()
        finally:
            proc.terminate()
            try:
                proc.wait(120)  # a store of 1M spans checkpoints on the way out
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
