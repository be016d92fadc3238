// One trace: header, waterfall, find-in-trace, span panel. The trace arrives through a worker
// that parses the native API's stream and lays the tree out off the main thread.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { CompareMenu } from "../analysis/entry";
import { explain as fetchExplain, matches as fetchMatches, type Explain } from "../api";
import { serviceColor } from "../colors";
import { formatCount, formatDateTime, formatDuration } from "../format";
import { navigate } from "../router";
import { ancestors, findSpanId, spanIdAt, visibleRows } from "../trace/layout";
import type { Header, LoaderMessage, TraceData } from "../trace/model";
import { FlameGraph } from "../trace/FlameGraph";
import { SpanPanel } from "../trace/SpanPanel";
import { clampView, type Highlights, Waterfall } from "../trace/Waterfall";

interface Loading {
  header: Header | null;
  loaded: number;
  error: { status: number; message: string } | null;
}

declare global {
  interface Window {
    /** Read by the browser benchmark: when the trace arrived and became interactive. */
    __breadcrumbs?: {
      /** Epoch ms (performance.timeOrigin + now) of each step, for the browser benchmark. */
      headerAt: number;
      arrivedAt: number;
      readyAt: number;
      interactiveAt: number;
      fetchMs: number;
      layoutMs: number;
      spans: number;
      draws: number[];
      /** The flame graph: its levels' build time and each frame's draw time (ms). */
      flameLevelsMs?: number;
      flameDraws?: number[];
    };
  }
}

export interface TraceParams {
  /** The span to select (a span id). */
  span: string | null;
  /** The search the trace was opened from (its span conditions): its matches are highlighted. */
  match: string | null;
  /** "flame" for the flame graph; the waterfall otherwise. */
  view: string | null;
}

/** The page's URL for a state, keeping what the others need. */
export function traceUrl(traceId: string, params: TraceParams): string {
  const q = new URLSearchParams();
  if (params.span) q.set("span", params.span);
  if (params.view === "flame") q.set("view", "flame");
  if (params.match) q.set("match", params.match);
  const text = q.toString();
  return `/trace/${traceId}${text ? `?${text}` : ""}`;
}

