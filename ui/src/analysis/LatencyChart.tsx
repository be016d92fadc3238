// The endpoint's latency as a histogram (log2 buckets) and a time x latency heatmap. Dragging
// on the histogram picks the band of slow traces; dragging a rectangle on the heatmap picks a
// time window and the band's lower edge.
import { useRef, useState } from "preact/hooks";
import { formatCount, formatDuration, formatTime } from "../format";
import type { Latency } from "./api";
import { bucketLowNs, bucketSpan, countInBand, heatGrid, regionFromDrag, thresholdFromDrag, widen } from "./band";

/** The latency axes span at least this many doublings (x16). */
const MIN_DOUBLINGS = 4;
const HW = 640;
const HH = 150;
const HPAD = { left: 44, right: 10, top: 14, bottom: 22 };

type Drag = { x0: number; y0: number; x1: number; y1: number };

function fractionOf(event: PointerEvent, svg: SVGSVGElement, w: number, h: number, pad: typeof HPAD) {
  const rect = svg.getBoundingClientRect();
  const px = ((event.clientX - rect.left) / rect.width) * w;
  const py = ((event.clientY - rect.top) / rect.height) * h;
  return { x: (px - pad.left) / (w - pad.left - pad.right), y: (py - pad.top) / (h - pad.top - pad.bottom) };
}

