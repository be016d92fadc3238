import { describe, expect, it } from "vitest";
import { scopeNote } from "./doctor-scope";

const scope = { spans: 21404, marginNs: 60e9, settleNs: 30e9, maxRows: 5000, attributeTraces: 1, truncated: [] };

describe("scopeNote", () => {
  it("says the figures, not the field names", () => {
    const note = scopeNote(scope);
    expect(note).toContain("attributes from every trace");
    expect(note).toContain("up to 1m outside it");
    expect(note).toContain("the last 30s");
    expect(note).toMatch(/keeps its 5[,.\u202f ]?000 largest groups/);
    expect(note).not.toMatch(/marginNs|settleNs|maxRows|attributeTraces/);
  });

  it("says how the attributes were sampled", () => {
    expect(scopeNote({ ...scope, attributeTraces: 10 })).toContain("about 1 in 10 traces");
  });
});
