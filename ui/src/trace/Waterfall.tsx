// The trace waterfall: minimap, time ruler and span rows, all drawn on canvases. Only the
// rows in view are drawn, so its cost per frame does not grow with the trace.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { ERROR_COLOR, serviceColor } from "../colors";
import { formatDuration } from "../format";
import { niceTicks, rowWindow, TimeScale } from "./layout";
import { firstEvent, STATUS_ERROR, type TraceData } from "./model";

export const ROW_HEIGHT = 24;
export const SEARCHED_COLOR = "#7c3aed";
const NAME_WIDTH = 400;
const MINIMAP_HEIGHT = 56;
const RULER_HEIGHT = 26;
const INDENT = 14;
const MAX_INDENT_LEVELS = 24;
// Browsers cap an element's height (~33M px in Chromium): beyond this the scrollbar is scaled.
const MAX_SCROLL_PX = 15_000_000;

export interface Highlights {
  /** Per span: 1 when the span is on the critical path. */
  critical: Uint8Array | null;
  /** Per span: [start, end) ns segments of the critical path inside it. */
  criticalSegments: Map<number, [number, number][]>;
  /** Per span: skew and adjuster warnings. */
  warnings: Map<number, string[]>;
  /** Per span: 1 when it matches find-in-trace. */
  matches: Uint8Array | null;
  current: number;
  /** Per span: 1 when it met the search the trace was opened from. */
  searched: Uint8Array | null;
}

interface Props {
  trace: TraceData;
  rows: Int32Array;
  collapsed: Uint8Array;
  selected: number;
  view: [number, number];
  highlights: Highlights;
  scrollTo: { row: number; seq: number };
  onSelect(span: number): void;
  onToggle(span: number): void;
  onView(view: [number, number]): void;
}

