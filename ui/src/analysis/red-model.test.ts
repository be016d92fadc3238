import { describe, expect, it } from "vitest";
import type { RedFigures, RedPoint, RedSeries } from "./api";
import { alignSteps, byAttention, formatPercent, formatRate, isEstimated, serviceSeries, valueAt } from "./red-model";

const figures = (calls: number, errors = 0): RedFigures => ({
  calls,
  errors,
  rate: calls / 60,
  errorRate: calls ? errors / calls : 0,
  meanDuration: 1e6,
  p50: 1e6,
  p95: 2e6,
  p99: 3e6,
});
const series = (service: string, spanKind: string, calls: number, errors = 0): RedSeries => ({
  service,
  operation: null,
  spanKind,
  totals: figures(calls, errors),
  points: [],
});

describe("serviceSeries", () => {
  it("describes a service by its server spans, then consumer, then its busiest kind", () => {
    const picked = serviceSeries([
      series("gateway", "client", 900),
      series("gateway", "server", 300),
      series("worker", "internal", 50),
      series("worker", "consumer", 10),
      series("loadgen", "internal", 5),
      series("loadgen", "client", 400),
    ]);
    expect(picked.map((s) => [s.service, s.spanKind])).toEqual([
      ["loadgen", "client"],
      ["gateway", "server"],
      ["worker", "consumer"],
    ]);
  });

  it("puts failing services first, then the busiest", () => {
    const order = byAttention([series("a", "server", 100), series("b", "server", 10, 1), series("c", "server", 10, 5), series("d", "server", 500)]);
    expect(order.map((s) => s.service)).toEqual(["c", "b", "d", "a"]);
  });
});

describe("alignSteps", () => {
  const point = (time: number, calls: number): RedPoint => ({ time, ...figures(calls) });
  it("gives every step, a quiet one as zero calls and no latency", () => {
    const steps = alignSteps([point(0, 6), point(120, 12)], 0, 180, 60);
    expect(steps.map((s) => s.time)).toEqual([0, 60, 120]);
    expect(steps.map((s) => valueAt(s, "rate"))).toEqual([0.1, 0, 0.2]);
    expect(steps.map((s) => valueAt(s, "p95"))).toEqual([2e6, null, 2e6]);
  });

  it("is empty for a nonsense step", () => {
    expect(alignSteps([], 0, 100, 0)).toEqual([]);
  });
});

describe("formatting", () => {
  it("writes rates a person reads", () => {
    expect(formatRate(250.4)).toBe("250/s");
    expect(formatRate(2.345)).toBe("2.3/s");
    expect(formatRate(0.05)).toBe("3/min");
    expect(formatRate(0.0005)).toBe("1.8/h");
  });

  it("writes error ratios as percentages, a tiny one as such", () => {
    expect(formatPercent(0)).toBe("0%");
    expect(formatPercent(0.0004)).toBe("<0.1%");
    expect(formatPercent(0.0567)).toBe("5.7%");
    expect(formatPercent(0.5)).toBe("50%");
  });

  it("shows the estimated flag wherever the API sets it", () => {
    const s = series("a", "server", 1);
    expect(isEstimated(s, {})).toBe(false);
    expect(isEstimated(s, { estimated: true })).toBe(true);
    expect(isEstimated({ ...s, totals: { ...s.totals, estimated: true } }, {})).toBe(true);
  });
});