export function LatencyHistogram(props: { latency: Latency; thresholdNs: number | null; upperNs?: number | null; onThreshold(ns: number): void }) {
  const { latency } = props;
  const svgRef = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  const per = latency.bucketsPerDoubling;
  const found = bucketSpan(latency.histogram);
  if (!found) return null;
  const span = widen(found, MIN_DOUBLINGS * per);
  const n = span.last - span.first + 1;
  const counts = new Array<number>(n).fill(0);
  const errors = new Array<number>(n).fill(0);
  for (const b of latency.histogram) {
    counts[b.bucket - span.first] = b.count;
    errors[b.bucket - span.first] = b.errors;
  }
  const max = Math.max(...counts, 1);
  const plotW = HW - HPAD.left - HPAD.right;
  const plotH = HH - HPAD.top - HPAD.bottom;
  const barW = plotW / n;
  const xOfNs = (ns: number) => HPAD.left + ((Math.log2(Math.max(ns, 1)) * per - span.first) / n) * plotW;
  const y = (count: number) => HH - HPAD.bottom - (count / max) * plotH;
  const upperNs = props.upperNs ?? null;
  const clampX = (x: number) => Math.max(HPAD.left, Math.min(HW - HPAD.right, x));
  const band = props.thresholdNs === null ? null : clampX(xOfNs(props.thresholdNs));
  const bandEnd = upperNs === null ? HW - HPAD.right : clampX(xOfNs(upperNs));
  const inBand = props.thresholdNs === null ? null : countInBand(latency.histogram, props.thresholdNs, upperNs);
  const labelEvery = Math.max(1, Math.ceil(n / 8 / per)) * per;

  const onDown = (event: PointerEvent) => {
    const p = fractionOf(event, svgRef.current!, HW, HH, HPAD);
    (event.currentTarget as Element).setPointerCapture(event.pointerId);
    setDrag({ x0: p.x, y0: p.y, x1: p.x, y1: p.y });
  };
  const onMove = (event: PointerEvent) => {
    if (drag) setDrag({ ...drag, ...(({ x, y }) => ({ x1: x, y1: y }))(fractionOf(event, svgRef.current!, HW, HH, HPAD)) });
  };
  const onUp = () => {
    if (!drag) return;
    setDrag(null);
    props.onThreshold(thresholdFromDrag(drag.x0, drag.x1, span, per));
  };
  // ← → move where "slow" starts by one bucket, for those not using a mouse.
  const onKey = (event: KeyboardEvent) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    event.preventDefault();
    const at = props.thresholdNs === null ? span.last : Math.round(Math.log2(Math.max(props.thresholdNs, 1)) * per);
    const next = Math.min(span.last, Math.max(span.first, at + (event.key === "ArrowLeft" ? -1 : 1)));
    props.onThreshold(bucketLowNs(next, per));
  };
  const dragX = drag ? HPAD.left + Math.max(0, Math.min(1, Math.min(drag.x0, drag.x1))) * plotW : null;

  return (
    <div class="latency-chart">
      <div class="chart-caption">
        <b>Latency distribution</b>
        <span class="muted">
          {formatCount(latency.count)} calls{latency.errors ? `, ${formatCount(latency.errors)} failed` : ""} · drag across the
          bars to choose where "slow" starts
        </span>
      </div>
      <svg
        ref={svgRef}
        viewBox={`0 0 ${HW} ${HH}`}
        class="hist-svg"
        data-testid="latency-histogram"
        tabindex={0}
        role="slider"
        aria-label="Where slow starts"
        aria-valuetext={props.thresholdNs === null ? "not set" : `at least ${formatDuration(props.thresholdNs)}`}
        onKeyDown={onKey}
        onPointerDown={onDown}
        onPointerMove={onMove}
        onPointerUp={onUp}
      >
        {band !== null && <rect class="band" x={band} y={HPAD.top - 6} width={Math.max(0, bandEnd - band)} height={plotH + 6} />}
        {counts.map((count, i) => {
          const x = HPAD.left + i * barW;
          const lowNs = 2 ** ((span.first + i) / per);
          const selected = props.thresholdNs !== null && lowNs * 2 ** (1 / per) > props.thresholdNs && (upperNs === null || lowNs < upperNs);
          return (
            <g>
              <rect class={`bar ${selected ? "selected" : ""}`} x={x + 0.5} y={y(count)} width={Math.max(barW - 1, 0.5)} height={HH - HPAD.bottom - y(count)} />
              {errors[i] > 0 && (
                <rect class="bar error" x={x + 0.5} y={y(errors[i])} width={Math.max(barW - 1, 0.5)} height={HH - HPAD.bottom - y(errors[i])} />
              )}
              <title>{`${formatDuration(lowNs)} – ${formatDuration(lowNs * 2 ** (1 / per))}: ${formatCount(count)} calls${errors[i] ? `, ${errors[i]} failed` : ""}`}</title>
            </g>
          );
        })}
        {Array.from({ length: n }, (_, i) => span.first + i)
          .filter((b) => b % labelEvery === 0)
          .map((b) => (
            <text x={HPAD.left + (b - span.first) * barW} y={HH - 6} class="axis" text-anchor="middle">
              {formatDuration(2 ** (b / per))}
            </text>
          ))}
        {(["p50", "p99"] as const).map((name, row) => {
          const ns = latency.percentilesNs[name];
          if (ns == null) return null;
          const x = xOfNs(ns);
          const right = x > HW - 110;
          // p99 one line lower, so the two labels never overlap when they are close.
          return (
            <g class="pmark">
              <line x1={x} x2={x} y1={HPAD.top - 4} y2={HH - HPAD.bottom} />
              <text x={right ? x - 3 : x + 3} y={HPAD.top + 2 + row * 12} class="axis" text-anchor={right ? "end" : "start"}>
                {name} {formatDuration(ns)}
              </text>
            </g>
          );
        })}
        <line x1={HPAD.left} x2={HW - HPAD.right} y1={HH - HPAD.bottom} y2={HH - HPAD.bottom} class="baseline-axis" />
        {band !== null && <line class="band-edge" x1={band} x2={band} y1={HPAD.top - 6} y2={HH - HPAD.bottom} />}
        {band !== null && upperNs !== null && <line class="band-edge" x1={bandEnd} x2={bandEnd} y1={HPAD.top - 6} y2={HH - HPAD.bottom} />}
        {dragX !== null && <rect class="band dragging" x={dragX} y={HPAD.top - 6} width={HW - HPAD.right - dragX} height={plotH + 6} />}
      </svg>
      {inBand && props.thresholdNs !== null && (
        <div class="band-note" data-testid="band-note">
          {upperNs === null ? (
            <>
              Slow = at least <b>{formatDuration(props.thresholdNs)}</b>
            </>
          ) : (
            <>
              Band = <b>{formatDuration(props.thresholdNs)}</b> to <b>{formatDuration(upperNs)}</b>
            </>
          )}
          : about {formatCount(inBand.selected)} of {formatCount(inBand.total)} calls (
          {inBand.total ? Math.round((100 * inBand.selected) / inBand.total) : 0}%)
        </div>
      )}
    </div>
  );
}

const MW = 640;
const MH = 150;
const MPAD = { left: 44, right: 10, top: 8, bottom: 22 };

