// Layered layout of a call graph: services in columns by call distance from the entry points.
import type { DependencyLink, GraphEdge, GraphFigures, GraphNode } from "../api";
import { formatDuration } from "../format";

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

/** The calls a map labels without a hover: all of a small map's; on a busy one, the `limit`
 * calls with the most errors (labelling every failing call covered a busy map in text when
 * most calls fail now and then). Keys are "source→target". */
export function labelledEdges(edges: GraphEdge[], limit = 8, smallMap = 12): Set<string> {
  const key = (e: GraphEdge) => `${e.source}→${e.target}`;
  if (edges.length <= smallMap) return new Set(edges.map(key));
  const failing = edges.filter((e) => e.errors > 0).sort((a, b) => b.errors - a.errors || b.errorRate - a.errorRate);
  return new Set(failing.slice(0, limit).map(key));
}

/** "1,204 calls, 2.1% errors, p95 120ms" for a tooltip. */
export function figuresText(f: GraphFigures): string {
  const parts = [`${f.calls.toLocaleString("en-US")} calls`, `${(f.errorRate * 100).toFixed(1)}% errors`];
  if (f.p95) parts.push(`p95 ${formatDuration(f.p95)}`);
  return parts.join(", ");
}

// The attribute that named an uninstrumented peer, by how the service graph calls it.
const PEER_ATTRIBUTE: Record<string, string> = { peer: "peer.service", database: "db.system", queue: "messaging.system" };

/** The search for a service's traces: its own spans; for a peer, its callers' client spans
 * that name it. */
export function nodeSearch(node: GraphNode, edges: GraphEdge[], lookback: string): string {
  const p = new URLSearchParams();
  const attribute = PEER_ATTRIBUTE[node.kind];
  if (attribute) {
    const callers = [...new Set(edges.filter((e) => e.target === node.id).map((e) => e.source))];
    if (callers.length === 1) p.set("service", callers[0]);
    p.append("tag", `${attribute}=${node.id}`);
  } else p.set("service", node.id);
  p.set("lookback", lookback);
  return `/search?${p}`;
}

/** The search for the calls of an edge: the callee's server spans, or for a peer the
 * caller's client spans that name it. */
export function edgeSearch(edge: GraphEdge, calleeKind: string, lookback: string): string {
  const p = new URLSearchParams();
  const attribute = PEER_ATTRIBUTE[calleeKind];
  if (attribute) {
    p.set("service", edge.source);
    p.set("kind", calleeKind === "queue" ? "producer" : "client");
    p.append("tag", `${attribute}=${edge.target}`);
  } else {
    p.set("service", edge.target);
    p.set("kind", "server");
  }
  p.set("lookback", lookback);
  return `/search?${p}`;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

// Tried from the middle outwards: the middle is where converging arrows are furthest apart.
const LABEL_TS = [0.5, 0.44, 0.56, 0.38, 0.62, 0.32, 0.68, 0.26, 0.74, 0.2, 0.8, 0.14, 0.86, 0.09, 0.91];

/** Where a forward call's label goes on its curve, the cubic from (x0, y0) to (x1, y1) with
 * both control points at the middle x: the point nearest the middle whose label box overlaps
 * the service boxes least. At the middle, a call spanning two columns wrote its figures over
 * the box of the column between them. Returns the text's anchor (its centre, 5 px above the
 * curve); the label box is `width` wide and 13 px tall. */
export function labelSpot(x0: number, y0: number, x1: number, y1: number, width: number, boxes: readonly Box[]): { x: number; y: number } {
  const mx = (x0 + x1) / 2;
  let best = { x: mx, y: (y0 + y1) / 2 - 5 };
  let bestOverlap = Infinity;
  for (const t of LABEL_TS) {
    const u = 1 - t;
    const x = u * u * u * x0 + 3 * u * t * mx + t * t * t * x1; // 3u²t + 3ut² = 3ut
    const y = u * u * u * y0 + 3 * u * u * t * y0 + 3 * u * t * t * y1 + t * t * t * y1 - 5;
    const label = { x: x - width / 2, y: y - 10, width, height: 13 };
    const overlap = boxes.reduce((sum, box) => sum + overlapArea(label, box), 0);
    if (overlap < bestOverlap - 1e-9) {
      best = { x, y };
      bestOverlap = overlap;
      if (overlap === 0) break;
    }
  }
  return best;
}

function overlapArea(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}