export function TracePage({ traceId, params }: { traceId: string; params: TraceParams }) {
  const [trace, setTrace] = useState<TraceData | null>(null);
  const [loading, setLoading] = useState<Loading>({ header: null, loaded: 0, error: null });
  const [analysis, setAnalysis] = useState<Explain | null>(null);

  useEffect(() => {
    setTrace(null);
    setAnalysis(null);
    setLoading({ header: null, loaded: 0, error: null });
    const worker = new Worker(new URL("../trace/loader.worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<LoaderMessage>) => {
      const m = event.data;
      if (m.type === "header") {
        window.__breadcrumbs = { ...emptyTimings(), headerAt: now() };
        setLoading((l) => ({ ...l, header: m.header }));
      }
      else if (m.type === "progress") setLoading((l) => ({ ...l, loaded: m.loaded }));
      else if (m.type === "error") setLoading((l) => ({ ...l, error: { status: m.status, message: m.message } }));
      else if (m.type === "ready") {
        window.__breadcrumbs = {
          ...(window.__breadcrumbs ?? emptyTimings()),
          ...m.timings,
          readyAt: now(),
          spans: m.trace.n,
        };
        setTrace(m.trace);
        worker.terminate();
      }
    };
    worker.postMessage({ traceId });
    const abort = new AbortController();
    fetchExplain(traceId, abort.signal).then(setAnalysis, () => setAnalysis(null));
    return () => {
      worker.terminate();
      abort.abort();
    };
  }, [traceId]);

  if (loading.error) {
    const notFound = loading.error.status === 404;
    return (
      <div class="page">
        <div class="empty-state">
          <h2>{notFound ? "Trace not found" : "Could not load this trace"}</h2>
          <p>
            {notFound
              ? `No span of trace ${traceId} is stored here. It may be older than the retention, still on its way (spans are searchable within 2 s), or sent to another breadcrumbs.`
              : loading.error.message}
          </p>
          <p>
            <a class="button" href="/search">
              Search traces
            </a>
          </p>
        </div>
      </div>
    );
  }
  if (!trace) {
    const total = loading.header?.summary.spanCount ?? 0;
    return (
      <div class="page trace-page">
        {loading.header && <TraceHeader summary={loading.header.summary} traceId={traceId} analysis={null} onOrigin={null} />}
        <div class="loading-block" data-testid="trace-loading">
          <div class="spinner" />
          <div>
            {loading.header
              ? `Loading ${formatCount(loading.loaded)} of ${formatCount(total)} spans…`
              : "Loading trace…"}
          </div>
          {total > 0 && (
            <div class="progress">
              <div style={{ width: `${(100 * loading.loaded) / total}%` }} />
            </div>
          )}
        </div>
      </div>
    );
  }
  return <TraceView trace={trace} analysis={analysis} params={params} />;
}

const now = () => performance.timeOrigin + performance.now();

function emptyTimings(): NonNullable<Window["__breadcrumbs"]> {
  return { headerAt: 0, arrivedAt: 0, readyAt: 0, interactiveAt: 0, fetchMs: 0, layoutMs: 0, spans: 0, draws: [] };
}

function TraceHeader(props: {
  summary: TraceData["summary"];
  traceId: string;
  analysis: Explain | null;
  onOrigin: (() => void) | null;
}) {
  const s = props.summary;
  const origin = props.analysis?.errors.origins[0];
  return (
    <header class="trace-header" data-testid="trace-header">
      <div class="trace-title">
        <h1>
          {s.root ? (
            <>
              <span class="dot big" style={{ background: serviceColor(s.root.service) }} />
              <span class="svc">{s.root.service}</span> <span class="op">{s.root.name}</span>
            </>
          ) : (
            <span>Trace without a root span</span>
          )}
        </h1>
        <div class="trace-id mono">{props.traceId}</div>
        <CompareMenu traceId={props.traceId} />
      </div>
      <div class="stats">
        <Stat label="Duration" value={formatDuration(s.durationNs)} />
        <Stat label="Spans" value={formatCount(s.spanCount)} />
        <Stat label="Services" value={String(s.services.length)} />
        <Stat label="Depth" value={String(s.depth)} />
        <Stat label="Errors" value={String(s.errorCount)} tone={s.errorCount ? "error" : undefined} />
        <Stat label="Started" value={formatDateTime(s.startNs / 1e6)} />
        {origin && props.onOrigin && (
          <button class="button button-error" onClick={props.onOrigin} data-testid="error-origin">
            Show error origin: {origin.service} · {origin.exceptionType ?? origin.name}
          </button>
        )}
      </div>
      <div class="chips">
        {s.services.map((svc) => (
          <span class="chip" title={`${svc.spans} spans, ${svc.errors} errors`}>
            <span class="dot" style={{ background: serviceColor(svc.name) }} />
            {svc.name} <span class="muted">{formatCount(svc.spans)}</span>
            {svc.errors > 0 && <span class="err-count">{svc.errors}!</span>}
          </span>
        ))}
      </div>
    </header>
  );
}

function Stat({ label, value, tone }: { label: string; value: string; tone?: "error" }) {
  return (
    <div class={`stat ${tone === "error" && value !== "0" ? "stat-error" : ""}`}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
    </div>
  );
}

function TraceView({ trace, analysis, params }: { trace: TraceData; analysis: Explain | null; params: TraceParams }) {
  const spanParam = params.span;
  const flame = params.view === "flame";
  const urlFor = (span: number) => traceUrl(trace.traceId, { ...params, span: span >= 0 ? spanIdAt(trace.spanIds, span) : null });
  const [collapsedVersion, setCollapsedVersion] = useState(0);
  const collapsed = useMemo(() => new Uint8Array(trace.n), [trace]);
  const rows = useMemo(() => visibleRows(trace.layout, collapsed), [trace, collapsedVersion]);
  const rowOf = useMemo(() => {
    const index = new Int32Array(trace.n).fill(-1);
    rows.forEach((span, row) => (index[span] = row));
    return index;
  }, [rows]);
  const [selected, setSelected] = useState(-1);
  const [view, setView] = useState<[number, number]>([0, trace.summary.durationNs]);
  const [scrollTo, setScrollTo] = useState({ row: -1, seq: 0 });
  const [query, setQuery] = useState("");
  const [matchIndex, setMatchIndex] = useState(0);
  const findRef = useRef<HTMLInputElement>(null);

  const highlights = useMemo(() => analysisHighlights(trace, analysis), [trace, analysis]);

  // The spans that met the search this trace was opened from, in display order.
  const [searched, setSearched] = useState<{ spans: Int32Array; flags: Uint8Array } | null>(null);
  const [searchedIndex, setSearchedIndex] = useState(-1);
  const [searchedError, setSearchedError] = useState<string | null>(null);
  useEffect(() => {
    setSearched(null);
    if (!params.match) return;
    const abort = new AbortController();
    fetchMatches(trace.traceId, new URLSearchParams(params.match), abort.signal).then(
      (ids) => {
        const index = indexOf(trace, ids);
        const flags = new Uint8Array(trace.n);
        for (const span of index.values()) flags[span] = 1;
        const spans = Int32Array.from(index.values()).sort((a, b) => trace.layout.position[a] - trace.layout.position[b]);
        setSearched({ spans, flags });
        if (spans.length && !spanParam) {
          setSearchedIndex(0);
          reveal(spans[0], false);
        }
      },
      (e: Error) => e.name !== "AbortError" && setSearchedError(e.message),
    );
    return () => abort.abort();
  }, [trace, params.match]);
  const stepSearched = (delta: number) => {
    if (!searched?.spans.length) return;
    const n = searched.spans.length;
    const next = (((searchedIndex + delta) % n) + n) % n;
    setSearchedIndex(next);
    reveal(searched.spans[next]);
  };

  // "key=value" finds spans by attribute: the attributes stay on the server, which answers
  // with the same matching as search (span, resource or event attributes).
  const [attributeMatches, setAttributeMatches] = useState<Int32Array | null>(null);
  const attributeQuery = /^\s*[^=\s]+\s*=/.test(query) ? query.trim() : "";
  useEffect(() => {
    setAttributeMatches(null);
    if (!attributeQuery) return;
    const abort = new AbortController();
    const timer = window.setTimeout(() => {
      // Any start time: the trace is already chosen.
      const params = new URLSearchParams({ tag: attributeQuery, start: "0", end: "9000000000000000000" });
      fetchMatches(trace.traceId, params, abort.signal).then(
        (ids) => {
          const index = indexOf(trace, ids);
          setAttributeMatches(Int32Array.from(index.values()).sort((a, b) => trace.layout.position[a] - trace.layout.position[b]));
        },
        () => setAttributeMatches(new Int32Array(0)),
      );
    }, 250);
    return () => {
      window.clearTimeout(timer);
      abort.abort();
    };
  }, [trace, attributeQuery]);
  const matches = useMemo(
    () => (attributeQuery ? attributeMatches : findMatches(trace, query)),
    [trace, query, attributeQuery, attributeMatches],
  );
  const matchFlags = useMemo(() => {
    if (!matches) return null;
    const flags = new Uint8Array(trace.n);
    for (const span of matches) flags[span] = 1;
    return flags;
  }, [matches]);
  const current = matches && matches.length ? matches[Math.min(matchIndex, matches.length - 1)] : -1;

  /** Select a span: expand its ancestors, scroll it into view, put it in the URL. */
  const reveal = useCallback(
    (span: number, select = true) => {
      let changed = false;
      for (const a of ancestors(trace.parent, span).slice(1)) {
        if (collapsed[a]) {
          collapsed[a] = 0;
          changed = true;
        }
      }
      if (changed) setCollapsedVersion((v) => v + 1);
      if (select) {
        setSelected(span);
        navigate(urlFor(span), true);
      }
      // Scroll once the rows reflect the expansion.
      setTimeout(() => {
        setScrollTo((s) => ({ row: span, seq: s.seq + 1 }));
      }, 0);
    },
    [trace, collapsed, params],
  );
  const scrollRow = scrollTo.row >= 0 ? rowOf[scrollTo.row] : -1;

  useEffect(() => {
    if (!spanParam) return;
    const span = findSpanId(trace.spanIds, spanParam);
    if (span >= 0) reveal(span);
  }, [trace]);

  const toggle = (span: number) => {
    collapsed[span] = collapsed[span] ? 0 : 1;
    setCollapsedVersion((v) => v + 1);
  };
  const setAll = (value: 0 | 1) => {
    if (value) {
      for (let i = 0; i < trace.n; i++) if (trace.layout.childCount[i] > 0 && trace.parent[i] >= 0) collapsed[i] = 1;
    } else collapsed.fill(0);
    setCollapsedVersion((v) => v + 1);
  };
  const select = (span: number) => {
    setSelected(span);
    navigate(urlFor(span), true);
  };
  const close = () => {
    setSelected(-1);
    navigate(urlFor(-1), true);
  };
  const setMode = (mode: "waterfall" | "flame") =>
    navigate(traceUrl(trace.traceId, { ...params, span: selected >= 0 ? spanIdAt(trace.spanIds, selected) : null, view: mode }), true);
  const step = (delta: number) => {
    if (!matches || !matches.length) return;
    const next = (Math.min(matchIndex, matches.length - 1) + delta + matches.length) % matches.length;
    setMatchIndex(next);
    reveal(matches[next]);
  };

  // Keyboard: ↑/↓ (or k/j) move, ←/→ collapse/expand, / find, n/N next/previous match, Esc close.
  // A layout effect, so the listener sees the rows of the last render before the next key
  // (a plain effect runs a frame later: a key pressed right after an expand used the old rows).
  useLayoutEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (target.tagName === "INPUT" || target.tagName === "TEXTAREA") return;
      const row = selected >= 0 ? rowOf[selected] : -1;
      const go = (r: number) => {
        if (r < 0 || r >= rows.length) return;
        select(rows[r]);
        setScrollTo((s) => ({ row: rows[r], seq: s.seq + 1 }));
      };
      switch (event.key) {
        case "ArrowDown":
        case "j":
          go(row + 1);
          break;
        case "ArrowUp":
        case "k":
          go(Math.max(row - 1, 0));
          break;
        case "ArrowLeft":
          if (selected < 0) return;
          if (trace.layout.childCount[selected] > 0 && !collapsed[selected]) toggle(selected);
          else if (trace.parent[selected] >= 0) go(rowOf[trace.parent[selected]]);
          break;
        case "ArrowRight":
          if (selected >= 0 && collapsed[selected]) toggle(selected);
          break;
        case "/":
          findRef.current?.focus();
          break;
        case "n":
          step(1);
          break;
        case "N":
          step(-1);
          break;
        case "Escape":
          close();
          break;
        default:
          return;
      }
      event.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  });

  const originSpan = useMemo(() => {
    const origin = analysis?.errors.origins[0];
    return origin ? findSpanId(trace.spanIds, origin.spanId) : -1;
  }, [trace, analysis]);
  const selectedId = selected >= 0 ? spanIdAt(trace.spanIds, selected) : null;
  const selectedOrigin = analysis?.errors.origins.find((o) => o.spanId === selectedId) ?? null;

  return (
    <div class={`page trace-page ${selected >= 0 ? "with-panel" : ""}`}>
      <TraceHeader
        summary={trace.summary}
        traceId={trace.traceId}
        analysis={analysis}
        onOrigin={originSpan >= 0 ? () => reveal(originSpan) : null}
      />
      {[...trace.warnings, ...(analysis?.warnings ?? [])].map((w) => (
        <div class="banner banner-warn" role="alert">
          ⚠ {w}
        </div>
      ))}
      {params.match && (
        <div class="search-matches" data-testid="search-matches">
          <span class="swatch" />
          {searchedError ? (
            <span>Could not find the spans your search matched: {searchedError}</span>
          ) : !searched ? (
            <span class="muted">Finding the spans your search matched…</span>
          ) : searched.spans.length ? (
            <>
              <span>
                <b>{formatCount(searched.spans.length)}</b> span{searched.spans.length === 1 ? "" : "s"} matched your search
                {searchedIndex >= 0 && ` · ${searchedIndex + 1} of ${formatCount(searched.spans.length)}`}
              </span>
              <button class="button small" onClick={() => stepSearched(-1)} title="Previous matching span">
                ↑
              </button>
              <button class="button small" onClick={() => stepSearched(1)} title="Next matching span" data-testid="next-searched">
                ↓
              </button>
            </>
          ) : (
            <span class="muted">No span of this trace meets the search any more (its time window may have passed).</span>
          )}
          <button class="link" onClick={() => navigate(traceUrl(trace.traceId, { ...params, match: null }), true)}>
            Clear
          </button>
        </div>
      )}
      <div class="toolbar">
        <div class="segmented" role="tablist">
          <button role="tab" aria-selected={!flame} class={!flame ? "active" : ""} onClick={() => setMode("waterfall")} data-testid="view-waterfall">
            Waterfall
          </button>
          <button role="tab" aria-selected={flame} class={flame ? "active" : ""} onClick={() => setMode("flame")} data-testid="view-flame">
            Flame graph
          </button>
        </div>
        <div class="find">
          <input
            ref={findRef}
            type="search"
            placeholder="Find by name, service, span id or key=value   ( / )"
            value={query}
            data-testid="find"
            onInput={(e) => {
              setQuery((e.target as HTMLInputElement).value);
              setMatchIndex(0);
            }}
            onKeyDown={(e) => {
              if (e.key === "Enter") step(e.shiftKey ? -1 : matches && matchIndex === 0 && current >= 0 && selected !== current ? 0 : 1);
              if (e.key === "Escape") (e.target as HTMLInputElement).blur();
            }}
          />
          {matches && (
            <span class="find-count" data-testid="find-count">
              {matches.length ? `${Math.min(matchIndex, matches.length - 1) + 1} of ${formatCount(matches.length)}` : "no match"}
            </span>
          )}
          <button class="button small" onClick={() => step(-1)} disabled={!matches?.length} title="Previous (N)">
            ↑
          </button>
          <button class="button small" onClick={() => step(1)} disabled={!matches?.length} title="Next (n)">
            ↓
          </button>
        </div>
        <div class="toolbar-right">
          {analysis && (
            <span class="legend">
              <span class="legend-bar" /> critical path
            </span>
          )}
          <button class="button small" onClick={() => setAll(0)}>
            Expand all
          </button>
          <button class="button small" onClick={() => setAll(1)}>
            Collapse all
          </button>
          <a class="button small" href={`/api/traces/${trace.traceId}`} target="_blank" rel="noopener">
            View JSON
          </a>
          <a class="button small" href={`/api/traces/${trace.traceId}`} download={`trace-${trace.traceId}.jaeger.json`}>
            Jaeger JSON ↓
          </a>
          <a class="button small" href={`/api/v3/traces/${trace.traceId}`} download={`trace-${trace.traceId}.otlp.json`}>
            OTLP JSON ↓
          </a>
        </div>
      </div>
      <div class="trace-main">
        {flame ? (
          <FlameGraph
            trace={trace}
            view={view}
            selected={selected}
            highlights={{ ...highlights, matches: matchFlags, current, searched: searched?.flags ?? null }}
            onSelect={select}
            onView={(v) => setView(clampView(v[0], v[1], trace))}
          />
        ) : (
          <Waterfall
            trace={trace}
            rows={rows}
            collapsed={collapsed}
            selected={selected}
            view={view}
            highlights={{ ...highlights, matches: matchFlags, current, searched: searched?.flags ?? null }}
            scrollTo={{ row: scrollRow, seq: scrollTo.seq }}
            onSelect={select}
            onToggle={toggle}
            onView={(v) => setView(clampView(v[0], v[1], trace))}
          />
        )}
        {selectedId && (
          <SpanPanel
            traceId={trace.traceId}
            spanId={selectedId}
            traceStartNs={trace.summary.startNs}
            origin={selectedOrigin}
            notes={highlights.warnings.get(selected) ?? []}
            onClose={close}
            onJump={(id) => {
              const span = findSpanId(trace.spanIds, id);
              if (span >= 0) reveal(span);
            }}
          />
        )}
      </div>
    </div>
  );
}

