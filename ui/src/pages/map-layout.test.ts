import { describe, expect, it } from "vitest";
import { edgeSearch, labelledEdges, layers, nodeSearch } from "./map-layout";

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
