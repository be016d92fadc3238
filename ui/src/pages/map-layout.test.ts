import { describe, expect, it } from "vitest";
import { layers } from "./map-layout";

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
