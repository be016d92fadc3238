// The service map from /api/x/service-graph: services in columns by who calls whom; calls,
// error rate and p95 on every service and every edge; uninstrumented peers (databases, queues,
// services named only by their callers) drawn apart. Clicking a service or an edge searches
// its traces over the same time range.
import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import { serviceColor } from "../colors";
import { formatCount, formatDuration } from "../format";
import { navigate } from "../router";
import { edgeSearch, figuresText, labelSpot, labelledEdges, layers, nodeSearch } from "./map-layout";

export const MAP_RANGES: [string, number, string][] = [
  ["5m", 5 * 60_000, "Last 5 minutes"],
  ["15m", 15 * 60_000, "Last 15 minutes"],
  ["1h", 3_600_000, "Last hour"],
  ["6h", 6 * 3_600_000, "Last 6 hours"],
  ["24h", 24 * 3_600_000, "Last 24 hours"],
];
const NODE_W = 206;
const NODE_H = 52;
const COL_GAP = 140;
const ROW_GAP = 26;
const LABEL_CHAR_W = 6.2; // an edge label's characters, 11 px, on average
const PEER_LABEL: Record<string, string> = { database: "database", queue: "queue", peer: "not instrumented" };

export function MapPage({ url }: { url: URL }) {
  const range = MAP_RANGES.find(([key]) => key === url.searchParams.get("range")) ?? MAP_RANGES[2];
  const [graph, setGraph] = useState<api.ServiceGraph | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [hover, setHover] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    setGraph(null);
    setError(null);
    const end = Date.now() * 1e6;
    api.serviceGraph(end - range[1] * 1e6, end, abort.signal).then(setGraph, (e: Error) => e.name !== "AbortError" && setError(e.message));
    return () => abort.abort();
  }, [range[0]]);

  const head = (
    <div class="map-head">
      <h1>Service map</h1>
      <select value={range[0]} data-testid="map-range" onChange={(e) => navigate(`/map?range=${(e.target as HTMLSelectElement).value}`, true)}>
        {MAP_RANGES.map(([key, , label]) => (
          <option value={key}>{label}</option>
        ))}
      </select>
      <span class="muted">
        Arrows point from caller to callee, with calls, error rate and p95 latency (hover a service to see its calls). Click a
        service or an arrow to search its traces.
      </span>
    </div>
  );
  if (error)
    return (
      <div class="page">
        {head}
        <div class="banner banner-error">{error}</div>
      </div>
    );
  if (!graph)
    return (
      <div class="page">
        {head}
        <div class="loading-block">
          <div class="spinner" />
          Loading the service graph…
        </div>
      </div>
    );
  if (!graph.edges.length)
    return (
      <div class="page">
        {head}
        <div class="empty-state small">
          <h3>No calls between services in this time range</h3>
          <p>
            The map draws a call when a span's parent is in another service, or when a client span names what it called
            (<code>peer.service</code>, <code>db.system</code>, <code>messaging.system</code>). Try a longer range, or check
            that trace context propagates between your services.
          </p>
        </div>
      </div>
    );

  const links = graph.edges.map((e) => ({ parent: e.source, child: e.target, callCount: e.calls }));
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  // Databases, queues and other peers only ever answer: one column of their own on the right,
  // so every call to them runs forward instead of across the services.
  const isPeer = (name: string) => (byId.get(name)?.kind ?? "instrumented") !== "instrumented";
  const layered = layers(links).columns.map((col) => col.filter((name) => !isPeer(name))).filter((col) => col.length);
  const peers = [...new Set(graph.edges.map((e) => e.target))].filter(isPeer).sort();
  const columns = peers.length ? [...layered, peers] : layered;
  const height = Math.max(...columns.map((c) => c.length)) * (NODE_H + ROW_GAP) + 60;
  const width = columns.length * (NODE_W + COL_GAP) + 40;
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, ci) => {
    const offset = (height - col.length * (NODE_H + ROW_GAP)) / 2;
    col.forEach((name, ri) => pos.set(name, { x: 20 + ci * (NODE_W + COL_GAP), y: offset + ri * (NODE_H + ROW_GAP) }));
  });
  const maxCalls = Math.max(...graph.edges.map((e) => e.calls));
  const lookback = range[0];
  // A busy map labels the calls with the most errors and those of the hovered service or call.
  const labelled = labelledEdges(graph.edges);
  const labels: preact.JSX.Element[] = [];
  const boxes = [...pos.values()].map((p) => ({ x: p.x, y: p.y, width: NODE_W, height: NODE_H }));

  return (
    <div class="page map-page">
      {head}
      <div class="map-legend muted small">
        <span>
          <span class="legend-node" /> instrumented service
        </span>
        <span>
          <span class="legend-node peer" /> database, queue or service seen only from its callers
        </span>
        <span>
          <span class="legend-line error" /> calls with errors
        </span>
      </div>
      <div class="card map-card">
        <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} class="map-svg" data-testid="service-map">
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" fill="#9ca3af" />
            </marker>
          </defs>
          {graph.edges.map((e) => {
            const a = pos.get(e.source)!;
            const b = pos.get(e.target)!;
            const x0 = a.x + NODE_W;
            const y0 = a.y + NODE_H / 2;
            const x1 = b.x - 2;
            const y1 = b.y + NODE_H / 2;
            const back = x1 <= x0;
            const mx = (x0 + x1) / 2;
            const path = back
              ? `M ${a.x + NODE_W / 2} ${a.y + NODE_H} C ${a.x + NODE_W / 2} ${a.y + NODE_H + 60}, ${b.x + NODE_W / 2} ${b.y + NODE_H + 60}, ${b.x + NODE_W / 2} ${b.y + NODE_H + 2}`
              : `M ${x0} ${y0} C ${mx} ${y0}, ${mx} ${y1}, ${x1} ${y1}`;
            const active = hover === e.source || hover === e.target || hover === `${e.source}→${e.target}`;
            const kind = byId.get(e.target)?.kind ?? "instrumented";
            // Forward calls are labelled near their middle, where converging arrows are apart,
            // off the boxes where the curve allows (labelSpot); the labels are drawn last.
            const errors = e.errors > 0 ? ` · ${percent(e.errorRate)} err` : "";
            const p95 = e.p95 ? ` · p95 ${formatDuration(e.p95)}` : "";
            const text = `${formatCount(e.calls)}${errors}${p95}`;
            const spot = back
              ? { x: (a.x + b.x + NODE_W) / 2, y: Math.max(a.y, b.y) + NODE_H + 48 }
              : labelSpot(x0, y0, x1, y1, text.length * LABEL_CHAR_W, boxes);
            labels.push(
              <text x={spot.x} y={spot.y} text-anchor="middle" data-edge-label={`${e.source}→${e.target}`} class={`edge-label ${active || labelled.has(`${e.source}→${e.target}`) ? "" : "hidden"} ${hover && !active ? "faded" : ""}`}>
                {formatCount(e.calls)}
                {errors && <tspan class="err">{errors}</tspan>}
                {p95}
              </text>,
            );
            return (
              <g
                class={`edge ${e.errors ? "has-errors" : ""} ${active ? "active" : ""} ${hover && !active ? "faded" : ""}`}
                data-testid="map-edge"
                data-edge={`${e.source}→${e.target}`}
                onClick={() => navigate(edgeSearch(e, kind, lookback))}
                onMouseEnter={() => setHover(`${e.source}→${e.target}`)}
                onMouseLeave={() => setHover(null)}
              >
                <path d={path} class="hit" />
                <path d={path} stroke-width={1.2 + 3 * Math.sqrt(e.calls / maxCalls)} marker-end="url(#arrow)" />
                <title>{`${e.source} → ${e.target}: ${figuresText(e)}. Click to search these calls.`}</title>
              </g>
            );
          })}
          {columns.flat().map((name) => {
            const n = byId.get(name) ?? { id: name, kind: "instrumented", calls: 0, errors: 0, errorRate: 0, p95: null };
            const p = pos.get(name)!;
            const peer = n.kind !== "instrumented";
            return (
              <g
                class={`node ${peer ? "peer" : ""} ${n.errors ? "has-errors" : ""} ${hover && hover !== name && !hover.includes(name) ? "faded" : ""}`}
                transform={`translate(${p.x} ${p.y})`}
                onClick={() => navigate(nodeSearch(n, graph.edges, lookback))}
                onMouseEnter={() => setHover(name)}
                onMouseLeave={() => setHover(null)}
                data-testid="map-node"
                data-kind={n.kind}
              >
                <rect width={NODE_W} height={NODE_H} rx={8} class="box" />
                {!peer && <rect width={5} height={NODE_H} rx={2} fill={serviceColor(name)} />}
                <text x={14} y={18} class="node-name">
                  {name.length > 22 ? name.slice(0, 21) + "…" : name}
                </text>
                <text x={14} y={33} class="node-sub">
                  {formatCount(n.calls)} calls
                  {n.calls > 0 && <tspan class={n.errors ? "err" : ""}>{` · ${percent(n.errorRate)} err`}</tspan>}
                  {n.p95 ? ` · p95 ${formatDuration(n.p95)}` : ""}
                </text>
                <text x={14} y={46} class="node-kind">
                  {peer ? PEER_LABEL[n.kind] ?? n.kind : "service"}
                </text>
                <title>{`${name}${peer ? ` (${PEER_LABEL[n.kind] ?? n.kind})` : ""}: ${figuresText(n)}. Click to search its traces.`}</title>
              </g>
            );
          })}
          <g class="edge-labels">{labels}</g>
        </svg>
      </div>
    </div>
  );
}

function percent(rate: number): string {
  const p = rate * 100;
  return `${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}