export function Waterfall(props: Props) {
  const { trace, rows, view } = props;
  const frameRef = useRef<HTMLDivElement>(null);
  const scrollRef = useRef<HTMLDivElement>(null);
  const bodyRef = useRef<HTMLCanvasElement>(null);
  const rulerRef = useRef<HTMLCanvasElement>(null);
  const miniRef = useRef<HTMLCanvasElement>(null);
  const [size, setSize] = useState({ width: 0, height: 0 });
  const [hover, setHover] = useState(-1);
  const [drag, setDrag] = useState<[number, number] | null>(null);
  const pending = useRef(0);
  const latest = useRef(props);
  latest.current = props;
  const hoverRef = useRef(hover);
  hoverRef.current = hover;

  const virtualHeight = rows.length * ROW_HEIGHT;
  const spacerHeight = Math.min(virtualHeight, MAX_SCROLL_PX);

  useLayoutEffect(() => {
    const el = scrollRef.current!;
    const observer = new ResizeObserver(() => setSize({ width: el.clientWidth, height: el.clientHeight }));
    observer.observe(el);
    setSize({ width: el.clientWidth, height: el.clientHeight });
    return () => observer.disconnect();
  }, []);

  // A frame is drawn from the latest render's values, never from the closure that asked for it.
  const geometry = useRef({ size, virtualHeight, spacerHeight });
  geometry.current = { size, virtualHeight, spacerHeight };

  /** Virtual pixel offset of the top of the viewport. */
  const offset = (): number => {
    const el = scrollRef.current!;
    const { virtualHeight, spacerHeight } = geometry.current;
    const viewH = el.clientHeight;
    if (spacerHeight <= viewH) return 0;
    return el.scrollTop * ((virtualHeight - viewH) / (spacerHeight - viewH));
  };

  const draw = () => {
    pending.current = 0;
    const p = latest.current;
    const el = scrollRef.current;
    const { size } = geometry.current;
    if (!el || !size.width) return;
    const t0 = performance.now();
    drawBody(bodyRef.current!, p, size.width, size.height, offset(), hoverRef.current);
    drawRuler(rulerRef.current!, p, size.width);
    const timings = window.__breadcrumbs;
    if (timings) {
      // The first frame with rows on screen is when the trace becomes usable.
      if (!timings.interactiveAt) timings.interactiveAt = performance.timeOrigin + performance.now();
      if (timings.draws.length < 10_000) timings.draws.push(performance.now() - t0);
    }
  };
  const schedule = () => {
    if (!pending.current) pending.current = requestAnimationFrame(draw);
  };
  useEffect(schedule);

  // The minimap's spans change only with the rows and the width: drawn once into a bitmap.
  const miniBitmap = useMemo(
    () => (size.width ? renderMinimap(trace, rows, size.width - NAME_WIDTH) : null),
    [trace, rows, size.width],
  );
  useEffect(() => {
    const canvas = miniRef.current;
    if (!canvas || !miniBitmap) return;
    drawMinimap(canvas, miniBitmap, trace, view, drag, size.width);
  }, [miniBitmap, view, drag, size.width]);

  // Scroll a requested row into view (find, keyboard, error origin).
  useEffect(() => {
    const el = scrollRef.current;
    const { row } = props.scrollTo;
    if (!el || row < 0) return;
    const top = row * ROW_HEIGHT;
    const current = offset();
    if (top < current || top + ROW_HEIGHT > current + el.clientHeight) {
      const want = Math.max(0, top - el.clientHeight / 3);
      const viewH = el.clientHeight;
      el.scrollTop = spacerHeight <= viewH ? 0 : want / ((virtualHeight - viewH) / (spacerHeight - viewH));
    }
  }, [props.scrollTo.seq]);

  const rowAt = (clientY: number): number => {
    const rect = bodyRef.current!.getBoundingClientRect();
    const row = Math.floor((clientY - rect.top + offset()) / ROW_HEIGHT);
    return row >= 0 && row < rows.length ? row : -1;
  };

  const onClick = (event: MouseEvent) => {
    const row = rowAt(event.clientY);
    if (row < 0) return;
    const span = rows[row];
    const x = event.clientX - bodyRef.current!.getBoundingClientRect().left;
    const indent = Math.min(trace.layout.depth[span], MAX_INDENT_LEVELS) * INDENT;
    if (trace.layout.childCount[span] > 0 && x >= indent && x < indent + 22) props.onToggle(span);
    else props.onSelect(span);
  };

  const onWheel = (event: WheelEvent) => {
    if (!(event.ctrlKey || event.metaKey)) return;
    // Ctrl+wheel zooms the time axis around the cursor.
    event.preventDefault();
    const rect = bodyRef.current!.getBoundingClientRect();
    const scale = new TimeScale(view[0], view[1], NAME_WIDTH, size.width - NAME_WIDTH - 16);
    const at = scale.t(event.clientX - rect.left);
    const factor = Math.exp(event.deltaY * 0.002);
    props.onView(clampView(at - (at - view[0]) * factor, at + (view[1] - at) * factor, trace));
  };

  // Minimap drag: choose the time window to zoom into.
  const miniTime = (clientX: number) => {
    const rect = miniRef.current!.getBoundingClientRect();
    const scale = new TimeScale(0, trace.summary.durationNs, NAME_WIDTH, size.width - NAME_WIDTH - 16);
    return Math.min(Math.max(scale.t(clientX - rect.left), 0), trace.summary.durationNs);
  };
  const onMiniDown = (event: PointerEvent) => {
    const t = miniTime(event.clientX);
    (event.target as Element).setPointerCapture(event.pointerId);
    setDrag([t, t]);
  };
  const onMiniMove = (event: PointerEvent) => {
    if (drag) setDrag([drag[0], miniTime(event.clientX)]);
  };
  const onMiniUp = () => {
    if (!drag) return;
    const [a, b] = drag[0] < drag[1] ? drag : [drag[1], drag[0]];
    setDrag(null);
    if (b - a > trace.summary.durationNs / 2000) props.onView([a, b]);
  };

  return (
    <div class="wf" ref={frameRef}>
      <div class="wf-top">
        <div class="wf-mini-label">
          <span>Drag to zoom</span>
          {(view[0] > 0 || view[1] < trace.summary.durationNs) && (
            <button class="link" onClick={() => props.onView([0, trace.summary.durationNs])}>
              Reset zoom
            </button>
          )}
        </div>
        <canvas
          ref={miniRef}
          class="wf-mini"
          data-testid="minimap"
          style={{ height: `${MINIMAP_HEIGHT}px` }}
          onPointerDown={onMiniDown}
          onPointerMove={onMiniMove}
          onPointerUp={onMiniUp}
        />
        <canvas ref={rulerRef} class="wf-ruler" style={{ height: `${RULER_HEIGHT}px` }} />
      </div>
      <div
        class="wf-scroll"
        ref={scrollRef}
        onScroll={schedule}
        onWheel={onWheel}
        data-testid="waterfall"
        data-rows={rows.length}
      >
        <canvas
          ref={bodyRef}
          class="wf-body"
          onClick={onClick}
          onMouseMove={(event) => setHover(rowAt(event.clientY))}
          onMouseLeave={() => setHover(-1)}
        />
        <div style={{ height: `${Math.max(spacerHeight - size.height, 0)}px` }} />
      </div>
      {hover >= 0 && hover < rows.length && <HoverTip trace={trace} span={rows[hover]} />}
    </div>
  );
}

