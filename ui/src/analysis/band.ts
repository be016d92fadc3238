// "Why": the page's URL <-> the question it asks, the API parameters it becomes, and the
// latency band chosen on the histogram or heatmap (pixels <-> log2 buckets <-> ns).
import type { HeatCell, LatencyBucket } from "./api";

export type WhyMode = "slow" | "errors";

export interface WhyQuestion {
  service: string;
  operation: string;
  /** A lookback (`1h`) or, when start/end are set, ignored. */
  lookback: string;
  startNs: number | null;
  endNs: number | null;
  mode: WhyMode;
  /** Slow: traces at least this long (and under `fasterThanNs` when set: a band); with
   * neither edge, the `percentile`. */
  slowerThanNs: number | null;
  fasterThanNs: number | null;
  percentile: number;
}

export const DEFAULT_PERCENTILE = 90;

export function questionFromUrl(params: URLSearchParams): WhyQuestion {
  const int = (name: string) => {
    const value = Number(params.get(name));
    return params.get(name) && Number.isFinite(value) && value >= 0 ? Math.round(value) : null;
  };
  const percentile = Number(params.get("percentile"));
  const startNs = int("start");
  const endNs = int("end");
  const window = startNs !== null && endNs !== null && startNs < endNs;
  return {
    service: params.get("service") ?? "",
    operation: params.get("operation") ?? "",
    lookback: params.get("lookback") || "1h",
    startNs: window ? startNs : null,
    endNs: window ? endNs : null,
    mode: params.get("errors") === "1" ? "errors" : "slow",
    slowerThanNs: int("slowerThan"),
    fasterThanNs: int("fasterThan"),
    percentile: percentile > 0 && percentile < 100 ? percentile : DEFAULT_PERCENTILE,
  };
}

/** The page's own URL: times in ns, so a shared link asks exactly the same question. */
export function urlFromQuestion(q: WhyQuestion): string {
  const p = windowParams(q);
  if (q.mode === "errors") p.set("errors", "1");
  else if (inBand(q)) {
    if (q.slowerThanNs !== null) p.set("slowerThan", String(q.slowerThanNs));
    if (q.fasterThanNs !== null) p.set("fasterThan", String(q.fasterThanNs));
  } else if (q.percentile !== DEFAULT_PERCENTILE) p.set("percentile", String(q.percentile));
  return `/why?${p}`;
}

/** Whether the question picks a band of durations (either edge) rather than a percentile. */
export function inBand(q: WhyQuestion): boolean {
  return q.slowerThanNs !== null || q.fasterThanNs !== null;
}

/** The endpoint and its window, as both the page and the APIs name them. */
function windowParams(q: WhyQuestion): URLSearchParams {
  const p = new URLSearchParams();
  p.set("service", q.service);
  if (q.operation) p.set("operation", q.operation);
  if (q.startNs !== null && q.endNs !== null) {
    p.set("start", String(q.startNs));
    p.set("end", String(q.endNs));
  } else p.set("lookback", q.lookback);
  return p;
}

/** `/api/x/why`'s parameters (durations in the Go syntax it reads). */
export function whyParams(q: WhyQuestion): URLSearchParams {
  const p = windowParams(q);
  if (q.mode === "errors") p.set("errors", "true");
  else if (inBand(q)) {
    const us = (ns: number) => `${Math.max(0, Math.round(ns / 1000))}us`;
    if (q.slowerThanNs !== null) p.set("slowerThan", us(q.slowerThanNs));
    if (q.fasterThanNs !== null) p.set("fasterThan", us(q.fasterThanNs));
  } else p.set("percentile", String(q.percentile));
  return p;
}

/** `/api/x/latency`'s parameters: the same endpoint and window. */
export function latencyParams(q: WhyQuestion, timeBuckets = 60): URLSearchParams {
  const p = windowParams(q);
  p.set("timeBuckets", String(timeBuckets));
  return p;
}

// --- the band on a log2 histogram -------------------------------------------------------------

/** The contiguous bucket range to draw (empty buckets inside it included). */
export function bucketSpan(buckets: readonly LatencyBucket[]): { first: number; last: number } | null {
  if (!buckets.length) return null;
  let first = Infinity;
  let last = -Infinity;
  for (const b of buckets) {
    first = Math.min(first, b.bucket);
    last = Math.max(last, b.bucket);
  }
  return { first, last };
}

/** At least `minBuckets` drawn, the data centred: a narrow distribution still reads as a
 * histogram, with room to place the band on either side of it. */