export function LatencyHeatmap(props: {
  latency: Latency;
  steps: number;
  thresholdNs: number | null;
  upperNs?: number | null;
  onRegion(region: { startNs: number; endNs: number; slowerThanNs: number; fasterThanNs: number | null }): void;
}) {
  const { latency } = props;
  const svgRef = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  const per = latency.bucketsPerDoubling;
  const grid = heatGrid(latency.heatmap, props.steps, MIN_DOUBLINGS * per);
  if (!grid) return null;
  const rows = grid.span.last - grid.span.first + 1;
  const plotW = MW - MPAD.left - MPAD.right;
  const plotH = MH - MPAD.top - MPAD.bottom;
  const cw = plotW / grid.steps;
  const ch = plotH / rows;
  const logMax = Math.log1p(grid.max);
  const labelEvery = Math.max(1, Math.ceil(rows / 4 / per)) * per;

  const onDown = (event: PointerEvent) => {
    const p = fractionOf(event, svgRef.current!, MW, MH, MPAD);
    (event.currentTarget as Element).setPointerCapture(event.pointerId);
    setDrag({ x0: p.x, y0: p.y, x1: p.x, y1: p.y });
  };
  const onMove = (event: PointerEvent) => {
    if (!drag) return;
    const p = fractionOf(event, svgRef.current!, MW, MH, MPAD);
    setDrag({ ...drag, x1: p.x, y1: p.y });
  };
  const onUp = () => {
    if (!drag) return;
    setDrag(null);
    if (Math.abs(drag.x1 - drag.x0) < 0.01 && Math.abs(drag.y1 - drag.y0) < 0.02) return;
    props.onRegion(regionFromDrag(drag.x0, drag.x1, drag.y0, drag.y1, grid, latency.startNs, latency.stepNs, per));
  };
  const clamp = (v: number) => Math.max(0, Math.min(1, v));
  const yOfNs = (ns: number) => MPAD.top + clamp(1 - (Math.log2(Math.max(ns, 1)) * per - grid.span.first) / rows) * plotH;
  const thresholdY = props.thresholdNs === null ? null : yOfNs(props.thresholdNs);
  const upperY = props.upperNs == null ? null : yOfNs(props.upperNs);

  return (
    <div class="latency-chart">
      <div class="chart-caption">
        <b>Latency over time</b>
        <span class="muted">darker = more calls, red = failures · drag a rectangle to pick a time window and a band of latencies (to the top: everything slower)</span>
      </div>
      <svg
        ref={svgRef}
        viewBox={`0 0 ${MW} ${MH}`}
        class="heat-svg"
        data-testid="latency-heatmap"
        onPointerDown={onDown}
        onPointerMove={onMove}
        onPointerUp={onUp}
      >
        {grid.counts.map((column, step) =>
          column.map((count, row) => {
            if (!count) return null;
            const failed = grid.errors[step][row] / count;
            const alpha = 0.18 + 0.82 * (Math.log1p(count) / logMax);
            return (
              <rect
                x={MPAD.left + step * cw}
                y={MPAD.top + (rows - 1 - row) * ch}
                width={cw + 0.3}
                height={ch + 0.3}
                fill={failed > 0.5 ? "#dc2626" : failed > 0 ? "#f97316" : "#4f46e5"}
                fill-opacity={alpha}
              />
            );
          }),
        )}
        {Array.from({ length: rows }, (_, r) => grid.span.first + r)
          .filter((b) => b % labelEvery === 0)
          .map((b) => (
            <text x={MPAD.left - 5} y={MPAD.top + (grid.span.last - b + 1) * ch + 3} class="axis" text-anchor="end">
              {formatDuration(2 ** (b / per))}
            </text>
          ))}
        {[0, Math.floor(grid.steps / 2), grid.steps].map((s, k) => (
          <text x={MPAD.left + s * cw} y={MH - 6} class="axis" text-anchor={k === 0 ? "start" : k === 2 ? "end" : "middle"}>
            {formatTime((latency.startNs + s * latency.stepNs) / 1e6).slice(0, 8)}
          </text>
        ))}
        {thresholdY !== null && <line class="band-edge" x1={MPAD.left} x2={MW - MPAD.right} y1={thresholdY} y2={thresholdY} />}
        {upperY !== null && <line class="band-edge" x1={MPAD.left} x2={MW - MPAD.right} y1={upperY} y2={upperY} />}
        {drag && (
          <rect
            class="band dragging"
            x={MPAD.left + clamp(Math.min(drag.x0, drag.x1)) * plotW}
            y={MPAD.top}
            width={Math.abs(clamp(drag.x1) - clamp(drag.x0)) * plotW}
            height={clamp(Math.max(drag.y0, drag.y1)) * plotH}
          />
        )}
      </svg>
    </div>
  );
}
