// The same trace as a flame graph (an icicle over time): one band per depth, each span as wide
// as its duration, children under their parent. Drawn on one canvas from start-ordered levels;
// spans narrower than a pixel next to one already drawn are skipped, so a frame stays cheap at
// 1M spans. Click selects a span (the span panel opens), Ctrl+wheel zooms, drag pans.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { ERROR_COLOR, serviceColor } from "../colors";
import { formatDuration } from "../format";
import { firstStartingAfter, flameLevels, levelMaxDuration, niceTicks, TimeScale } from "./layout";
import { STATUS_ERROR, type TraceData } from "./model";
import { clampView, type Highlights, prepare } from "./Waterfall";

const BAND = 22;
const RULER = 22;
const PAD = 8;
const FONT = "12px ui-sans-serif, system-ui, -apple-system, 'Segoe UI', sans-serif";

interface Props {
  trace: TraceData;
  view: [number, number];
  selected: number;
  highlights: Highlights;
  onSelect(span: number): void;
  onView(view: [number, number]): void;
}

export function FlameGraph(props: Props) {
  const { trace, view } = props;
  const levels = useMemo(() => {
    const t0 = performance.now();
    const built = flameLevels(trace.layout.depth, trace.start);
    const longest = levelMaxDuration(built, trace.duration);
    if (window.__breadcrumbs) window.__breadcrumbs.flameLevelsMs = performance.now() - t0;
    return { ...built, longest };
  }, [trace]);
  const depthCount = levels.levelStart.length - 1;
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  const [hover, setHover] = useState(-1);
  const pan = useRef<{ x: number; view: [number, number]; moved: boolean } | null>(null);
  const height = RULER + depthCount * BAND + PAD;

  useLayoutEffect(() => {
    const el = boxRef.current!;
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    setWidth(el.clientWidth);
    return () => observer.disconnect();
  }, []);

  const scale = new TimeScale(view[0], view[1], PAD, Math.max(width - 2 * PAD, 1));

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !width) return;
    const frame = requestAnimationFrame(() => {
      const t0 = performance.now();
      draw(canvas, props, levels, scale, width, height, hover);
      const timings = window.__breadcrumbs;
      if (timings) (timings.flameDraws ??= []).push(performance.now() - t0);
    });
    return () => cancelAnimationFrame(frame);
  });

  /** The span under a point, by its band and a binary search of that level. */
  const spanAt = (clientX: number, clientY: number): number => {
    const rect = canvasRef.current!.getBoundingClientRect();
    const level = Math.floor((clientY - rect.top - RULER) / BAND);
    if (level < 0 || level >= depthCount) return -1;
    const t = scale.t(clientX - rect.left);
    const { levelStart, spans } = levels;
    const tolerance = (view[1] - view[0]) / Math.max(width, 1); // one pixel
    // The spans starting before t, latest first: the first one still running at t is it.
    const upto = firstStartingAfter(spans, levelStart[level], levelStart[level + 1], trace.start, t + tolerance);
    for (let i = upto - 1, tries = 0; i >= levelStart[level] && tries < 64; i--, tries++) {
      const span = spans[i];
      if (trace.start[span] + trace.duration[span] + tolerance >= t) return span;
    }
    return -1;
  };

  const onWheel = (event: WheelEvent) => {
    if (!(event.ctrlKey || event.metaKey)) return;
    event.preventDefault();
    const rect = canvasRef.current!.getBoundingClientRect();
    const at = scale.t(event.clientX - rect.left);
    const factor = Math.exp(event.deltaY * 0.002);
    props.onView(clampView(at - (at - view[0]) * factor, at + (view[1] - at) * factor, trace));
  };
  const onDown = (event: PointerEvent) => {
    pan.current = { x: event.clientX, view, moved: false };
    (event.target as Element).setPointerCapture(event.pointerId);
  };
  const onMove = (event: PointerEvent) => {
    const drag = pan.current;
    if (drag && Math.abs(event.clientX - drag.x) > 3) {
      drag.moved = true;
      const w = drag.view[1] - drag.view[0];
      const dt = ((event.clientX - drag.x) / Math.max(width - 2 * PAD, 1)) * w;
      const start = Math.min(Math.max(drag.view[0] - dt, 0), trace.summary.durationNs - w);
      props.onView([start, start + w]);
    } else if (!drag) setHover(spanAt(event.clientX, event.clientY));
  };
  const onUp = (event: PointerEvent) => {
    const drag = pan.current;
    pan.current = null;
    if (drag && !drag.moved) {
      const span = spanAt(event.clientX, event.clientY);
      if (span >= 0) props.onSelect(span);
    }
  };

  return (
    <div class="flame" ref={boxRef} data-testid="flame-graph" data-levels={depthCount}>
      <div class="flame-head muted small">
        <span>
          One band per level of the span tree, width is time. Click a span for its details, drag to pan, Ctrl+wheel to
          zoom.
        </span>
        {(view[0] > 0 || view[1] < trace.summary.durationNs) && (
          <button class="link" onClick={() => props.onView([0, trace.summary.durationNs])}>
            Reset zoom
          </button>
        )}
      </div>
      <div class="flame-scroll">
        <canvas
          ref={canvasRef}
          data-testid="flame-canvas"
          onWheel={onWheel}
          onPointerDown={onDown}
          onPointerMove={onMove}
          onPointerUp={onUp}
          onPointerLeave={() => setHover(-1)}
        />
      </div>
      {hover >= 0 && (
        <div class="wf-tip">
          <span class="dot" style={{ background: serviceColor(trace.strings[trace.service[hover]]) }} />
          <b>{trace.strings[trace.service[hover]]}</b> {trace.strings[trace.name[hover]]}
          <span class="muted">
            {" "}
            · {formatDuration(trace.duration[hover])} · starts at +{formatDuration(trace.start[hover])}
          </span>
        </div>
      )}
    </div>
  );
}