/** Spans whose service or name contains the text (any case), or whose id starts with it. */
export function findMatches(trace: TraceData, query: string): Int32Array | null {
  const q = query.trim().toLowerCase();
  if (!q) return null;
  // Match each distinct string once, then scan the index columns.
  const hit = new Uint8Array(trace.strings.length);
  trace.strings.forEach((s, i) => (hit[i] = s.toLowerCase().includes(q) ? 1 : 0));
  const idLike = /^[0-9a-f]{4,16}$/.test(q);
  const found: number[] = [];
  const { order } = trace.layout;
  for (let pos = 0; pos < order.length; pos++) {
    const span = order[pos];
    if (hit[trace.name[span]] || hit[trace.service[span]] || (idLike && trace.spanIds.startsWith(q, span * 16))) {
      found.push(span);
    }
  }
  return Int32Array.from(found);
}

function analysisHighlights(trace: TraceData, analysis: Explain | null): Omit<Highlights, "matches" | "current" | "searched"> {
  const warnings = new Map<number, string[]>();
  for (const [row, text] of trace.spanWarnings) warnings.set(row, [...(warnings.get(row) ?? []), text]);
  const criticalSegments = new Map<number, [number, number][]>();
  let critical: Uint8Array | null = null;
  if (analysis) {
    critical = new Uint8Array(trace.n);
    const start = trace.summary.startNs;
    const index = indexOf(trace, [
      ...analysis.criticalPath.segments.map((s) => s.spanId ?? ""),
      ...analysis.skew.map((s) => s.spanId),
    ]);
    for (const segment of analysis.criticalPath.segments) {
      const span = index.get(segment.spanId ?? "");
      if (span === undefined) continue;
      critical[span] = 1;
      const list = criticalSegments.get(span) ?? [];
      list.push([segment.startNs - start, segment.endNs - start]);
      criticalSegments.set(span, list);
    }
    for (const skew of analysis.skew) {
      const span = index.get(skew.spanId);
      if (span === undefined) continue;
      const text = `clock skew: ${skew.issue.replaceAll("-", " ")} by ${formatDuration(skew.byNs)}`;
      warnings.set(span, [...(warnings.get(span) ?? []), text]);
    }
  }
  return { critical, criticalSegments, warnings };
}

/** Rows of the given span ids, in one pass over the trace. */
function indexOf(trace: TraceData, ids: string[]): Map<string, number> {
  const wanted = new Set(ids.filter(Boolean));
  const found = new Map<string, number>();
  if (wanted.size < 8) {
    for (const id of wanted) {
      const span = findSpanId(trace.spanIds, id);
      if (span >= 0) found.set(id, span);
    }
    return found;
  }
  for (let span = 0; span < trace.n && found.size < wanted.size; span++) {
    const id = spanIdAt(trace.spanIds, span);
    if (wanted.has(id)) found.set(id, span);
  }
  return found;
}
