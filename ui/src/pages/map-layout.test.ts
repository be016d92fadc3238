import { describe, expect, it } from "vitest";
import { edgeSearch, labelSpot, labelledEdges, layers, nodeSearch } from "./map-layout";

describe("service map layers", () => {
  it("puts a service one column right of its nearest caller and survives cycles", () => {
    const { columns, nodes } = layers([
      { parent: "web", child: "api", callCount: 5 },
      { parent: "api", child: "db", callCount: 7 },
      { parent: "web", child: "db", callCount: 1 },
      { parent: "db", child: "api", callCount: 1 },
    ]);
    expect(columns).toEqual([["web"], ["api", "db"]]);
    expect(nodes.get("db")).toEqual({ name: "db", callsIn: 8, callsOut: 1 });
  });
  it("places a graph made only of a cycle", () => {
    const { columns } = layers([
      { parent: "a", child: "b", callCount: 1 },
      { parent: "b", child: "c", callCount: 1 },
      { parent: "c", child: "a", callCount: 5 },
    ]);
    expect(columns).toEqual([["c"], ["a"], ["b"]]);
  });
});

describe("service map searches", () => {
  const figures = { calls: 3, errors: 0, errorRate: 0, p95: 1e6 };
  const edges = [{ source: "orders", target: "postgresql", ...figures }];
  it("searches a service's own spans, and a peer through its callers' client spans", () => {
    expect(nodeSearch({ id: "orders", kind: "instrumented", ...figures }, edges, "1h")).toBe("/search?service=orders&lookback=1h");
    expect(nodeSearch({ id: "postgresql", kind: "database", ...figures }, edges, "15m")).toBe(
      "/search?service=orders&tag=db.system%3Dpostgresql&lookback=15m",
    );
  });
  it("searches an edge's calls where they are recorded", () => {
    expect(edgeSearch({ source: "web", target: "orders", ...figures }, "instrumented", "1h")).toBe("/search?service=orders&kind=server&lookback=1h");
    expect(edgeSearch({ source: "orders", target: "kafka", ...figures }, "queue", "1h")).toBe(
      "/search?service=orders&kind=producer&tag=messaging.system%3Dkafka&lookback=1h",
    );
  });
});

describe("labelled calls", () => {
  const edge = (source: string, target: string, calls: number, errors: number) => ({
    source,
    target,
    calls,
    errors,
    errorRate: errors / calls,
    p95: 1e6,
    estimated: false,
  });
  it("labels every call of a small map", () => {
    const edges = [edge("a", "b", 10, 0), edge("b", "c", 10, 1)];
    expect(labelledEdges(edges)).toEqual(new Set(["a→b", "b→c"]));
  });
  it("labels the calls with the most errors on a busy map", () => {
    const edges = Array.from({ length: 20 }, (_, i) => edge("a", `s${i}`, 100, i % 2 ? i : 0));
    const labelled = labelledEdges(edges, 3);
    expect(labelled).toEqual(new Set(["a→s19", "a→s17", "a→s15"]));
  });
});

describe("label spots", () => {
  // Columns 206 px wide, 140 px apart, boxes 52 px tall.
  const box = (column: number, row: number) => ({ x: 20 + column * 346, y: 30 + row * 78, width: 206, height: 52 });
  const hits = (spot: { x: number; y: number }, width: number, b: ReturnType<typeof box>) =>
    spot.x + width / 2 > b.x && spot.x - width / 2 < b.x + b.width && spot.y + 3 > b.y && spot.y - 10 < b.y + b.height;

  it("labels a call to the next column at its middle", () => {
    const from = box(0, 0);
    const to = box(1, 2);
    const spot = labelSpot(from.x + 206, from.y + 26, to.x - 2, to.y + 26, 100, [from, to]);
    expect(spot.x).toBeCloseTo((from.x + 206 + to.x - 2) / 2);
    expect(spot.y).toBeCloseTo((from.y + to.y + 52) / 2 - 5);
  });

  it("moves a label off the box between the columns a call spans", () => {
    // pricing (column 1, row 4) -> legacy-pricing (column 3, row 3), over loyalty (column 2, row 3).
    const from = box(1, 4);
    const over = box(2, 3);
    const to = box(3, 3);
    const boxes = [from, over, to, box(2, 4)];
    const width = 130;
    const middle = labelSpot(from.x + 206, from.y + 26, to.x - 2, to.y + 26, width, []);
    expect(hits(middle, width, over)).toBe(true); // where it was drawn
    const spot = labelSpot(from.x + 206, from.y + 26, to.x - 2, to.y + 26, width, boxes);
    for (const b of boxes) expect(hits(spot, width, b)).toBe(false);
  });
});
