// Layered layout of a call graph: services in columns by call distance from the entry points.
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
  // Breadth-first from the services nobody calls: a service sits one column right of its
  // nearest caller, so cycles and dense call graphs stay compact.
  const callees = new Map<string, string[]>();
  for (const l of links) if (l.parent !== l.child) callees.set(l.parent, [...(callees.get(l.parent) ?? []), l.child]);
  const level = new Map<string, number>();
  const names = [...nodes.keys()].sort();
  let frontier = names.filter((name) => !callers.has(name));
  while (level.size < names.length) {
    if (!frontier.length) {
      // Only cycles left: start from the busiest caller among the unplaced.
      const rest = names.filter((name) => !level.has(name));
      rest.sort((a, b) => nodes.get(b)!.callsOut - nodes.get(a)!.callsOut || a.localeCompare(b));
      frontier = [rest[0]];
      level.set(rest[0], 0);
    } else for (const name of frontier) if (!level.has(name)) level.set(name, 0);
    while (frontier.length) {
      const next: string[] = [];
      for (const name of frontier) {
        for (const child of callees.get(name) ?? []) {
          if (!level.has(child)) {
            level.set(child, level.get(name)! + 1);
            next.push(child);
          }
        }
      }
      frontier = next;
    }
  }
  const columns: string[][] = [];
  for (const name of names) (columns[level.get(name)!] ??= []).push(name);
  return { columns: columns.filter(Boolean), nodes };
}
