import { describe, expect, it } from "vitest";
import type { LatencyBucket } from "./api";
import {
  bucketAt,
  countInBand,
  heatGrid,
  questionFromUrl,
  regionFromDrag,
  thresholdFromDrag,
  urlFromQuestion,
  whyParams,
  widen,
} from "./band";

const PER = 4;
const bucket = (b: number, count: number, errors = 0): LatencyBucket => ({
  bucket: b,
  lowNs: Math.round(2 ** (b / PER)),
  highNs: Math.round(2 ** ((b + 1) / PER)),
  count,
  errors,
});

describe("the question in the URL", () => {
  it("round-trips through the page URL", () => {
    const q = questionFromUrl(new URLSearchParams("service=gateway&operation=POST%20%2Forders&start=100&end=900&slowerThan=250000000"));
    expect(q).toMatchObject({ service: "gateway", operation: "POST /orders", startNs: 100, endNs: 900, mode: "slow", slowerThanNs: 250_000_000 });
    expect(questionFromUrl(new URL(urlFromQuestion(q), "http://x").searchParams)).toEqual(q);
  });

  it("keeps a band's two edges", () => {
    const q = questionFromUrl(new URLSearchParams("service=a&slowerThan=20000000&fasterThan=90000000"));
    expect(q).toMatchObject({ slowerThanNs: 20_000_000, fasterThanNs: 90_000_000 });
    expect(questionFromUrl(new URL(urlFromQuestion(q), "http://x").searchParams)).toEqual(q);
    expect(Object.fromEntries(whyParams(q))).toEqual({ service: "a", lookback: "1h", slowerThan: "20000us", fasterThan: "90000us" });
  });

  it("asks the API in its own syntax", () => {
    const slow = questionFromUrl(new URLSearchParams("service=a&slowerThan=250000000&lookback=30m"));
    expect(Object.fromEntries(whyParams(slow))).toEqual({ service: "a", lookback: "30m", slowerThan: "250000us" });
    const errors = questionFromUrl(new URLSearchParams("service=a&errors=1"));
    expect(whyParams(errors).get("errors")).toBe("true");
    expect(whyParams(errors).has("percentile")).toBe(false);
    expect(whyParams(questionFromUrl(new URLSearchParams("service=a&percentile=99"))).get("percentile")).toBe("99");
  });

  it("falls back to safe defaults on nonsense", () => {
    const q = questionFromUrl(new URLSearchParams("service=a&start=9&end=3&percentile=400&slowerThan=-5"));
    expect(q).toMatchObject({ startNs: null, endNs: null, lookback: "1h", percentile: 90, slowerThanNs: null });
  });
});

describe("the band on the histogram", () => {
  const span = { first: 100, last: 109 };
  it("maps a position to its bucket, clamped to the drawn range", () => {
    expect(bucketAt(0, span)).toBe(100);
    expect(bucketAt(0.55, span)).toBe(105);
    expect(bucketAt(1, span)).toBe(109);
    expect(bucketAt(-3, span)).toBe(100);
  });

  it("takes the lower end of a drag in either direction as the threshold", () => {
    const forward = thresholdFromDrag(0.31, 0.8, span, PER);
    expect(forward).toBe(Math.round(2 ** (103 / PER)));
    expect(thresholdFromDrag(0.8, 0.31, span, PER)).toBe(forward);
  });

  it("widens a narrow distribution around its data, never below bucket 0", () => {
    expect(widen({ first: 100, last: 101 }, 16)).toEqual({ first: 93, last: 108 });
    expect(widen({ first: 2, last: 3 }, 16)).toEqual({ first: 0, last: 15 });
    expect(widen(span, 4)).toBe(span);
  });

  it("counts the traces in the band, a cut bucket in part", () => {
    const buckets = [bucket(100, 50), bucket(104, 30), bucket(108, 20)];
    expect(countInBand(buckets, buckets[1].lowNs)).toEqual({ selected: 50, total: 100 });
    const halfway = Math.round(Math.sqrt(buckets[1].lowNs * buckets[1].highNs));
    expect(countInBand(buckets, halfway)).toEqual({ selected: 35, total: 100 });
  });

  it("counts a closed band: only the buckets between its edges", () => {
    const buckets = [bucket(100, 50), bucket(104, 30), bucket(108, 20)];
    expect(countInBand(buckets, buckets[0].lowNs, buckets[2].lowNs)).toEqual({ selected: 80, total: 100 });
    expect(countInBand(buckets, buckets[1].lowNs, buckets[1].highNs)).toEqual({ selected: 30, total: 100 });
  });
});

describe("the region on the heatmap", () => {
  const cells = [
    { step: 0, startNs: 0, ...bucket(100, 5) },
    { step: 3, startNs: 0, ...bucket(103, 7, 2) },
    { step: 3, startNs: 0, ...bucket(103, 1) },
  ];
  it("grids the cells by step and bucket", () => {
    const grid = heatGrid(cells, 4)!;
    expect(grid.span).toEqual({ first: 100, last: 103 });
    expect(grid.counts[3][3]).toBe(8);
    expect(grid.errors[3][3]).toBe(2);
    expect(grid.max).toBe(8);
  });

  it("turns a rectangle into whole time steps and the lower edge's bucket", () => {
    const grid = heatGrid(cells, 4)!;
    // x from 30% to 60% of 4 steps: steps 1 and 2; lower edge at 60% from the top of 4
    // buckets (103 at the top): bucket 101.
    const region = regionFromDrag(0.6, 0.3, 0.1, 0.6, grid, 1000, 10, PER);
    // Its top edge at 10% from the top: bucket 103, so the band ends where 104 starts.
    expect(region).toEqual({
      startNs: 1010,
      endNs: 1030,
      slowerThanNs: Math.round(2 ** (101 / PER)),
      fasterThanNs: Math.round(2 ** (104 / PER)),
    });
  });

  it("leaves the band open upwards when the rectangle reaches the top", () => {
    const grid = heatGrid(cells, 4)!;
    expect(regionFromDrag(0.3, 0.6, -0.2, 0.6, grid, 1000, 10, PER).fasterThanNs).toBeNull();
  });
});