function HoverTip({ trace, span }: { trace: TraceData; span: number }) {
  const service = trace.strings[trace.service[span]];
  return (
    <div class="wf-tip">
      <span class="dot" style={{ background: serviceColor(service) }} />
      <b>{service}</b> {trace.strings[trace.name[span]]}
      <span class="muted">
        {" "}
        · {formatDuration(trace.duration[span])} · starts at +{formatDuration(trace.start[span])}
      </span>
    </div>
  );
}

export function clampView(a: number, b: number, trace: TraceData): [number, number] {
  const total = trace.summary.durationNs;
  const minSpan = Math.max(total / 1e6, 1000);
  let start = Math.max(0, a);
  let end = Math.min(total, b);
  if (end - start < minSpan) {
    const mid = (start + end) / 2;
    start = Math.max(0, mid - minSpan / 2);
    end = Math.min(total, start + minSpan);
  }
  return [start, end];
}

/** A canvas sized for the device's pixel ratio, its context scaled to CSS pixels. */
export function prepare(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext("2d")!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}

const FONT = "12.5px ui-sans-serif, system-ui, -apple-system, 'Segoe UI', sans-serif";
const FONT_BOLD = "600 12.5px ui-sans-serif, system-ui, -apple-system, 'Segoe UI', sans-serif";
const FONT_SMALL = "11px ui-sans-serif, system-ui, -apple-system, 'Segoe UI', sans-serif";

