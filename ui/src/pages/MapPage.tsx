// The service map from /api/dependencies: services in layers by who calls whom, edges with
// call counts. Clicking a service searches its traces.
import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import { serviceColor } from "../colors";
import { formatCount } from "../format";
import { navigate } from "../router";
import { layers } from "./map-layout";

const LOOKBACKS: [number, string][] = [
  [15 * 60_000, "Last 15 minutes"],
  [3_600_000, "Last hour"],
  [6 * 3_600_000, "Last 6 hours"],
  [24 * 3_600_000, "Last 24 hours"],
  [7 * 24 * 3_600_000, "Last 7 days"],
];
const NODE_W = 172;
const NODE_H = 40;
const COL_GAP = 120;
const ROW_GAP = 22;

export function MapPage({ url }: { url: URL }) {
  const lookback = Number(url.searchParams.get("lookback") ?? 3_600_000) || 3_600_000;
  const [links, setLinks] = useState<api.DependencyLink[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [hover, setHover] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    setLinks(null);
    api.dependencies(lookback, abort.signal).then(setLinks, (e: Error) => e.name !== "AbortError" && setError(e.message));
    return () => abort.abort();
  }, [lookback]);

  const head = (
    <div class="map-head">
      <h1>Service map</h1>
      <select
        value={String(lookback)}
        onChange={(e) => navigate(`/map?lookback=${(e.target as HTMLSelectElement).value}`, true)}
      >
        {LOOKBACKS.map(([ms, label]) => (
          <option value={String(ms)}>{label}</option>
        ))}
      </select>
      <span class="muted">Arrows point from caller to callee; numbers are calls. Click a service to search its traces.</span>
    </div>
  );
  if (error)
    return (
      <div class="page">
        {head}
        <div class="banner banner-error">{error}</div>
      </div>
    );
  if (!links)
    return (
      <div class="page">
        {head}
        <div class="loading-block">
          <div class="spinner" />
          Loading dependencies…
        </div>
      </div>
    );
  if (!links.length)
    return (
      <div class="page">
        {head}
        <div class="empty-state small">
          <h3>No calls between services in this time range</h3>
          <p>
            The map draws a service once it calls another (a client or producer span with a server or consumer child in
            another service). Try a longer range, or check that trace context propagates between your services.
          </p>
        </div>
      </div>
    );

  const { columns, nodes } = layers(links);
  const height = Math.max(...columns.map((c) => c.length)) * (NODE_H + ROW_GAP) + 40;
  const width = columns.length * (NODE_W + COL_GAP) + 40;
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, ci) => {
    const offset = (height - col.length * (NODE_H + ROW_GAP)) / 2;
    col.forEach((name, ri) => pos.set(name, { x: 20 + ci * (NODE_W + COL_GAP), y: offset + ri * (NODE_H + ROW_GAP) }));
  });
  const maxCalls = Math.max(...links.map((l) => l.callCount));

  return (
    <div class="page map-page">
      {head}
      <div class="card map-card">
        <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} class="map-svg" data-testid="service-map">
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" fill="#9ca3af" />
            </marker>
          </defs>
          {links.map((l) => {
            const a = pos.get(l.parent)!;
            const b = pos.get(l.child)!;
            const x0 = a.x + NODE_W;
            const y0 = a.y + NODE_H / 2;
            const x1 = b.x - 2;
            const y1 = b.y + NODE_H / 2;
            const back = x1 <= x0;
            const mx = (x0 + x1) / 2;
            const path = back
              ? `M ${a.x + NODE_W / 2} ${a.y + NODE_H} C ${a.x + NODE_W / 2} ${a.y + NODE_H + 60}, ${b.x + NODE_W / 2} ${b.y + NODE_H + 60}, ${b.x + NODE_W / 2} ${b.y + NODE_H + 2}`
              : `M ${x0} ${y0} C ${mx} ${y0}, ${mx} ${y1}, ${x1} ${y1}`;
            const active = hover === l.parent || hover === l.child;
            return (
              <g class={`edge ${active ? "active" : ""} ${hover && !active ? "faded" : ""}`}>
                <path d={path} stroke-width={1.2 + 3 * Math.sqrt(l.callCount / maxCalls)} marker-end="url(#arrow)" />
                <text x={back ? (a.x + b.x + NODE_W) / 2 : x1 - 30} y={back ? Math.max(a.y, b.y) + NODE_H + 48 : y1 - 6} text-anchor="middle" class="edge-label">
                  {formatCount(l.callCount)}
                </text>
              </g>
            );
          })}
          {[...nodes.values()].map((n) => {
            const p = pos.get(n.name)!;
            return (
              <g
                class={`node ${hover && hover !== n.name ? "faded" : ""}`}
                transform={`translate(${p.x} ${p.y})`}
                onClick={() => navigate(`/search?service=${encodeURIComponent(n.name)}`)}
                onMouseEnter={() => setHover(n.name)}
                onMouseLeave={() => setHover(null)}
                data-testid="map-node"
              >
                <rect width={NODE_W} height={NODE_H} rx={8} />
                <rect width={5} height={NODE_H} rx={2} fill={serviceColor(n.name)} />
                <text x={14} y={17} class="node-name">
                  {n.name.length > 22 ? n.name.slice(0, 21) + "…" : n.name}
                </text>
                <text x={14} y={31} class="node-sub">
                  {formatCount(n.callsIn)} in · {formatCount(n.callsOut)} out
                </text>
                <title>{n.name}</title>
              </g>
            );
          })}
        </svg>
      </div>
    </div>
  );
}
