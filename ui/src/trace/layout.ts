// Pure layout of a trace: the span tree in display order, collapsing, time scales and the
// window of rows to draw. Typed arrays throughout, so a 1M-span trace is a few linear passes.

export interface Layout {
  /** Span rows in display order: depth-first, children by start time. */
  order: Int32Array;
  /** Per span: its depth (roots and orphans are 0). */
  depth: Int32Array;
  /** Per display position: the position just after its subtree. */
  subtreeEnd: Int32Array;
  /** Per span: its display position. */
  position: Int32Array;
  /** Per span: how many children it has. */
  childCount: Int32Array;
}

/**
 * Build the display tree. `parent[i]` is span i's parent row or -1 (a root, or a parent that
 * never arrived: shown at the top level). Children are ordered by `start`, ties by row.
 */
export function buildLayout(parent: Int32Array, start: Float64Array): Layout {
  const n = parent.length;
  const childCount = new Int32Array(n);
  let rootCount = 0;
  for (let i = 0; i < n; i++) {
    const p = parent[i];
    if (p >= 0 && p < n && p !== i) childCount[p]++;
    else rootCount++;
  }
  // Children of every span in one array (CSR): first[i] .. first[i+1].
  const first = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) first[i + 1] = first[i] + childCount[i];
  const fill = first.slice(0, n);
  const children = new Int32Array(first[n]);
  const roots = new Int32Array(rootCount);
  let r = 0;
  for (let i = 0; i < n; i++) {
    const p = parent[i];
    if (p >= 0 && p < n && p !== i) children[fill[p]++] = i;
    else roots[r++] = i;
  }
  const byStart = (a: number, b: number) => start[a] - start[b] || a - b;
  sortRuns(children, first, start, byStart);
  if (!isSorted(roots, 0, roots.length, start)) roots.sort(byStart);

  const order = new Int32Array(n);
  const depth = new Int32Array(n);
  const subtreeEnd = new Int32Array(n);
  const position = new Int32Array(n).fill(-1);
  // Iterative depth-first walk; a span is placed when first reached, its end set on leaving.
  const stack = new Int32Array(n + 1);
  const cursor = new Int32Array(n);
  let pos = 0;
  for (let ri = 0; ri < roots.length; ri++) {
    let top = 0;
    stack[top++] = roots[ri];
    const root = roots[ri];
    depth[root] = 0;
    position[root] = pos;
    order[pos++] = root;
    cursor[root] = first[root];
    while (top > 0) {
      const span = stack[top - 1];
      if (cursor[span] < first[span + 1]) {
        const child = children[cursor[span]++];
        if (position[child] !== -1) continue; // a cycle in bad data: never walk it twice
        depth[child] = depth[span] + 1;
        position[child] = pos;
        order[pos++] = child;
        cursor[child] = first[child];
        stack[top++] = child;
      } else {
        subtreeEnd[position[span]] = pos;
        top--;
      }
    }
  }
  // Spans only reachable through a parent cycle: append them flat so none is lost.
  for (let i = 0; i < n && pos < n; i++) {
    if (position[i] === -1) {
      depth[i] = 0;
      position[i] = pos;
      order[pos] = i;
      subtreeEnd[pos] = pos + 1;
      pos++;
    }
  }
  return { order, depth, subtreeEnd, position, childCount };
}

function isSorted(rows: Int32Array, from: number, to: number, start: Float64Array): boolean {
  for (let i = from + 1; i < to; i++) if (start[rows[i]] < start[rows[i - 1]]) return false;
  return true;
}

function sortRuns(
  rows: Int32Array,
  first: Int32Array,
  start: Float64Array,
  compare: (a: number, b: number) => number,
): void {
  for (let i = 0; i + 1 < first.length; i++) {
    const from = first[i];
    const to = first[i + 1];
    if (to - from > 1 && !isSorted(rows, from, to, start)) rows.subarray(from, to).sort(compare);
  }
}

/** The display positions' spans that are visible when the spans flagged in `collapsed` hide
 * their subtrees. */
export function visibleRows(layout: Layout, collapsed: Uint8Array): Int32Array {
  const { order, subtreeEnd } = layout;
  const n = order.length;
  const rows = new Int32Array(n);
  let count = 0;
  for (let pos = 0; pos < n; ) {
    const span = order[pos];
    rows[count++] = span;
    pos = collapsed[span] ? subtreeEnd[pos] : pos + 1;
  }
  return rows.slice(0, count);
}

