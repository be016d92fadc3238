// The analysis APIs over many traces (`/api/x/why`, `latency`, `compare`, `doctor`, `red`):
// their JSON shapes (camelCase, times in ns) and one fetcher each. Errors are `{"error": ...}`.
import { getJson } from "../api";
import type { DoctorScope } from "./doctor-scope";

export interface Endpoint {
  service: string;
  operation: string | null;
  startNs: number;
  endNs: number;
}

// --- why -------------------------------------------------------------------------------------

export interface Side {
  count: number;
  share: number;
}

export interface Proportions {
  selected: Side;
  baseline: Side;
  difference: number;
  z: number;
}

export interface AttributeFinding extends Proportions {
  scope: "span" | "resource";
  key: string;
  operator: string;
  value: string;
  text: string;
  aliases: string[];
  sources: { service: string; spanName: string }[];
}

export interface OperationFinding extends Proportions {
  service: string;
  spanName: string;
}

export interface PathShare {
  service: string;
  name?: string;
  ns: number;
  uninstrumentedNs: number;
  share: number;
  traces: number;
  meanNs: number;
}

export interface PathAggregate {
  traces: number;
  totalNs: number;
  byService: PathShare[];
  byOperation: PathShare[];
}

export interface Why {
  endpoint: Endpoint;
  selection: { kind: "errors" | "percentile" | "slowerThan" | "band"; percentile: number | null; thresholdNs: number | null; upperNs: number | null };
  traces: { selected: number; baseline: number; sampledSelected: number; sampledBaseline: number };
  attributes: AttributeFinding[];
  rarerAttributes: AttributeFinding[];
  operations: OperationFinding[];
  missingOperations: OperationFinding[];
  time: {
    service: string;
    spanName: string;
    selectedSelfNs: number;
    baselineSelfNs: number;
    selectedNs: number;
    baselineNs: number;
    addedSelfNs: number;
    share: number;
  }[];
  criticalPath: {
    slowerThanNs: number | null;
    matchedTraces: number;
    selected: PathAggregate;
    baseline: PathAggregate;
    newestOnly: boolean; // the newest traces of the window were read, not all of them
  } | null;
  droppedKeys: { scope: string; service: string; spanName: string; key: string; distinctValues: number }[];
}

export function why(params: URLSearchParams, signal?: AbortSignal): Promise<Why> {
  return getJson<Why>(`/api/x/why?${params}`, signal);
}

// --- latency ---------------------------------------------------------------------------------

export interface LatencyBucket {
  bucket: number;
  lowNs: number;
  highNs: number;
  count: number;
  errors: number;
}

export interface HeatCell extends LatencyBucket {
  step: number;
  startNs: number;
}

export interface Latency {
  endpoint: Endpoint;
  count: number;
  errors: number;
  minNs: number | null;
  maxNs: number | null;
  percentilesNs: Record<string, number | null>;
  bucketsPerDoubling: number;
  startNs: number;
  stepNs: number;
  histogram: LatencyBucket[];
  heatmap: HeatCell[];
}

export function latency(params: URLSearchParams, signal?: AbortSignal): Promise<Latency> {
  return getJson<Latency>(`/api/x/latency?${params}`, signal);
}

// --- compare ---------------------------------------------------------------------------------

export interface TraceShape {
  traceId: string;
  durationNs: number;
  spans: number;
  errors: number;
  root: { service: string; spanName: string } | null;
}

export interface PathStats {
  count: number;
  durationNs: number;
  selfNs: number;
  errors: number;
}

export type PathStatus = "same" | "count" | "only-a" | "only-b";

export interface PathDiff {
  path: { service: string; spanName: string }[];
  depth: number;
  service: string;
  spanName: string;
  status: PathStatus;
  a: PathStats;
  b: PathStats;
  deltaNs: number;
  selfDeltaNs: number;
}

export interface Comparison {
  a: TraceShape;
  b: TraceShape;
  baseline: "trace" | "typical";
  deltaNs: number;
  identical: boolean;
  structural: PathDiff[];
  latency: PathDiff[];
  paths: PathDiff[];
}

export function compare(a: string, b: string | null, signal?: AbortSignal): Promise<Comparison> {
  const url = b ? `/api/x/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}` : `/api/x/compare/${encodeURIComponent(a)}`;
  return getJson<Comparison>(url, signal);
}

// --- doctor ----------------------------------------------------------------------------------

export type Severity = "high" | "medium" | "low" | "info";

export interface Finding {
  check: string;
  family: string;
  severity: Severity;
  title: string;
  detail: string;
  fix: string;
  count: number | null;
  total: number | null;
  unit: string | null;
  examples: { traceId: string; service: string; spanName: string }[];
}

export interface Diagnosis {
  startNs: number;
  endNs: number;
  findings: Finding[];
  scope: DoctorScope & { note: string };
}

export function doctor(lookback: string, signal?: AbortSignal): Promise<Diagnosis> {
  return getJson<Diagnosis>(`/api/x/doctor?lookback=${encodeURIComponent(lookback)}`, signal);
}

// --- RED -------------------------------------------------------------------------------------

export interface RedFigures {
  calls: number;
  errors: number;
  rate: number;
  errorRate: number;
  meanDuration: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** Set when sampled spans (adjusted count > 1) went into the counts: they are estimates. */
  estimated?: boolean;
}

export interface RedPoint extends RedFigures {
  time: number;
}

export interface RedSeries {
  service: string;
  operation: string | null;
  spanKind: string | null;
  totals: RedFigures;
  points: RedPoint[];
  estimated?: boolean;
}

export interface Red {
  start: number;
  end: number;
  step: number;
  resolution: number;
  series: RedSeries[];
  estimated?: boolean;
}

export function red(params: URLSearchParams, signal?: AbortSignal): Promise<Red> {
  return getJson<Red>(`/api/x/red?${params}`, signal);
}
