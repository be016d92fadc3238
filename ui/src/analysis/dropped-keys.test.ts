import { describe, expect, it } from "vitest";
import { droppedKeyNames } from "./dropped-keys";

describe("droppedKeyNames", () => {
  it("names each key once, the most widespread first", () => {
    const keys = [
      { key: "user.id", service: "auth" },
      { key: "order.id", service: "gateway" },
      { key: "user.id", service: "gateway" },
      { key: "user.id", service: "gateway" },
      { key: "order.id", service: "payment" },
      { key: "user.id", service: "payment" },
      { key: "card.last4", service: "payment" },
    ];
    expect(droppedKeyNames(keys)).toEqual({
      names: ["user.id (3 services)", "order.id (2 services)", "card.last4"],
      more: 0,
    });
  });

  it("counts the keys beyond those shown, not their places", () => {
    const keys = ["a", "b", "c", "d"].flatMap((key) => [
      { key, service: "s1" },
      { key, service: "s2" },
    ]);
    expect(droppedKeyNames(keys, 2)).toEqual({ names: ["a (2 services)", "b (2 services)"], more: 2 });
  });
});
