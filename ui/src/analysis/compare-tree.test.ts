import { describe, expect, it } from "vitest";
import type { PathDiff, PathStats } from "./api";
import { buildCompareTree, classify, initiallyCollapsed, visibleCompareRows } from "./compare-tree";

const stats = (count: number, durationMs: number): PathStats => ({ count, durationNs: durationMs * 1e6, selfNs: 0, errors: 0 });

function diff(names: string[], a: PathStats, b: PathStats): PathDiff {
  const path = names.map((n) => {
    const [service, spanName] = n.split(":");
    return { service, spanName };
  });
  const status = !b.count ? "only-a" : !a.count ? "only-b" : a.count !== b.count ? "count" : "same";
  return {
    path,
    depth: path.length - 1,
    service: path.at(-1)!.service,
    spanName: path.at(-1)!.spanName,
    status,
    a,
    b,
    deltaNs: a.durationNs - b.durationNs,
    selfDeltaNs: 0,
  };
}

const ROOT = "gw:GET /";
const PATHS = [
  diff([ROOT], stats(1, 300), stats(1, 100)),
  diff([ROOT, "pay:charge"], stats(1, 250), stats(1, 50)),
  diff([ROOT, "pay:charge", "db:SELECT"], stats(3, 30), stats(1, 10)),
  diff([ROOT, "cache:get"], stats(1, 1), stats(1, 1)),
  diff([ROOT, "cache:get", "cache:hit"], stats(1, 0.5), stats(1, 0.5)),
  diff([ROOT, "fraud:check"], stats(0, 0), stats(1, 20)),
];

describe("buildCompareTree", () => {
  it("aligns every path once, depth first, with parents before children", () => {
    const rows = buildCompareTree(PATHS);
    expect(rows.map((r) => `${r.depth}${r.diff.spanName}`)).toEqual([
      "0GET /",
      "1charge",
      "2SELECT",
      "1get",
      "2hit",
      "1check",
    ]);
    expect(rows[0].hasChildren).toBe(true);
    expect(rows[2].parentKey).toBe(rows[1].key);
  });

  it("rolls changes up so unchanged subtrees can be hidden", () => {
    const rows = buildCompareTree(PATHS);
    const changed = Object.fromEntries(rows.map((r) => [r.diff.spanName, r.subtreeChanged]));
    expect(changed).toEqual({ "GET /": true, charge: true, SELECT: true, get: false, hit: false, check: true });
  });

  it("keeps a path whose parent is absent as a root (several roots)", () => {
    const rows = buildCompareTree([diff(["a:x", "b:y"], stats(1, 1), stats(1, 1)), diff(["c:z"], stats(1, 1), stats(0, 0))]);
    expect(rows.map((r) => [r.depth, r.parentKey])).toEqual([
      [0, null],
      [0, null],
    ]);
  });

  it("is the same tree whatever order the paths come in", () => {
    const shuffled = [PATHS[5], PATHS[2], PATHS[0], PATHS[4], PATHS[1], PATHS[3]];
    expect(buildCompareTree(shuffled).map((r) => r.diff.spanName).sort()).toEqual(
      buildCompareTree(PATHS).map((r) => r.diff.spanName).sort(),
    );
    // Children stay under their own parent.
    const rows = buildCompareTree(shuffled);
    const at = (name: string) => rows.findIndex((r) => r.diff.spanName === name);
    expect(at("SELECT")).toBe(at("charge") + 1);
    expect(at("hit")).toBe(at("get") + 1);
  });
});

describe("classify", () => {
  it("says slower and faster in words with the size of the change", () => {
    expect(classify(PATHS[1])).toEqual({ kind: "slower", text: "200ms slower (+400%)" });
    expect(classify(diff(["a:x"], stats(1, 50), stats(1, 100)))).toEqual({ kind: "faster", text: "50ms faster (−50%)" });
    expect(classify(PATHS[2]).text).toBe("20ms slower (+200%) · 3× vs 1×");
    expect(classify(diff(["a:x"], stats(2, 380), stats(1, 20))).text).toBe("360ms slower (19× as long) · 2× vs 1×");
  });

  it("calls small differences the same", () => {
    expect(classify(diff(["a:x"], stats(1, 100), stats(1, 95))).kind).toBe("same");
    expect(classify(diff(["a:x"], stats(1, 0.05), stats(1, 0.01))).kind).toBe("same");
  });

  it("marks spans found on one side only", () => {
    expect(classify(PATHS[5])).toEqual({ kind: "only-b", text: "only in B (1 span)" });
    expect(classify(diff(["a:x"], stats(2, 1), stats(0, 0)))).toEqual({ kind: "only-a", text: "only in A (2 spans)" });
  });
});

describe("visibleCompareRows", () => {
  const rows = buildCompareTree(PATHS);
  it("hides what is under a collapsed row, and only that", () => {
    const shown = visibleCompareRows(rows, new Set([rows[1].key]), false);
    expect(shown.map((r) => r.diff.spanName)).toEqual(["GET /", "charge", "get", "hit", "check"]);
  });

  it("keeps only the ways to a change", () => {
    const shown = visibleCompareRows(rows, new Set(), true);
    expect(shown.map((r) => r.diff.spanName)).toEqual(["GET /", "charge", "SELECT", "check"]);
  });

  it("collapses unchanged subtrees of big trees at first", () => {
    expect(initiallyCollapsed(rows).size).toBe(0);
    expect([...initiallyCollapsed(rows, 3)]).toEqual([rows[3].key]);
  });
});
