// A trace as the UI holds it: parallel typed arrays (one entry per span), built by the loader
// worker from the native API's columnar chunks.
import type { Layout } from "./layout";

export interface ServiceCount {
  name: string;
  spans: number;
  errors: number;
}

export interface Summary {
  spanCount: number;
  storedSpanCount: number;
  startNs: number;
  durationNs: number;
  depth: number;
  maxFanOut: number;
  errorCount: number;
  rootCount: number;
  root: { spanId: string; service: string; name: string } | null;
  services: ServiceCount[];
}

export interface Header {
  type: "header";
  traceId: string;
  summary: Summary;
  strings: string[];
  chunkSize: number;
  warnings: string[];
}

export interface SpansChunk {
  type: "spans";
  offset: number;
  count: number;
  spanId: string[];
  parent: number[];
  start: number[];
  duration: number[];
  service: number[];
  name: number[];
  kind: number[];
  status: number[];
  links: number[];
  eventSpan: number[];
  eventTime: number[];
  eventName: number[];
  spanWarnings: [number, string][];
}

export interface TraceColumns {
  n: number;
  spanIds: string; // 16 hex characters per span, concatenated
  parent: Int32Array;
  start: Float64Array; // ns after summary.startNs
  duration: Float64Array;
  service: Int32Array; // index into strings
  name: Int32Array;
  kind: Uint8Array;
  status: Uint8Array; // 0 unset, 1 ok, 2 error
  links: Int32Array;
  eventSpan: Int32Array; // ascending: events of a span are adjacent
  eventTime: Float64Array;
  eventName: Int32Array;
  spanWarnings: [number, string][];
}

export interface TraceData extends TraceColumns {
  traceId: string;
  summary: Summary;
  strings: string[];
  warnings: string[];
  layout: Layout;
}

export const STATUS_ERROR = 2;
export const KIND_LABELS = ["", "internal", "server", "client", "producer", "consumer"];

/** Messages from the loader worker. */
export type LoaderMessage =
  | { type: "header"; header: Header }
  | { type: "progress"; loaded: number; total: number }
  | { type: "ready"; trace: TraceData; timings: { fetchMs: number; layoutMs: number; arrivedAt: number } }
  | { type: "error"; status: number; message: string };

/** First index in the ascending `eventSpan` whose span is >= `span`. */
export function firstEvent(eventSpan: Int32Array, span: number): number {
  let lo = 0;
  let hi = eventSpan.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (eventSpan[mid] < span) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
