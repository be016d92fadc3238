// Compare two traces as one tree: the API's paths (service: span name from the root, the union
// of both traces) aligned row by row, each side's figures beside each other, what changed
// classified once so the page only draws it.
import type { PathDiff } from "./api";
import { formatDuration } from "../format";

export type ChangeKind = "only-a" | "only-b" | "slower" | "faster" | "same";

export interface Change {
  kind: ChangeKind;
  /** Says it in words, so the colour is never the only signal. */
  text: string;
}

export interface CompareRow {
  key: string;
  parentKey: string | null;
  depth: number;
  diff: PathDiff;
  hasChildren: boolean;
  change: Change;
  /** This row or a row below it changed: kept by "only differences". */
  subtreeChanged: boolean;
}

/** A duration change counts when it is at least this share of the longer side... */
const RELATIVE = 0.1;
/** ...and at least this long (below it, timer noise). */
const ABSOLUTE_NS = 100_000;

export function pathKey(path: PathDiff["path"]): string {
  return JSON.stringify(path.map((step) => [step.service, step.spanName]));
}

/** `bName` names the other side in the words ("B", or "typical" against a typical trace). */
export function classify(diff: PathDiff, bName = "B"): Change {
  if (diff.status === "only-a") return { kind: "only-a", text: `only in A (${countText(diff.a.count)})` };
  if (diff.status === "only-b") return { kind: "only-b", text: `only in ${bName} (${countText(diff.b.count)})` };
  const delta = diff.deltaNs;
  const longer = Math.max(diff.a.durationNs, diff.b.durationNs);
  const counts = diff.status === "count" ? ` · ${diff.a.count}× vs ${diff.b.count}×` : "";
  if (Math.abs(delta) < ABSOLUTE_NS || Math.abs(delta) < RELATIVE * longer) {
    return { kind: "same", text: `about the same${counts}` };
  }
  const ratio = diff.b.durationNs > 0 ? Math.abs(delta) / diff.b.durationNs : null;
  const percent = ratio === null ? "" : delta > 0 && ratio >= 10 ? ` (${Math.round(1 + ratio)}× as long)` : ` (${delta > 0 ? "+" : "−"}${Math.round(ratio * 100)}%)`;
  return delta > 0
    ? { kind: "slower", text: `${formatDuration(delta)} slower${percent}${counts}` }
    : { kind: "faster", text: `${formatDuration(-delta)} faster${percent}${counts}` };
}

function countText(count: number): string {
  return count === 1 ? "1 span" : `${count} spans`;
}

/** The rows in depth-first order, children in the API's order; a path whose parent path is
 * missing (a trace with several roots) becomes a root itself. */
export function buildCompareTree(paths: PathDiff[], bName = "B"): CompareRow[] {
  const byKey = new Map<string, PathDiff>();
  for (const diff of paths) byKey.set(pathKey(diff.path), diff);
  const children = new Map<string | null, string[]>();
  const parentOf = new Map<string, string | null>();
  for (const [key, diff] of byKey) {
    const parent = diff.path.length > 1 ? pathKey(diff.path.slice(0, -1)) : null;
    const attached = parent !== null && byKey.has(parent) ? parent : null;
    parentOf.set(key, attached);
    const list = children.get(attached) ?? [];
    list.push(key);
    children.set(attached, list);
  }
  const rows: CompareRow[] = [];
  const visit = (key: string, depth: number): boolean => {
    const diff = byKey.get(key)!;
    const change = classify(diff, bName);
    const row: CompareRow = {
      key,
      parentKey: parentOf.get(key) ?? null,
      depth,
      diff,
      hasChildren: (children.get(key)?.length ?? 0) > 0,
      change,
      subtreeChanged: false,
    };
    rows.push(row);
    let changed = change.kind !== "same" || diff.status === "count";
    for (const child of children.get(key) ?? []) changed = visit(child, depth + 1) || changed;
    row.subtreeChanged = changed;
    return changed;
  };
  for (const root of children.get(null) ?? []) visit(root, 0);
  return rows;
}

/** The rows to draw: none under a collapsed row; with `onlyChanges`, only rows on the way
 * to a change. */
export function visibleCompareRows(rows: CompareRow[], collapsed: ReadonlySet<string>, onlyChanges: boolean): CompareRow[] {
  const shown: CompareRow[] = [];
  let skipBelow = Infinity; // depth of a collapsed or hidden row whose subtree is skipped
  for (const row of rows) {
    if (row.depth > skipBelow) continue;
    skipBelow = Infinity;
    if (onlyChanges && !row.subtreeChanged) {
      skipBelow = row.depth;
      continue;
    }
    shown.push(row);
    if (collapsed.has(row.key)) skipBelow = row.depth;
  }
  return shown;
}

/** Rows collapsed at first on a big tree: unchanged subtrees below the first levels. */
export function initiallyCollapsed(rows: CompareRow[], maxRows = 200): Set<string> {
  const collapsed = new Set<string>();
  if (rows.length <= maxRows) return collapsed;
  for (const row of rows) if (row.hasChildren && !row.subtreeChanged && row.depth >= 1) collapsed.add(row.key);
  return collapsed;
}
