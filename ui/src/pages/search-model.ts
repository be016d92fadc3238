// Search: the URL <-> form state, the Jaeger query it becomes, and trace summaries.
import type { JaegerTrace } from "../api";
import { parseDuration, toGoDuration } from "../format";

export const LOOKBACKS: [string, string][] = [
  ["5m", "Last 5 minutes"],
  ["15m", "Last 15 minutes"],
  ["1h", "Last hour"],
  ["6h", "Last 6 hours"],
  ["12h", "Last 12 hours"],
  ["24h", "Last 24 hours"],
  ["2d", "Last 2 days"],
  ["7d", "Last 7 days"],
];

export interface SearchForm {
  service: string;
  operation: string;
  kind: string;
  tags: string; // "key=value key2=value2", one filter per line or space
  minSpan: string;
  maxSpan: string;
  minTrace: string;
  maxTrace: string;
  lookback: string;
  errors: boolean;
  limit: string;
}

export const EMPTY_FORM: SearchForm = {
  service: "",
  operation: "",
  kind: "",
  tags: "",
  minSpan: "",
  maxSpan: "",
  minTrace: "",
  maxTrace: "",
  lookback: "1h",
  errors: false,
  limit: "50",
};

export function formFromUrl(params: URLSearchParams): SearchForm {
  return {
    service: params.get("service") ?? "",
    operation: params.get("operation") ?? "",
    kind: params.get("kind") ?? "",
    tags: params.getAll("tag").join("\n"),
    minSpan: params.get("minSpan") ?? "",
    maxSpan: params.get("maxSpan") ?? "",
    minTrace: params.get("minTrace") ?? "",
    maxTrace: params.get("maxTrace") ?? "",
    lookback: params.get("lookback") ?? "1h",
    errors: params.get("errors") === "1",
    limit: params.get("limit") ?? "50",
  };
}

export function parseTags(text: string): [string, string][] {
  return text
    .split(/\n|\s(?=[^\s=]+=)/)
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => {
      const at = t.indexOf("=");
      return at > 0 ? ([t.slice(0, at).trim(), t.slice(at + 1).trim()] as [string, string]) : ([t, ""] as [string, string]);
    });
}

export function urlFromForm(form: SearchForm): string {
  const p = new URLSearchParams();
  const set = (key: string, value: string) => value && p.set(key, value);
  set("service", form.service);
  set("operation", form.operation);
  set("kind", form.kind);
  for (const [k, v] of parseTags(form.tags)) p.append("tag", `${k}=${v}`);
  set("minSpan", form.minSpan);
  set("maxSpan", form.maxSpan);
  set("minTrace", form.minTrace);
  set("maxTrace", form.maxTrace);
  set("lookback", form.lookback);
  if (form.errors) p.set("errors", "1");
  set("limit", form.limit);
  return `/search?${p}`;
}

/** The Jaeger /api/traces query for the form (the trace-duration and kind filters apply to
 * the traces it returns). */
export function jaegerQuery(form: SearchForm): URLSearchParams {
  const p = new URLSearchParams();
  p.set("service", form.service);
  if (form.operation) p.set("operation", form.operation);
  for (const [k, v] of parseTags(form.tags)) p.append("tag", `${k}:${v}`);
  if (form.errors) p.append("tag", "error:true");
  const min = toGoDuration(form.minSpan);
  const max = toGoDuration(form.maxSpan);
  if (min) p.set("minDuration", min);
  if (max) p.set("maxDuration", max);
  p.set("lookback", form.lookback);
  p.set("limit", form.limit || "50");
  return p;
}

export interface TraceRow {
  traceId: string;
  rootService: string;
  rootName: string;
  startMs: number;
  durationNs: number;
  spans: number;
  errors: number;
  services: { name: string; spans: number }[];
  hasKind: boolean;
}

/** One line of the result list per Jaeger trace. */
export function summarize(trace: JaegerTrace, form: SearchForm): TraceRow {
  const ids = new Set(trace.spans.map((s) => s.spanID));
  let root = trace.spans[0];
  let rootFound = false;
  let start = Infinity;
  let end = -Infinity;
  let errors = 0;
  let hasKind = !form.kind;
  const counts = new Map<string, number>();
  for (const span of trace.spans) {
    const service = trace.processes[span.processID]?.serviceName ?? "?";
    counts.set(service, (counts.get(service) ?? 0) + 1);
    start = Math.min(start, span.startTime);
    end = Math.max(end, span.startTime + span.duration);
    let kind = "";
    for (const tag of span.tags) {
      if (tag.key === "error" && tag.value === true) errors++;
      if (tag.key === "span.kind") kind = String(tag.value);
    }
    if (!hasKind && kind === form.kind && service === form.service && (!form.operation || span.operationName === form.operation)) {
      hasKind = true;
    }
    const isRoot = !span.references.some((r) => r.refType === "CHILD_OF" && ids.has(r.spanID));
    if (isRoot && (!rootFound || span.startTime < root.startTime)) {
      root = span;
      rootFound = true;
    }
  }
  return {
    traceId: trace.traceID,
    rootService: trace.processes[root?.processID]?.serviceName ?? "?",
    rootName: root?.operationName ?? "?",
    startMs: start / 1000,
    durationNs: (end - start) * 1000,
    spans: trace.spans.length,
    errors,
    services: [...counts].map(([name, spans]) => ({ name, spans })).sort((a, b) => b.spans - a.spans || a.name.localeCompare(b.name)),
    hasKind,
  };
}

/** Rows that pass the filters the Jaeger API does not know: trace duration and span kind. */
export function keep(rows: TraceRow[], form: SearchForm): TraceRow[] {
  const min = parseDuration(form.minTrace);
  const max = parseDuration(form.maxTrace);
  return rows.filter(
    (r) => r.hasKind && (min === null || r.durationNs >= min) && (max === null || r.durationNs <= max),
  );
}
