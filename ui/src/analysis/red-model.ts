// RED (rate, errors, duration) for the services page: one series per service chosen from the
// API's per-kind rows, points laid on every step (a step with no call is a rate of 0 and no
// latency, not a gap in time), and the figures a card or a table row shows.
import type { RedPoint, RedSeries } from "./api";

const ENTRY_KINDS = ["server", "consumer"];

/** Per service, the series that describes what it serves: its server spans, else its
 * consumer spans, else its busiest kind (a job or a load generator has only client spans). */
export function serviceSeries(series: readonly RedSeries[]): RedSeries[] {
  const best = new Map<string, RedSeries>();
  const rank = (s: RedSeries) => {
    const entry = ENTRY_KINDS.indexOf(s.spanKind ?? "");
    return entry === -1 ? ENTRY_KINDS.length : entry;
  };
  for (const s of series) {
    const kept = best.get(s.service);
    if (!kept || rank(s) < rank(kept) || (rank(s) === rank(kept) && s.totals.calls > kept.totals.calls)) best.set(s.service, s);
  }
  return [...best.values()].sort((a, b) => b.totals.calls - a.totals.calls || a.service.localeCompare(b.service));
}

/** Worst first: the most failing, then the busiest. */
export function byAttention(series: readonly RedSeries[]): RedSeries[] {
  return [...series].sort(
    (a, b) =>
      Number(b.totals.errorRate > 0) - Number(a.totals.errorRate > 0) ||
      b.totals.errorRate - a.totals.errorRate ||
      b.totals.calls - a.totals.calls,
  );
}

export interface Step {
  time: number;
  point: RedPoint | null;
}

/** One entry per step from `start` (aligned to `step`) up to `end`. */
export function alignSteps(points: readonly RedPoint[], start: number, end: number, step: number): Step[] {
  const byTime = new Map(points.map((p) => [p.time, p]));
  const steps: Step[] = [];
  if (!(step > 0)) return steps;
  for (let time = start; time < end; time += step) steps.push({ time, point: byTime.get(time) ?? null });
  return steps;
}

export type Metric = "rate" | "errorRate" | "p50" | "p95" | "p99";

/** A metric's value at a step: no calls is a rate and error rate of 0, and no latency. */
export function valueAt(step: Step, metric: Metric): number | null {
  const p = step.point;
  if (metric === "rate" || metric === "errorRate") return p ? p[metric] : 0;
  return p ? p[metric] : null;
}

export function isEstimated(series: RedSeries, response: { estimated?: boolean }): boolean {
  return Boolean(response.estimated || series.estimated || series.totals.estimated);
}

export function formatRate(perSecond: number): string {
  if (perSecond === 0) return "0/s";
  if (perSecond >= 100) return `${Math.round(perSecond)}/s`;
  if (perSecond >= 1) return `${Number(perSecond.toFixed(1))}/s`;
  const perMinute = perSecond * 60;
  return perMinute >= 1 ? `${Number(perMinute.toFixed(1))}/min` : `${Number((perMinute * 60).toFixed(1))}/h`;
}

export function formatPercent(ratio: number): string {
  if (ratio === 0) return "0%";
  const percent = ratio * 100;
  if (percent < 0.1) return "<0.1%";
  return `${Number(percent.toFixed(percent < 10 ? 1 : 0))}%`;
}
