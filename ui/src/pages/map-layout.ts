// Layered layout of a call graph: a service sits one column right of its deepest caller.
import type { DependencyLink } from "../api";

export interface MapNode {
  name: string;
  callsIn: number;
  callsOut: number;
}

export function layers(links: DependencyLink[]): { columns: string[][]; nodes: Map<string, MapNode> } {
  const nodes = new Map<string, MapNode>();
  const node = (name: string) => {
    let n = nodes.get(name);
    if (!n) nodes.set(name, (n = { name, callsIn: 0, callsOut: 0 }));
    return n;
  };
  const callers = new Map<string, string[]>();
  for (const l of links) {
    node(l.parent).callsOut += l.callCount;
    node(l.child).callsIn += l.callCount;
    if (l.parent !== l.child) callers.set(l.child, [...(callers.get(l.child) ?? []), l.parent]);
  }
  // Longest path from a caller-less service; a cycle is cut where it is first re-entered.
  const level = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (name: string): number => {
    const known = level.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) return 0;
    visiting.add(name);
    let d = 0;
    for (const c of callers.get(name) ?? []) d = Math.max(d, depthOf(c) + 1);
    visiting.delete(name);
    level.set(name, d);
    return d;
  };
  const columns: string[][] = [];
  for (const name of [...nodes.keys()].sort()) {
    const d = depthOf(name);
    (columns[d] ??= []).push(name);
  }
  return { columns: columns.filter(Boolean), nodes };
}