export function widen(span: { first: number; last: number }, minBuckets: number): { first: number; last: number } {
  const missing = minBuckets - (span.last - span.first + 1);
  if (missing <= 0) return span;
  const first = Math.max(0, span.first - Math.floor(missing / 2));
  return { first, last: first + minBuckets - 1 };
}

/** Lower bound in ns of bucket `bucket` (the API's `2^(bucket / perDoubling)`). */
export function bucketLowNs(bucket: number, perDoubling: number): number {
  return Math.round(2 ** (bucket / perDoubling));
}

/** The bucket under a fraction `at` (0..1) of the drawn width. */
export function bucketAt(at: number, span: { first: number; last: number }): number {
  const n = span.last - span.first + 1;
  return span.first + Math.min(n - 1, Math.max(0, Math.floor(at * n)));
}

/** A drag from `fromAt` to `toAt` (fractions of the width) selects the traces at least as
 * slow as the lower of the two buckets: a band open towards the slow end, as the why API
 * compares "slower than" with the rest. */
export function thresholdFromDrag(fromAt: number, toAt: number, span: { first: number; last: number }, perDoubling: number): number {
  return bucketLowNs(bucketAt(Math.min(fromAt, toAt), span), perDoubling);
}

/** How many traces of the histogram the band holds (buckets starting at or above the
 * threshold; the bucket holding a threshold that falls inside it counts in part). */
export function countInBand(
  buckets: readonly LatencyBucket[],
  thresholdNs: number,
  upperNs: number | null = null,
): { selected: number; total: number } {
  let selected = 0;
  let total = 0;
  for (const b of buckets) {
    total += b.count;
    // Log-uniform inside a bucket: the share of it inside [threshold, upper).
    const low = Math.max(b.lowNs, thresholdNs);
    const high = upperNs === null ? b.highNs : Math.min(b.highNs, upperNs);
    if (high <= low) continue;
    const share = Math.log(high / low) / Math.log(b.highNs / b.lowNs);
    selected += Math.round(b.count * share);
  }
  return { selected, total };
}

// --- the heatmap: time x latency ---------------------------------------------------------------

export interface HeatGrid {
  steps: number;
  span: { first: number; last: number };
  /** counts[step][bucket - first] and errors alike. */
  counts: number[][];
  errors: number[][];
  max: number;
}

export function heatGrid(cells: readonly HeatCell[], steps: number, minBuckets = 0): HeatGrid | null {
  const found = bucketSpan(cells);
  if (!found) return null;
  const span = widen(found, minBuckets);
  const height = span.last - span.first + 1;
  const counts = Array.from({ length: steps }, () => new Array<number>(height).fill(0));
  const errors = Array.from({ length: steps }, () => new Array<number>(height).fill(0));
  let max = 0;
  for (const c of cells) {
    if (c.step < 0 || c.step >= steps) continue;
    counts[c.step][c.bucket - span.first] += c.count;
    errors[c.step][c.bucket - span.first] += c.errors;
    max = Math.max(max, counts[c.step][c.bucket - span.first]);
  }
  return { steps, span, counts, errors, max };
}

/** A rectangle dragged on the heatmap (fractions: x of the width, y from the top) as a time
 * window (whole steps) and a threshold (the lower edge's bucket). */
export function regionFromDrag(
  x0: number,
  x1: number,
  yTop: number,
  yBottom: number,
  grid: { steps: number; span: { first: number; last: number } },
  startNs: number,
  stepNs: number,
  perDoubling: number,
): { startNs: number; endNs: number; slowerThanNs: number; fasterThanNs: number | null } {
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  const [a, b] = [clamp(Math.min(x0, x1)), clamp(Math.max(x0, x1))];
  const firstStep = Math.min(grid.steps - 1, Math.floor(a * grid.steps));
  const lastStep = Math.max(firstStep, Math.min(grid.steps - 1, Math.ceil(b * grid.steps) - 1));
  // y grows downwards while latency grows upwards: the lower edge is the larger y.
  const bottom = clamp(Math.max(yTop, yBottom));
  const top = clamp(Math.min(yTop, yBottom));
  const bucket = bucketAt(1 - bottom, grid.span);
  // A rectangle reaching the top of the chart means "and anything slower": no upper edge.
  const upper = top <= 0 ? null : bucketLowNs(Math.max(bucket, bucketAt(1 - top, grid.span)) + 1, perDoubling);
  return {
    startNs: startNs + firstStep * stepNs,
    endNs: startNs + (lastStep + 1) * stepNs,
    slowerThanNs: bucketLowNs(bucket, perDoubling),
    fasterThanNs: upper,
  };
}
