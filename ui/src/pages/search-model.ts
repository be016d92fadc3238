// Search: the URL <-> form state, the native search query it becomes, and result rows.
import type { SearchTrace } from "../api";
import { toGoDuration } from "../format";

export const LOOKBACKS: [string, string][] = [
  ["5m", "Last 5 minutes"],
  ["15m", "Last 15 minutes"],
  ["1h", "Last hour"],
  ["6h", "Last 6 hours"],
  ["12h", "Last 12 hours"],
  ["24h", "Last 24 hours"],
  ["2d", "Last 2 days"],
  ["7d", "Last 7 days"],
  ["custom", "Custom range…"],
];

export interface SearchForm {
  service: string; // "" = every service
  operation: string;
  kind: string;
  tags: string; // span attributes: "key=value", one filter per line or space
  resourceTags: string; // resource attributes, same syntax
  minSpan: string;
  maxSpan: string;
  minTrace: string;
  maxTrace: string;
  lookback: string;
  from: string; // custom range, datetime-local text ("2026-12-03T14:05")
  to: string;
  errors: boolean;
  limit: string;
}

export const EMPTY_FORM: SearchForm = {
  service: "",
  operation: "",
  kind: "",
  tags: "",
  resourceTags: "",
  minSpan: "",
  maxSpan: "",
  minTrace: "",
  maxTrace: "",
  lookback: "1h",
  from: "",
  to: "",
  errors: false,
  limit: "50",
};

export function formFromUrl(params: URLSearchParams): SearchForm {
  return {
    service: params.get("service") ?? "",
    operation: params.get("operation") ?? "",
    kind: params.get("kind") ?? "",
    tags: params.getAll("tag").join("\n"),
    resourceTags: params.getAll("resourceTag").join("\n"),
    minSpan: params.get("minSpan") ?? "",
    maxSpan: params.get("maxSpan") ?? "",
    minTrace: params.get("minTrace") ?? "",
    maxTrace: params.get("maxTrace") ?? "",
    lookback: params.get("lookback") ?? "1h",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
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
  for (const [k, v] of parseTags(form.resourceTags)) p.append("resourceTag", `${k}=${v}`);
  set("minSpan", form.minSpan);
  set("maxSpan", form.maxSpan);
  set("minTrace", form.minTrace);
  set("maxTrace", form.maxTrace);
  set("lookback", form.lookback);
  if (form.lookback === "custom") {
    set("from", form.from);
    set("to", form.to);
  }
  if (form.errors) p.set("errors", "1");
  set("limit", form.limit);
  return `/search?${p}`;
}

/** Epoch ns of a datetime-local text (local time), null when empty or invalid. */
export function localTimeNs(text: string): number | null {
  if (!text) return null;
  const ms = new Date(text).getTime();
  return Number.isFinite(ms) ? ms * 1e6 : null;
}

/** The /api/x/search query for the form. Span attributes are matched on the span itself
 * (spanTag), resource attributes on its resource (resourceTag). */
export function searchQuery(form: SearchForm): URLSearchParams {
  const p = new URLSearchParams();
  if (form.service) p.set("service", form.service);
  if (form.operation) p.set("operation", form.operation);
  if (form.kind) p.set("kind", form.kind);
  for (const [k, v] of parseTags(form.tags)) p.append("spanTag", `${k}=${v}`);
  for (const [k, v] of parseTags(form.resourceTags)) p.append("resourceTag", `${k}=${v}`);
  if (form.errors) p.set("errors", "1");
  const durations: [string, string][] = [
    ["minDuration", form.minSpan],
    ["maxDuration", form.maxSpan],
    ["minTraceDuration", form.minTrace],
    ["maxTraceDuration", form.maxTrace],
  ];
  for (const [name, text] of durations) {
    const go = toGoDuration(text);
    if (go) p.set(name, go);
  }
  if (form.lookback === "custom") {
    const start = localTimeNs(form.from);
    const end = localTimeNs(form.to);
    if (start !== null) p.set("start", String(start));
    if (end !== null) p.set("end", String(end));
    if (start !== null && end === null) p.set("end", String(Date.now() * 1e6));
  } else p.set("lookback", form.lookback);
  p.set("limit", form.limit || "50");
  return p;
}

/** The span conditions of a search with its time window fixed, for a trace opened from the
 * results: the trace page asks which of its spans meet them. */
export function matchQuery(query: URLSearchParams, startNs: number, endNs: number): string {
  const p = new URLSearchParams(query);
  for (const name of ["lookback", "limit", "minTraceDuration", "maxTraceDuration"]) p.delete(name);
  p.set("start", String(startNs));
  p.set("end", String(endNs));
  return p.toString();
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
  matched: SearchTrace["matched"];
}

export function toRow(t: SearchTrace): TraceRow {
  return {
    traceId: t.traceId,
    rootService: t.root?.service ?? "(no root span)",
    rootName: t.root?.name ?? "",
    startMs: t.startNs / 1e6,
    durationNs: t.durationNs,
    spans: t.spanCount,
    errors: t.errorCount,
    services: t.services,
    matched: t.matched,
  };
}
