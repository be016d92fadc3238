// Small SVG charts shared by the analysis pages: a time series chart with a hover read-out,
// and paired proportion bars (the slow side against the rest).
import { useState } from "preact/hooks";
import { formatTime } from "../format";
import { niceTicks } from "../trace/layout";

export interface Line {
  name: string;
  color: string;
  values: (number | null)[];
  /** Filled below the line (one per chart, drawn first). */
  area?: boolean;
}

const W = 320;
const PAD = { left: 46, right: 8, top: 8, bottom: 18 };

export function TimeChart(props: {
  title: string;
  times: number[]; // ns
  stepNs: number;
  lines: Line[];
  format(value: number): string;
  height?: number;
  /** The y axis starts at 0 and reaches at least this. */
  minMax?: number;
  testId?: string;
}) {
  const H = props.height ?? 110;
  const [hover, setHover] = useState<number | null>(null);
  const n = props.times.length;
  let max = props.minMax ?? 0;
  for (const line of props.lines) for (const v of line.values) if (v !== null && v > max) max = v;
  const ticks = niceTicks(0, max > 0 ? max : 1, 2);
  // The top grid line is at or above the highest value, so no line leaves the chart.
  if (ticks.length > 1 && ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + ticks[1] - ticks[0]);
  const top = ticks[ticks.length - 1] || 1;
  const x = (i: number) => PAD.left + (n <= 1 ? 0 : (i / (n - 1)) * (W - PAD.left - PAD.right));
  const y = (v: number) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const path = (values: (number | null)[]) => {
    let d = "";
    let pen = false;
    values.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
      pen = true;
    });
    return d;
  };
  const area = (values: (number | null)[]) => {
    const d = values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)} ${y(v ?? 0).toFixed(1)}`).join("");
    return n ? `${d}L${x(n - 1)} ${y(0)}L${x(0)} ${y(0)}Z` : "";
  };
  const onMove = (event: PointerEvent) => {
    const rect = (event.currentTarget as SVGSVGElement).getBoundingClientRect();
    const at = (((event.clientX - rect.left) / rect.width) * W - PAD.left) / (W - PAD.left - PAD.right);
    setHover(n ? Math.min(n - 1, Math.max(0, Math.round(at * (n - 1)))) : null);
  };
  const timeTicks = n > 1 ? [0, Math.floor((n - 1) / 2), n - 1] : [];
  return (
    <div class="tchart" data-testid={props.testId}>
      <div class="tchart-head">
        <span class="tchart-title">{props.title}</span>
        <span class="tchart-read">
          {hover !== null ? (
            <>
              <span class="muted">{formatTime(props.times[hover] / 1e6).slice(0, 5)}</span>
              {props.lines.map((line) => (
                <span>
                  <span class="swatch" style={{ background: line.color }} />
                  {props.lines.length > 1 ? `${line.name} ` : ""}
                  {line.values[hover] === null ? "–" : props.format(line.values[hover]!)}
                </span>
              ))}
            </>
          ) : (
            props.lines.length > 1 &&
            props.lines.map((line) => (
              <span class="muted">
                <span class="swatch" style={{ background: line.color }} />
                {line.name}
              </span>
            ))
          )}
        </span>
      </div>
      <svg viewBox={`0 0 ${W} ${H}`} class="tchart-svg" onPointerMove={onMove} onPointerLeave={() => setHover(null)}>
        {ticks.map((t) => (
          <g>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} class="grid" />
            <text x={PAD.left - 5} y={y(t) + 3.5} class="axis" text-anchor="end">
              {props.format(t)}
            </text>
          </g>
        ))}
        {timeTicks.map((i, k) => (
          <text x={x(i)} y={H - 4} class="axis" text-anchor={k === 0 ? "start" : k === 2 ? "end" : "middle"}>
            {formatTime(props.times[i] / 1e6).slice(0, 5)}
          </text>
        ))}
        {props.lines.map((line) =>
          line.area ? <path d={area(line.values)} fill={line.color} fill-opacity={0.14} stroke="none" /> : null,
        )}
        {props.lines.map((line) => (
          <path d={path(line.values)} fill="none" stroke={line.color} stroke-width={1.6} stroke-linejoin="round" />
        ))}
        {props.lines.map((line) =>
          // A value with no neighbour draws no line: a dot shows it.
          line.values.map((v, i) =>
            v !== null && (line.values[i - 1] ?? null) === null && (line.values[i + 1] ?? null) === null ? (
              <circle cx={x(i)} cy={y(v)} r={2.2} fill={line.color} />
            ) : null,
          ),
        )}
        {hover !== null && <line class="hover-line" x1={x(hover)} x2={x(hover)} y1={PAD.top} y2={H - PAD.bottom} />}
      </svg>
    </div>
  );
}

/** Two bars for one finding: the share of the selected traces (slow or failing) against the
 * share of the others, with both numbers written out. */
export function ShareBars(props: { selected: number; baseline: number; selectedLabel: string }) {
  const pct = (v: number) => `${Math.round(v * 1000) / 10}%`;
  return (
    <div class="share-bars" title={`${pct(props.selected)} of the ${props.selectedLabel} traces, ${pct(props.baseline)} of the others`}>
      <div class="share-row">
        <div class="share-track">
          <div class="share-fill selected" style={{ width: `${Math.min(100, props.selected * 100)}%` }} />
        </div>
        <span class="share-num selected">{pct(props.selected)}</span>
      </div>
      <div class="share-row">
        <div class="share-track">
          <div class="share-fill baseline" style={{ width: `${Math.min(100, props.baseline * 100)}%` }} />
        </div>
        <span class="share-num">{pct(props.baseline)}</span>
      </div>
    </div>
  );
}
