// The HTTP APIs the UI reads: Jaeger's query API for search, the native API for traces.

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { signal, headers: { Accept: "application/json" } });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "breadcrumbs is not answering: is `breadcrumbs serve` running?");
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* a non-JSON error page */
  }
  if (!response.ok) throw new ApiError(response.status, errorText(body) ?? `${response.status} ${response.statusText}`);
  return body as T;
}

function errorText(body: unknown): string | null {
  if (!body || typeof body !== "object") return null;
  const b = body as { errors?: { msg: string }[]; error?: string | { message: string } };
  if (b.errors?.length) return b.errors.map((e) => e.msg).join("; ");
  if (typeof b.error === "string") return b.error;
  if (b.error && typeof b.error === "object") return b.error.message;
  return null;
}

interface Envelope<T> {
  data: T;
  errors: { msg: string }[] | null;
}

export async function services(signal?: AbortSignal): Promise<string[]> {
  return (await getJson<Envelope<string[]>>("/api/services", signal)).data ?? [];
}

export interface Operation {
  name: string;
  spanKind: string;
}

export async function operations(service: string, signal?: AbortSignal): Promise<Operation[]> {
  const url = `/api/operations?service=${encodeURIComponent(service)}`;
  return (await getJson<Envelope<Operation[]>>(url, signal)).data ?? [];
}

export interface JaegerTag {
  key: string;
  type: string;
  value: string | number | boolean;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  startTime: number; // µs
  duration: number; // µs
  tags: JaegerTag[];
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

export async function searchTraces(params: URLSearchParams, signal?: AbortSignal): Promise<JaegerTrace[]> {
  return (await getJson<Envelope<JaegerTrace[]>>(`/api/traces?${params}`, signal)).data ?? [];
}

export interface DependencyLink {
  parent: string;
  child: string;
  callCount: number;
}

export async function dependencies(lookbackMs: number, signal?: AbortSignal): Promise<DependencyLink[]> {
  const url = `/api/dependencies?endTs=${Date.now()}&lookback=${lookbackMs}`;
  return (await getJson<Envelope<DependencyLink[]>>(url, signal)).data ?? [];
}

export interface TypedValue {
  key: string;
  type: string;
  value: string | number | boolean;
}

export interface SpanDetail {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  service: string;
  kind: string;
  startNs: number;
  durationNs: number;
  status: { code: string; message: string };
  traceState: string;
  scope: { name: string; version: string };
  attributes: TypedValue[];
  resource: TypedValue[];
  events: { timeNs: number; name: string; attributes: TypedValue[] }[];
  links: { traceId: string; spanId: string; attributes: TypedValue[] }[];
  linkedFrom: { traceId: string; spanId: string }[];
  warnings: string[];
}

export async function spanDetail(traceId: string, spanId: string, signal?: AbortSignal): Promise<SpanDetail> {
  return getJson<SpanDetail>(`/api/x/traces/${traceId}/spans/${spanId}`, signal);
}

// The analysis contract (CONTRACT-explain.md). Absent (404/501) on servers without it.
export interface Explain {
  traceId: string;
  criticalPath: {
    totalNs: number;
    segments: { spanId: string | null; service: string; name: string; startNs: number; endNs: number; uninstrumented: boolean }[];
    byService: { service: string; ns: number; share: number }[];
  };
  errors: {
    origins: { spanId: string; service: string; name: string; exceptionType: string | null; message: string | null; frame: string | null; stacktrace: string | null; chain: string[] }[];
  };
  skew: { spanId: string; parentSpanId: string; issue: "starts-before-parent" | "ends-after-parent"; byNs: number }[];
  warnings: string[];
}

export async function explain(traceId: string, signal?: AbortSignal): Promise<Explain | null> {
  try {
    return await getJson<Explain>(`/api/x/traces/${traceId}/explain`, signal);
  } catch (error) {
    // Analysis is an extra: without it the waterfall still works, only the highlights go.
    if (error instanceof ApiError) return null;
    throw error;
  }
}

// Native search (/api/x/search): every service at once, kind, span/resource attributes,
// and both durations (the matching span's and the whole trace's).
export interface SearchTrace {
  traceId: string;
  root: { spanId: string; service: string; name: string } | null;
  startNs: number;
  durationNs: number;
  spanCount: number;
  errorCount: number;
  services: { name: string; spans: number; errors: number }[];
  matched: { count: number; spanId?: string; service?: string; name?: string; durationNs?: number };
}

export interface SearchResult {
  traces: SearchTrace[];
  limit: number;
  startNs: number;
  endNs: number;
}

export async function search(params: URLSearchParams, signal?: AbortSignal): Promise<SearchResult> {
  return getJson<SearchResult>(`/api/x/search?${params}`, signal);
}

/** The spans of a trace that meet a search's span conditions. */
export async function matches(traceId: string, params: URLSearchParams, signal?: AbortSignal): Promise<string[]> {
  return (await getJson<{ spanIds: string[] }>(`/api/x/traces/${traceId}/matches?${params}`, signal)).spanIds;
}

export interface GraphFigures {
  calls: number;
  errors: number;
  errorRate: number;
  p95: number | null;
}

export interface GraphNode extends GraphFigures {
  id: string;
  /** "instrumented", or how an uninstrumented peer was named: "peer", "database", "queue". */
  kind: string;
}

export interface GraphEdge extends GraphFigures {
  source: string;
  target: string;
}

export interface ServiceGraph {
  start: number;
  end: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export async function serviceGraph(startNs: number, endNs: number, signal?: AbortSignal): Promise<ServiceGraph> {
  return getJson<ServiceGraph>(`/api/x/service-graph?start=${startNs}&end=${endNs}`, signal);
}

/** The ports this server listens on, by role ("otlp-http", "otlp-grpc", "zipkin", ...). */
export async function endpoints(signal?: AbortSignal): Promise<Record<string, number>> {
  return (await getJson<{ ports: Record<string, number> }>("/api/x/endpoints", signal)).ports;
}
