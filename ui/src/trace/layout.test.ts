import { describe, expect, it } from "vitest";
import {
  ancestors,
  buildLayout,
  findSpanId,
  firstStartingAfter,
  flameLevels,
  levelMaxDuration,
  niceTicks,
  rowWindow,
  spanIdAt,
  TimeScale,
  visibleRows,
} from "./layout";

/** A trace as (parent, start) pairs; row i is span i. */
function layoutOf(spans: [number, number][]) {
  return buildLayout(Int32Array.from(spans.map((s) => s[0])), Float64Array.from(spans.map((s) => s[1])));
}

describe("buildLayout", () => {
  it("orders depth first with children by start time, whatever the row order", () => {
    // 0 root; children 1 (start 30) and 2 (start 10); 3 child of 2; 4 child of 1
    const layout = layoutOf([
      [-1, 0],
      [0, 30],
      [0, 10],
      [2, 12],
      [1, 31],
    ]);
    expect([...layout.order]).toEqual([0, 2, 3, 1, 4]);
    expect([...layout.depth]).toEqual([0, 1, 1, 2, 2]);
    expect([...layout.childCount]).toEqual([2, 1, 1, 0, 0]);
    // subtreeEnd is by display position: root covers all, span 2 covers itself and 3.
    expect([...layout.subtreeEnd]).toEqual([5, 3, 3, 5, 5]);
    expect([...layout.position]).toEqual([0, 3, 1, 2, 4]);
  });

  it("shows orphans and several roots at the top level, in start order", () => {
    const layout = layoutOf([
      [-1, 50],
      [-1, 5],
      [99, 20], // parent never arrived
    ]);
    expect([...layout.order]).toEqual([1, 2, 0]);
    expect([...layout.depth]).toEqual([0, 0, 0]);
  });

  it("keeps every span of a parent cycle (bad data) exactly once", () => {
    const layout = layoutOf([
      [1, 0],
      [0, 1],
      [-1, 2],
    ]);
    expect([...layout.order].sort()).toEqual([0, 1, 2]);
  });

  it("lays out a 200k-span deep chain without recursion", () => {
    const n = 200_000;
    const parent = Int32Array.from({ length: n }, (_, i) => i - 1);
    const layout = buildLayout(parent, Float64Array.from({ length: n }, (_, i) => i));
    expect(layout.depth[n - 1]).toBe(n - 1);
    expect(layout.subtreeEnd[0]).toBe(n);
  });
});

describe("visibleRows", () => {
  const layout = layoutOf([
    [-1, 0],
    [0, 1],
    [1, 2],
    [0, 3],
  ]);
  it("shows every span when nothing is collapsed", () => {
    expect([...visibleRows(layout, new Uint8Array(4))]).toEqual([0, 1, 2, 3]);
  });
  it("hides a collapsed span's subtree but not the span", () => {
    const collapsed = new Uint8Array(4);
    collapsed[1] = 1;
    expect([...visibleRows(layout, collapsed)]).toEqual([0, 1, 3]);
    collapsed[0] = 1;
    expect([...visibleRows(layout, collapsed)]).toEqual([0]);
  });
  it("walks up to the root", () => {
    expect(ancestors(Int32Array.from([-1, 0, 1, 0]), 2)).toEqual([2, 1, 0]);
  });
});

describe("rowWindow", () => {
  it("covers the viewport and no more", () => {
    expect(rowWindow(0, 100, 20, 1000)).toEqual([0, 5]);
    expect(rowWindow(30, 100, 20, 1000)).toEqual([1, 7]);
    expect(rowWindow(19_990, 100, 20, 1000)).toEqual([999, 1000]);
  });
  it("adds overscan within bounds", () => {
    expect(rowWindow(200, 100, 20, 12, 3)).toEqual([7, 12]);
  });
  it("draws a constant number of rows however big the trace", () => {
    const [a, b] = rowWindow(15_000_000, 800, 24, 1_000_000);
    expect(b - a).toBeLessThanOrEqual(35);
  });
});

describe("time scale and ticks", () => {
  it("maps a window onto pixels and back", () => {
    const scale = new TimeScale(1000, 3000, 100, 400);
    expect(scale.x(1000)).toBe(100);
    expect(scale.x(3000)).toBe(500);
    expect(scale.x(2000)).toBe(300);
    expect(scale.t(300)).toBe(2000);
  });
  it("picks round ticks inside the range", () => {
    expect(niceTicks(0, 1000, 5)).toEqual([0, 200, 400, 600, 800, 1000]);
    const ticks = niceTicks(1_234_567, 9_876_543, 4);
    expect(ticks.every((t) => t >= 1_234_567 && t <= 9_876_543)).toBe(true);
    expect(ticks.every((t) => t % 1_000_000 === 0)).toBe(true);
  });
});

describe("span ids", () => {
  const ids = "00000000000000a1" + "a100000000000000" + "00000000000000b2";
  it("finds an id only at its own boundary", () => {
    expect(findSpanId(ids, "a100000000000000")).toBe(1);
    expect(findSpanId(ids, "00000000000000B2")).toBe(2);
    expect(findSpanId(ids, "0000000000000a10")).toBe(-1);
    expect(spanIdAt(ids, 2)).toBe("00000000000000b2");
  });
});

describe("flameLevels", () => {
  it("groups spans by depth, each level in start order across parents", () => {
    // 0 root; 1 (start 30) and 2 (start 10) under it; 3 under 1 at 31, 4 under 2 at 40.
    const start = Float64Array.from([0, 30, 10, 31, 40]);
    const layout = layoutOf([
      [-1, 0],
      [0, 30],
      [0, 10],
      [1, 31],
      [2, 40],
    ]);
    const { levelStart, spans } = flameLevels(layout.depth, start);
    expect([...levelStart]).toEqual([0, 1, 3, 5]);
    expect([...spans]).toEqual([0, 2, 1, 3, 4]);
    // Level 2 is [3 (31), 4 (40)]: the first starting after 35 is at index 4.
    expect(firstStartingAfter(spans, 3, 5, start, 35)).toBe(4);
    expect(firstStartingAfter(spans, 3, 5, start, 100)).toBe(5);
    expect(firstStartingAfter(spans, 3, 5, start, -1)).toBe(3);
    const duration = Float64Array.from([100, 5, 20, 1, 7]);
    expect([...levelMaxDuration({ levelStart, spans }, duration)]).toEqual([100, 20, 7]);
  });

  it("keeps every span once on a 200k-span trace", () => {
    const n = 200_000;
    const parent = Int32Array.from({ length: n }, (_, i) => (i === 0 ? -1 : Math.floor((i - 1) / 8)));
    const start = Float64Array.from({ length: n }, (_, i) => (i * 7919) % n);
    const layout = buildLayout(parent, start);
    const { levelStart, spans } = flameLevels(layout.depth, start);
    expect(levelStart[levelStart.length - 1]).toBe(n);
    expect(new Set(spans).size).toBe(n);
    let unordered = 0;
    for (let d = 0; d + 1 < levelStart.length; d++)
      for (let i = levelStart[d] + 1; i < levelStart[d + 1]; i++) if (start[spans[i]] < start[spans[i - 1]]) unordered++;
    expect(unordered).toBe(0);
  });
});
