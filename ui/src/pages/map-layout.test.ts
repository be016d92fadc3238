import { describe, expect, it } from "vitest";
import { layers } from "./map-layout";

describe("service map layers", () => {
  it("puts a service one column right of its deepest caller and survives cycles", () => {
    const { columns, nodes } = layers([
      { parent: "web", child: "api", callCount: 5 },
      { parent: "api", child: "db", callCount: 7 },
      { parent: "web", child: "db", callCount: 1 },
      { parent: "db", child: "api", callCount: 1 },
    ]);
    expect(columns.flat().sort()).toEqual(["api", "db", "web"]);
    expect(columns[0]).toEqual(["web"]);
    expect(nodes.get("db")).toEqual({ name: "db", callsIn: 8, callsOut: 1 });
  });
});