function drawBody(
  canvas: HTMLCanvasElement,
  p: Props,
  width: number,
  height: number,
  offset: number,
  hover: number,
): void {
  const ctx = prepare(canvas, width, height);
  const { trace, rows, highlights, selected } = p;
  const { depth, childCount } = trace.layout;
  ctx.clearRect(0, 0, width, height);
  const timeWidth = width - NAME_WIDTH - 16;
  const scale = new TimeScale(p.view[0], p.view[1], NAME_WIDTH + 8, timeWidth - 8);
  const [first, last] = rowWindow(offset, height, ROW_HEIGHT, rows.length);
  // Grid lines under everything.
  ctx.fillStyle = "#eef0f3";
  for (const t of niceTicks(p.view[0], p.view[1], Math.max(2, Math.floor(timeWidth / 110)))) {
    ctx.fillRect(Math.round(scale.x(t)), 0, 1, height);
  }
  ctx.fillStyle = "#e5e7eb";
  ctx.fillRect(NAME_WIDTH, 0, 1, height);
  ctx.textBaseline = "middle";
  for (let row = first; row < last; row++) {
    const span = rows[row];
    const y = row * ROW_HEIGHT - offset;
    const mid = y + ROW_HEIGHT / 2;
    const isError = trace.status[span] === STATUS_ERROR;
    // Row background: selection, find matches, hover.
    let bg: string | null = null;
    if (span === selected) bg = "#dbeafe";
    else if (span === highlights.current) bg = "#fde68a";
    else if (highlights.matches?.[span]) bg = "#fef9c3";
    else if (highlights.searched?.[span]) bg = "#f3efff";
    else if (row === hover) bg = "#f3f4f6";
    if (bg) {
      ctx.fillStyle = bg;
      ctx.fillRect(0, y, width, ROW_HEIGHT);
    }
    if (highlights.searched?.[span]) {
      ctx.fillStyle = SEARCHED_COLOR;
      ctx.fillRect(0, y + 1, 3, ROW_HEIGHT - 2);
    }
    // Name column: indentation, toggle, error mark, service, operation.
    const d = depth[span];
    let x = Math.min(d, MAX_INDENT_LEVELS) * INDENT + 4;
    ctx.fillStyle = "#d1d5db";
    for (let level = 1; level <= Math.min(d, MAX_INDENT_LEVELS); level++) {
      ctx.fillRect(level * INDENT - 4, y, 1, ROW_HEIGHT);
    }
    if (childCount[span] > 0) {
      ctx.fillStyle = "#4b5563";
      ctx.beginPath();
      if (p.collapsed[span]) {
        ctx.moveTo(x + 3, mid - 5);
        ctx.lineTo(x + 9, mid);
        ctx.lineTo(x + 3, mid + 5);
      } else {
        ctx.moveTo(x + 1, mid - 3);
        ctx.lineTo(x + 11, mid - 3);
        ctx.lineTo(x + 6, mid + 3);
      }
      ctx.fill();
    }
    x += 16;
    if (d > MAX_INDENT_LEVELS) {
      ctx.font = FONT_SMALL;
      ctx.fillStyle = "#6b7280";
      const label = `L${d}`;
      ctx.fillText(label, x, mid);
      x += ctx.measureText(label).width + 4;
    }
    if (isError) {
      ctx.fillStyle = ERROR_COLOR;
      ctx.beginPath();
      ctx.arc(x + 6, mid, 6, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.font = "bold 10px sans-serif";
      ctx.fillText("!", x + 4.5, mid + 0.5);
      x += 16;
    }
    const service = trace.strings[trace.service[span]];
    const color = serviceColor(service);
    ctx.fillStyle = color;
    ctx.fillRect(x, y + 5, 3, ROW_HEIGHT - 10);
    x += 8;
    const warn = highlights.warnings.get(span);
    const nameRight = NAME_WIDTH - (warn ? 22 : 8);
    ctx.font = FONT_BOLD;
    ctx.fillStyle = "#111827";
    const serviceWidth = fitText(ctx, service, x, mid, Math.min(170, nameRight - x));
    x += serviceWidth + 6;
    ctx.font = FONT;
    ctx.fillStyle = "#4b5563";
    if (x < nameRight) fitText(ctx, trace.strings[trace.name[span]], x, mid, nameRight - x);
    if (p.collapsed[span] && childCount[span] > 0) {
      // Collapsed: say how much is hidden.
      ctx.font = FONT_SMALL;
      ctx.fillStyle = "#6b7280";
    }
    if (warn) {
      ctx.font = "13px sans-serif";
      ctx.fillStyle = "#d97706";
      ctx.fillText("⚠", NAME_WIDTH - 18, mid);
    }
    // Timeline: the bar, the critical path inside it, event ticks, the duration.
    const start = trace.start[span];
    const end = start + trace.duration[span];
    if (end < p.view[0] || start > p.view[1]) continue;
    const x0 = Math.max(scale.x(start), NAME_WIDTH + 2);
    const x1 = Math.min(scale.x(end), width - 4);
    const barW = Math.max(x1 - x0, 1.5);
    const critical = highlights.critical?.[span];
    ctx.fillStyle = isError ? ERROR_COLOR : color;
    ctx.globalAlpha = highlights.critical && !critical ? 0.55 : 1;
    roundRect(ctx, x0, y + 6, barW, ROW_HEIGHT - 12, 2);
    ctx.globalAlpha = 1;
    const segments = highlights.criticalSegments.get(span);
    if (segments) {
      ctx.fillStyle = "#111827";
      for (const [a, b] of segments) {
        const sx = Math.max(scale.x(a), x0);
        const ex = Math.min(scale.x(b), x1);
        if (ex > sx) ctx.fillRect(sx, y + ROW_HEIGHT - 6, Math.max(ex - sx, 1), 3);
      }
    }
    if (trace.eventSpan.length) {
      ctx.fillStyle = "#1f2937";
      for (let e = firstEvent(trace.eventSpan, span); e < trace.eventSpan.length && trace.eventSpan[e] === span; e++) {
        const ex = scale.x(trace.eventTime[e]);
        if (ex >= NAME_WIDTH && ex <= width) ctx.fillRect(Math.round(ex), y + 4, 1.5, ROW_HEIGHT - 8);
      }
    }
    ctx.font = FONT_SMALL;
    ctx.fillStyle = "#374151";
    const label = formatDuration(trace.duration[span]);
    const labelW = ctx.measureText(label).width;
    if (x0 + barW + labelW + 8 < width) ctx.fillText(label, x0 + barW + 5, mid);
    else if (x0 - labelW - 6 > NAME_WIDTH) ctx.fillText(label, x0 - labelW - 5, mid);
  }
}

function roundRect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number) {
  if (w < 2 * r + 1) {
    ctx.fillRect(x, y, w, h);
    return;
  }
  ctx.beginPath();
  ctx.roundRect(x, y, w, h, r);
  ctx.fill();
}

/** Draw text cut with an ellipsis to fit; returns the width used. */
function fitText(ctx: CanvasRenderingContext2D, text: string, x: number, y: number, max: number): number {
  if (max <= 8) return 0;
  let shown = text.length > 200 ? text.slice(0, 200) : text;
  let w = ctx.measureText(shown).width;
  if (w > max) {
    let lo = 0;
    let hi = shown.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (ctx.measureText(shown.slice(0, mid) + "…").width <= max) lo = mid;
      else hi = mid - 1;
    }
    shown = shown.slice(0, lo) + "…";
    w = ctx.measureText(shown).width;
  }
  ctx.fillText(shown, x, y);
  return w;
}

