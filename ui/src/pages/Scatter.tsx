// Trace duration over time: one dot per trace, errors in red. Drag a rectangle to filter the
// list to that region; click a dot to open its trace.
import { useRef, useState } from "preact/hooks";
import { formatDuration, formatTime } from "../format";
import { niceTicks } from "../trace/layout";
import type { TraceRow } from "./search-model";

export interface Brush {
  t0: number;
  t1: number;
  d0: number;
  d1: number;
}

const W = 1000;
const H = 200;
const PAD = { left: 64, right: 16, top: 12, bottom: 26 };

export function Scatter(props: { rows: TraceRow[]; brush: Brush | null; onBrush(b: Brush | null): void; onOpen(id: string): void }) {
  const svgRef = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<{ x0: number; y0: number; x1: number; y1: number } | null>(null);
  const { rows } = props;
  const tMin = Math.min(...rows.map((r) => r.startMs));
  const tMax = Math.max(...rows.map((r) => r.startMs));
  const dMax = Math.max(...rows.map((r) => r.durationNs)) * 1.08;
  const tSpan = Math.max(tMax - tMin, 1000);
  const t0 = tMin - tSpan * 0.03;
  const t1 = tMax + tSpan * 0.03;
  const x = (t: number) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (d: number) => H - PAD.bottom - (d / dMax) * (H - PAD.top - PAD.bottom);
  const tAt = (px: number) => t0 + ((px - PAD.left) / (W - PAD.left - PAD.right)) * (t1 - t0);
  const dAt = (py: number) => ((H - PAD.bottom - py) / (H - PAD.top - PAD.bottom)) * dMax;

  const point = (event: PointerEvent) => {
    const rect = svgRef.current!.getBoundingClientRect();
    return { x: ((event.clientX - rect.left) / rect.width) * W, y: ((event.clientY - rect.top) / rect.height) * H };
  };
  const onDown = (event: PointerEvent) => {
    if ((event.target as Element).tagName === "circle") return;
    const p = point(event);
    (event.currentTarget as Element).setPointerCapture(event.pointerId);
    setDrag({ x0: p.x, y0: p.y, x1: p.x, y1: p.y });
  };
  const onMove = (event: PointerEvent) => {
    if (!drag) return;
    const p = point(event);
    setDrag({ ...drag, x1: p.x, y1: p.y });
  };
  const onUp = () => {
    if (!drag) return;
    setDrag(null);
    if (Math.abs(drag.x1 - drag.x0) < 4 && Math.abs(drag.y1 - drag.y0) < 4) {
      props.onBrush(null);
      return;
    }
    const [ax, bx] = [Math.min(drag.x0, drag.x1), Math.max(drag.x0, drag.x1)];
    const [ay, by] = [Math.min(drag.y0, drag.y1), Math.max(drag.y0, drag.y1)];
    props.onBrush({ t0: tAt(ax), t1: tAt(bx), d0: Math.max(0, dAt(by)), d1: dAt(ay) });
  };

  const brushRect = drag
    ? { x: Math.min(drag.x0, drag.x1), y: Math.min(drag.y0, drag.y1), w: Math.abs(drag.x1 - drag.x0), h: Math.abs(drag.y1 - drag.y0) }
    : props.brush
      ? { x: x(props.brush.t0), y: y(props.brush.d1), w: x(props.brush.t1) - x(props.brush.t0), h: y(props.brush.d0) - y(props.brush.d1) }
      : null;
  const durationTicks = niceTicks(0, dMax, 4);
  const timeTicks = niceTicks(t0, t1, 6);

  return (
    <div class="scatter card">
      <div class="scatter-head">
        <span>Trace duration over time</span>
        <span class="legend">
          <span class="legend-dot" /> ok <span class="legend-dot error" /> has errors
          <span class="muted"> · drag to select a region, click a dot to open it</span>
        </span>
      </div>
      <svg
        ref={svgRef}
        viewBox={`0 0 ${W} ${H}`}
        class="scatter-svg"
        data-testid="scatter"
        onPointerDown={onDown}
        onPointerMove={onMove}
        onPointerUp={onUp}
      >
        {durationTicks.map((d) => (
          <g>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(d)} y2={y(d)} class="grid" />
            <text x={PAD.left - 8} y={y(d) + 4} class="axis" text-anchor="end">
              {formatDuration(d)}
            </text>
          </g>
        ))}
        {timeTicks.map((t) => (
          <text x={x(t)} y={H - 8} class="axis" text-anchor="middle">
            {formatTime(t).slice(0, 8)}
          </text>
        ))}
        {rows.map((r) => {
          const dim = props.brush && !(r.startMs >= props.brush.t0 && r.startMs <= props.brush.t1 && r.durationNs >= props.brush.d0 && r.durationNs <= props.brush.d1);
          return (
            <circle
              cx={x(r.startMs)}
              cy={y(r.durationNs)}
              r={4.5}
              class={`pt ${r.errors ? "error" : ""} ${dim ? "dim" : ""}`}
              onClick={() => props.onOpen(r.traceId)}
            >
              <title>
                {`${r.rootService} ${r.rootName}: ${formatDuration(r.durationNs)}, ${r.spans} spans${r.errors ? `, ${r.errors} errors` : ""}`}
              </title>
            </circle>
          );
        })}
        {brushRect && <rect class="brush" x={brushRect.x} y={brushRect.y} width={brushRect.w} height={brushRect.h} />}
      </svg>
    </div>
  );
}
