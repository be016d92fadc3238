// Off the main thread: fetch the native trace stream, fill typed arrays chunk by chunk, lay
// out the tree, and hand everything over by transfer (no copies of the big arrays).
import { buildLayout } from "./layout";
import type { Header, LoaderMessage, SpansChunk, TraceData } from "./model";

const post = (message: LoaderMessage, transfer: Transferable[] = []) =>
  (self as unknown as Worker).postMessage(message, transfer);

self.onmessage = async (event: MessageEvent<{ traceId: string }>) => {
  try {
    await load(event.data.traceId);
  } catch (error) {
    post({ type: "error", status: 0, message: (error as Error).message || String(error) });
  }
};

async function load(traceId: string): Promise<void> {
  const t0 = performance.now();
  const response = await fetch(`/api/x/traces/${encodeURIComponent(traceId)}`);
  if (!response.ok || !response.body) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error ?? message;
    } catch {
      /* keep the status line */
    }
    post({ type: "error", status: response.status, message });
    return;
  }
  let header: Header | null = null;
  let cols: ReturnType<typeof allocate> | null = null;
  const ids: string[] = [];
  let loaded = 0;
  const events: SpansChunk[] = [];
  const handle = (line: string) => {
    if (!line) return;
    const message = JSON.parse(line) as Header | SpansChunk;
    if (message.type === "header") {
      header = message;
      cols = allocate(message.summary.spanCount);
      post({ type: "header", header: message });
      return;
    }
    if (!cols) throw new Error("spans before the header");
    fill(cols, message);
    ids.push(message.spanId.join(""));
    events.push(message);
    loaded += message.count;
    post({ type: "progress", loaded, total: cols.parent.length });
  };
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += value;
    let newline = buffer.indexOf("\n");
    while (newline !== -1) {
      handle(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf("\n");
    }
  }
  handle(buffer);
  if (!header || !cols) throw new Error("the server sent no trace header");
  const h = header as Header;
  const c = cols as ReturnType<typeof allocate>;
  const fetchMs = performance.now() - t0;
  const arrivedAt = performance.timeOrigin + performance.now();
  const eventCount = events.reduce((sum, chunk) => sum + chunk.eventSpan.length, 0);
  const eventSpan = new Int32Array(eventCount);
  const eventTime = new Float64Array(eventCount);
  const eventName = new Int32Array(eventCount);
  const spanWarnings: [number, string][] = [];
  let e = 0;
  for (const chunk of events) {
    eventSpan.set(chunk.eventSpan, e);
    eventTime.set(chunk.eventTime, e);
    eventName.set(chunk.eventName, e);
    e += chunk.eventSpan.length;
    spanWarnings.push(...chunk.spanWarnings);
  }
  const t1 = performance.now();
  const layout = buildLayout(c.parent, c.start);
  const layoutMs = performance.now() - t1;
  const trace: TraceData = {
    traceId: h.traceId,
    summary: h.summary,
    strings: h.strings,
    warnings: h.warnings,
    n: c.parent.length,
    spanIds: ids.join(""),
    ...c,
    eventSpan,
    eventTime,
    eventName,
    spanWarnings,
    layout,
  };
  const transfer = [
    c.parent, c.start, c.duration, c.service, c.name, c.kind, c.status, c.links,
    eventSpan, eventTime, eventName,
    layout.order, layout.depth, layout.subtreeEnd, layout.position, layout.childCount,
  ].map((array) => array.buffer);
  post({ type: "ready", trace, timings: { fetchMs, layoutMs, arrivedAt } }, transfer);
}

function allocate(n: number) {
  return {
    parent: new Int32Array(n),
    start: new Float64Array(n),
    duration: new Float64Array(n),
    service: new Int32Array(n),
    name: new Int32Array(n),
    kind: new Uint8Array(n),
    status: new Uint8Array(n),
    links: new Int32Array(n),
  };
}

function fill(cols: ReturnType<typeof allocate>, chunk: SpansChunk): void {
  const at = chunk.offset;
  cols.parent.set(chunk.parent, at);
  cols.start.set(chunk.start, at);
  cols.duration.set(chunk.duration, at);
  cols.service.set(chunk.service, at);
  cols.name.set(chunk.name, at);
  cols.kind.set(chunk.kind, at);
  cols.status.set(chunk.status, at);
  cols.links.set(chunk.links, at);
}