function draw(
  canvas: HTMLCanvasElement,
  p: Props,
  levels: ReturnType<typeof flameLevels> & { longest: Float64Array },
  scale: TimeScale,
  width: number,
  height: number,
  hover: number,
): void {
  const ctx = prepare(canvas, width, height);
  ctx.clearRect(0, 0, width, height);
  const { trace, view, highlights, selected } = p;
  const { levelStart, spans, longest } = levels;
  const pixelNs = (view[1] - view[0]) / Math.max(width, 1);
  ctx.font = FONT;
  ctx.textBaseline = "middle";
  ctx.fillStyle = "#eef0f3";
  const ticks = niceTicks(view[0], view[1], Math.max(2, Math.floor(width / 120)));
  for (const t of ticks) ctx.fillRect(Math.round(scale.x(t)), RULER - 4, 1, height);
  ctx.fillStyle = "#6b7280";
  for (const t of ticks) ctx.fillText(formatDuration(t), scale.x(t) + 3, 9);
  for (let level = 0; level + 1 < levelStart.length; level++) {
    const y = RULER + level * BAND;
    const from = levelStart[level];
    const to = firstStartingAfter(spans, from, levelStart[level + 1], trace.start, view[1]);
    // Spans starting longer before the window than the level's longest span have ended.
    const first = firstStartingAfter(spans, from, to, trace.start, view[0] - longest[level] - 1);
    // When even the longest span is under a pixel, the spans starting inside a pixel already
    // drawn end inside it too: jump past them by start time instead of walking them.
    const jump = longest[level] < pixelNs;
    let lastX = -Infinity;
    for (let i = Math.max(first - 1, from); i < to; i++) {
      const span = spans[i];
      const end = trace.start[span] + trace.duration[span];
      if (end < view[0]) continue;
      const x0 = Math.max(scale.x(trace.start[span]), 0);
      const x1 = Math.min(scale.x(end), width);
      if (x1 - x0 < 1 && x1 < lastX + 1) {
        // under a pixel already drawn
        if (jump) i = Math.max(i, firstStartingAfter(spans, i, to, trace.start, scale.t(Math.floor(lastX) + 1)) - 1);
        continue;
      }
      const w = Math.max(x1 - x0, 1);
      const service = trace.strings[trace.service[span]];
      ctx.globalAlpha = highlights.critical && !highlights.critical[span] ? 0.6 : 1;
      ctx.fillStyle = trace.status[span] === STATUS_ERROR ? ERROR_COLOR : serviceColor(service);
      ctx.fillRect(x0, y + 1, w - (w > 3 ? 1 : 0), BAND - 2);
      ctx.globalAlpha = 1;
      const searched = highlights.searched?.[span];
      if (span === selected || span === hover || searched || highlights.matches?.[span]) {
        ctx.strokeStyle = span === selected ? "#1d4ed8" : searched ? "#7c3aed" : "#111827";
        ctx.lineWidth = span === selected || searched ? 2 : 1;
        ctx.strokeRect(x0 + 1, y + 2, Math.max(w - 2, 1), BAND - 4);
      }
      if (w > 40) {
        ctx.save();
        ctx.beginPath();
        ctx.rect(x0 + 4, y, w - 8, BAND);
        ctx.clip();
        ctx.fillStyle = "#fff";
        ctx.fillText(`${service} ${trace.strings[trace.name[span]]}`, x0 + 5, y + BAND / 2 + 0.5);
        ctx.restore();
      }
      lastX = x1;
    }
  }
}