/** The chain from a span up to its root, the span first. */
export function ancestors(parent: Int32Array, span: number): number[] {
  const chain: number[] = [];
  const seen = new Set<number>();
  for (let s = span; s >= 0 && !seen.has(s); s = parent[s]) {
    seen.add(s);
    chain.push(s);
  }
  return chain;
}

/** Rows [first, last) to draw for a viewport, with `overscan` extra rows either side. */
export function rowWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  rowCount: number,
  overscan = 0,
): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rowCount, Math.ceil((scrollTop + viewportHeight) / rowHeight) + overscan);
  return [first, Math.max(first, last)];
}

/** A linear map from a time window (ns after the trace start) onto pixels [x0, x0 + width]. */
export class TimeScale {
  constructor(
    readonly start: number,
    readonly end: number,
    readonly x0: number,
    readonly width: number,
  ) {}

  private get span(): number {
    return Math.max(this.end - this.start, 1);
  }

  x(t: number): number {
    return this.x0 + ((t - this.start) / this.span) * this.width;
  }

  t(x: number): number {
    return this.start + ((x - this.x0) / this.width) * this.span;
  }
}

/** Round tick positions (1, 2, 5 x 10^k ns) inside [start, end], about `count` of them. */
export function niceTicks(start: number, end: number, count: number): number[] {
  const range = end - start;
  if (!(range > 0) || count < 1) return [start];
  const raw = range / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let t = Math.ceil(start / step) * step; t <= end + step * 1e-9; t += step) ticks.push(t);
  return ticks;
}

/** Span ids are 16 hex characters, kept as one string to avoid a million small strings. */
export function spanIdAt(spanIds: string, span: number): string {
  return spanIds.substr(span * 16, 16);
}

export function findSpanId(spanIds: string, id: string): number {
  const wanted = id.toLowerCase();
  for (let at = spanIds.indexOf(wanted); at !== -1; at = spanIds.indexOf(wanted, at + 1)) {
    if (at % 16 === 0) return at / 16;
  }
  return -1;
}

/** Spans by depth for the flame graph: level d holds `spans[levelStart[d] .. levelStart[d+1])`,
 * each level in start order (ties by row). One counting pass plus a sort per level. */
export interface FlameLevels {
  levelStart: Int32Array;
  spans: Int32Array;
}

export function flameLevels(depth: Int32Array, start: Float64Array): FlameLevels {
  const n = depth.length;
  let levels = 0;
  for (let i = 0; i < n; i++) if (depth[i] + 1 > levels) levels = depth[i] + 1;
  const levelStart = new Int32Array(levels + 1);
  for (let i = 0; i < n; i++) levelStart[depth[i] + 1]++;
  for (let d = 0; d < levels; d++) levelStart[d + 1] += levelStart[d];
  const fill = levelStart.slice(0, levels);
  const spans = new Int32Array(n);
  for (let i = 0; i < n; i++) spans[fill[depth[i]]++] = i;
  const byStart = (a: number, b: number) => start[a] - start[b] || a - b;
  for (let d = 0; d < levels; d++) {
    const from = levelStart[d];
    const to = levelStart[d + 1];
    if (!isSorted(spans, from, to, start)) spans.subarray(from, to).sort(byStart);
  }
  return { levelStart, spans };
}

/** First index in [from, to) of a start-ordered level whose span starts after `t`. */
export function firstStartingAfter(spans: Int32Array, from: number, to: number, start: Float64Array, t: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (start[spans[mid]] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Per flame level, its longest span's duration: spans starting more than that before a time
 * have ended by then, and a level whose longest span is under a pixel can be skipped through
 * by start time alone. */
export function levelMaxDuration(levels: FlameLevels, duration: Float64Array): Float64Array {
  const { levelStart, spans } = levels;
  const max = new Float64Array(levelStart.length - 1);
  for (let d = 0; d + 1 < levelStart.length; d++) {
    let m = 0;
    for (let i = levelStart[d]; i < levelStart[d + 1]; i++) if (duration[spans[i]] > m) m = duration[spans[i]];
    max[d] = m;
  }
  return max;
}