function drawRuler(canvas: HTMLCanvasElement, p: Props, width: number): void {
  const ctx = prepare(canvas, width, RULER_HEIGHT);
  ctx.clearRect(0, 0, width, RULER_HEIGHT);
  ctx.fillStyle = "#f9fafb";
  ctx.fillRect(0, 0, width, RULER_HEIGHT);
  ctx.fillStyle = "#e5e7eb";
  ctx.fillRect(0, RULER_HEIGHT - 1, width, 1);
  ctx.fillRect(NAME_WIDTH, 0, 1, RULER_HEIGHT);
  ctx.font = FONT_BOLD;
  ctx.fillStyle = "#374151";
  ctx.textBaseline = "middle";
  ctx.fillText("Service & operation", 12, RULER_HEIGHT / 2);
  const timeWidth = width - NAME_WIDTH - 16;
  const scale = new TimeScale(p.view[0], p.view[1], NAME_WIDTH + 8, timeWidth - 8);
  ctx.font = FONT_SMALL;
  ctx.fillStyle = "#6b7280";
  for (const t of niceTicks(p.view[0], p.view[1], Math.max(2, Math.floor(timeWidth / 110)))) {
    const x = Math.round(scale.x(t));
    ctx.fillRect(x, RULER_HEIGHT - 7, 1, 6);
    ctx.fillText(formatDuration(t), x + 3, RULER_HEIGHT / 2 - 2);
  }
}

function renderMinimap(trace: TraceData, rows: Int32Array, width: number): HTMLCanvasElement | OffscreenCanvas {
  const w = Math.max(width - 16, 10);
  const h = MINIMAP_HEIGHT;
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext("2d")!;
  const total = Math.max(trace.summary.durationNs, 1);
  const n = rows.length;
  // At most ~4 rows per pixel line are drawn: enough to show the trace's shape.
  const step = Math.max(1, Math.floor(n / (h * 4)));
  const rowH = Math.max(h / n, 1);
  for (let row = 0; row < n; row += step) {
    const span = rows[row];
    const x0 = (trace.start[span] / total) * w;
    const x1 = ((trace.start[span] + trace.duration[span]) / total) * w;
    ctx.fillStyle = trace.status[span] === STATUS_ERROR ? ERROR_COLOR : serviceColor(trace.strings[trace.service[span]]);
    ctx.fillRect(x0, (row / n) * h, Math.max(x1 - x0, 1), rowH);
  }
  return canvas;
}

function drawMinimap(
  canvas: HTMLCanvasElement,
  bitmap: HTMLCanvasElement | OffscreenCanvas,
  trace: TraceData,
  view: [number, number],
  drag: [number, number] | null,
  width: number,
): void {
  const ctx = prepare(canvas, width, MINIMAP_HEIGHT);
  ctx.clearRect(0, 0, width, MINIMAP_HEIGHT);
  ctx.fillStyle = "#fbfbfc";
  ctx.fillRect(0, 0, width, MINIMAP_HEIGHT);
  ctx.drawImage(bitmap, NAME_WIDTH, 0);
  const scale = new TimeScale(0, trace.summary.durationNs, NAME_WIDTH, width - NAME_WIDTH - 16);
  // Shade what is outside the current window.
  ctx.fillStyle = "rgba(17, 24, 39, 0.12)";
  const a = scale.x(view[0]);
  const b = scale.x(view[1]);
  ctx.fillRect(NAME_WIDTH, 0, a - NAME_WIDTH, MINIMAP_HEIGHT);
  ctx.fillRect(b, 0, width - 16 - b, MINIMAP_HEIGHT);
  ctx.fillStyle = "#2563eb";
  ctx.fillRect(a, 0, 1.5, MINIMAP_HEIGHT);
  ctx.fillRect(b - 1.5, 0, 1.5, MINIMAP_HEIGHT);
  if (drag) {
    ctx.fillStyle = "rgba(37, 99, 235, 0.18)";
    const x0 = scale.x(Math.min(drag[0], drag[1]));
    const x1 = scale.x(Math.max(drag[0], drag[1]));
    ctx.fillRect(x0, 0, x1 - x0, MINIMAP_HEIGHT);
  }
  ctx.fillStyle = "#e5e7eb";
  ctx.fillRect(0, MINIMAP_HEIGHT - 1, width, 1);
}
