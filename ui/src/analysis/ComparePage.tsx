// Compare two traces (`/compare/<a>/<b>`) or one against its endpoint's typical trace
// (`/compare/<a>`): both sides as one aligned tree, spans found on one side only marked, and
// every duration change said in colour and in words.
import { useEffect, useMemo, useState } from "preact/hooks";
import { serviceColor } from "../colors";
import { formatCount, formatDuration } from "../format";
import { navigate } from "../router";
import * as api from "./api";
import { buildCompareTree, classify, initiallyCollapsed, visibleCompareRows, type CompareRow } from "./compare-tree";

const TRACE_ID = /^[0-9a-fA-F]{16,32}$/;

export function ComparePage({ a, b }: { a: string | null; b: string | null }) {
  if (!a) return <CompareStart />;
  return <Comparison a={a} b={b} />;
}

function CompareStart() {
  const [a, setA] = useState("");
  const [b, setB] = useState("");
  const ok = TRACE_ID.test(a.trim()) && (!b.trim() || TRACE_ID.test(b.trim()));
  return (
    <div class="page analysis-page">
      <div class="empty-state" data-testid="compare-start">
        <h2>Compare two traces</h2>
        <p>
          See what one request did differently from another: spans on one side only, and which parts took longer. Paste two trace ids,
          or one to compare it with a typical trace of its endpoint (one that did not fail, nearest the median duration in the hour around it).
        </p>
        <form
          class="compare-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (ok) navigate(`/compare/${a.trim().toLowerCase()}${b.trim() ? `/${b.trim().toLowerCase()}` : ""}`);
          }}
        >
          <input placeholder="Trace A (the one to explain)" value={a} aria-label="Trace A" onInput={(e) => setA((e.target as HTMLInputElement).value)} />
          <input placeholder="Trace B (empty: a typical trace)" value={b} aria-label="Trace B" onInput={(e) => setB((e.target as HTMLInputElement).value)} />
          <button class="button button-primary" type="submit" disabled={!ok}>
            Compare
          </button>
        </form>
        <p class="muted small">
          Also from a trace's header (<b>Compare…</b>) and from the search results (tick two traces).
        </p>
      </div>
    </div>
  );
}

function Comparison({ a, b }: { a: string; b: string | null }) {
  const [result, setResult] = useState<api.Comparison | null>(null);
  const [error, setError] = useState<{ status: number; message: string } | null>(null);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const [onlyChanges, setOnlyChanges] = useState(false);

  useEffect(() => {
    const abort = new AbortController();
    setResult(null);
    setError(null);
    api.compare(a, b, abort.signal).then(
      (found) => {
        setResult(found);
        setCollapsed(initiallyCollapsed(buildCompareTree(found.paths, sideName(found))));
      },
      (e: Error & { status?: number }) => e.name !== "AbortError" && setError({ status: e.status ?? 0, message: e.message }),
    );
    return () => abort.abort();
  }, [a, b]);

  const rows = useMemo(() => (result ? buildCompareTree(result.paths, sideName(result)) : []), [result]);

  if (error) {
    return (
      <div class="page analysis-page">
        <div class="empty-state" data-testid="compare-error">
          <h2>{error.status === 404 ? "Nothing to compare with" : "Could not compare these traces"}</h2>
          <p>{error.message}</p>
          <p class="muted">
            {error.status === 404
              ? b
                ? "Check both trace ids: each must be stored here (older traces may have left the retention)."
                : "A typical trace is one of the same root operation within an hour of this one. Compare with another trace id instead."
              : "Check that both ids are 16 or 32 hex characters."}
          </p>
          <p>
            <a class="button" href={`/trace/${a}`}>
              Open trace A
            </a>{" "}
            <a class="button" href="/compare">
              Compare other traces
            </a>
          </p>
        </div>
      </div>
    );
  }
  if (!result) {
    return (
      <div class="page analysis-page">
        <div class="loading-block" data-testid="compare-loading">
          <div class="spinner" />
          {b ? "Comparing the two traces…" : "Finding a typical trace of the same endpoint and comparing…"}
        </div>
      </div>
    );
  }

  const shown = visibleCompareRows(rows, collapsed, onlyChanges);
  const maxNs = Math.max(1, ...rows.map((r) => Math.max(r.diff.a.durationNs, r.diff.b.durationNs)));
  const toggle = (key: string) =>
    setCollapsed((c) => {
      const next = new Set(c);
      if (!next.delete(key)) next.add(key);
      return next;
    });
  const onlyA = rows.filter((r) => r.change.kind === "only-a").length;
  const onlyB = rows.filter((r) => r.change.kind === "only-b").length;
  const bLabel = sideName(result);

  return (
    <div class="page analysis-page compare-page" data-testid="compare">
      <div class="page-head">
        <h1>Compare traces</h1>
        <span class="muted">
          Spans are matched by their path of service and operation from the root; repeated spans (retries, loops) are summed.
        </span>
      </div>
      <div class="compare-sides">
        <SideCard label="A" shape={result.a} other={result.b} />
        <div class="compare-verdict" data-testid="compare-verdict">
          <Verdict result={result} />
          <div class="muted small">
            {onlyA} path{onlyA === 1 ? "" : "s"} only in A · {onlyB} only in {bLabel} ·{" "}
            {rows.filter((r) => r.change.kind === "slower" || r.change.kind === "faster").length} changed in time
          </div>
          <button class="link small" onClick={() => navigate(`/compare/${result.b.traceId}/${result.a.traceId}`)}>
            ⇄ Swap sides
          </button>
        </div>
        <SideCard label={result.baseline === "typical" ? "B · typical" : "B"} shape={result.b} other={result.a} />
      </div>
      {result.latency.length > 0 && (
        <div class="card biggest">
          <h2>Biggest changes in self time</h2>
          <div class="biggest-list">
            {result.latency.slice(0, 5).map((p) => (
              <div class="biggest-item">
                <span class="dot" style={{ background: serviceColor(p.service) }} />
                <b>{p.service}</b> <span>{p.spanName}</span>
                <span class={`delta ${p.selfDeltaNs > 0 ? "slower" : "faster"}`}>
                  {p.selfDeltaNs > 0 ? "▲ " : "▼ "}
                  {formatDuration(Math.abs(p.selfDeltaNs))} {p.selfDeltaNs > 0 ? "slower" : "faster"} in A
                </span>
              </div>
            ))}
          </div>
        </div>
      )}
      <div class="card compare-tree">
        <div class="compare-toolbar">
          <label class="check">
            <input type="checkbox" checked={onlyChanges} onChange={(e) => setOnlyChanges((e.target as HTMLInputElement).checked)} data-testid="only-changes" />
            Only differences
          </label>
          <button class="button small" onClick={() => setCollapsed(new Set())}>
            Expand all
          </button>
          <span class="legend-keys">
            <span class="swatch a" /> A <span class="swatch b" /> {bLabel}
            <span class="mark only-a">only in A</span>
            <span class="mark only-b">only in {bLabel}</span>
            <span class="delta slower">▲ slower in A</span>
            <span class="delta faster">▼ faster in A</span>
          </span>
        </div>
        <div class="ctree-head">
          <span>Span path</span>
          <span>A</span>
          <span>{bLabel}</span>
          <span>Difference</span>
        </div>
        <div class="ctree" data-testid="compare-tree">
          {shown.map((row) => (
            <TreeRow row={row} maxNs={maxNs} bLabel={bLabel} collapsed={collapsed.has(row.key)} onToggle={() => toggle(row.key)} />
          ))}
          {!shown.length && <div class="muted pad">The two traces have the same spans and timings.</div>}
        </div>
      </div>
    </div>
  );
}

function sideName(result: api.Comparison): string {
  return result.baseline === "typical" ? "typical" : "B";
}

function Verdict({ result }: { result: api.Comparison }) {
  if (result.identical) return <div class="verdict">Identical structure and timings</div>;
  const delta = result.deltaNs;
  const base = result.b.durationNs;
  const ratio = base > 0 ? Math.abs(delta) / base : 0;
  const size = ratio >= 1 ? `${(1 + ratio).toFixed(1)}× as long` : `${Math.round(ratio * 100)}%`;
  return (
    <div class={`verdict ${delta > 0 ? "slower" : delta < 0 ? "faster" : ""}`}>
      {delta === 0 ? "Same duration" : `A is ${formatDuration(Math.abs(delta))} ${delta > 0 ? "slower" : "faster"}`}
      {delta !== 0 && <span class="verdict-sub"> ({delta > 0 && ratio >= 1 ? size : `${delta > 0 ? "+" : "−"}${size}`})</span>}
    </div>
  );
}

function SideCard({ label, shape, other }: { label: string; shape: api.TraceShape; other: api.TraceShape }) {
  const spanDelta = shape.spans - other.spans;
  return (
    <a class="card side-card" href={`/trace/${shape.traceId}`} data-testid="compare-side">
      <div class="side-label">{label}</div>
      <div class="side-root">
        {shape.root ? (
          <>
            <span class="dot" style={{ background: serviceColor(shape.root.service) }} />
            <b>{shape.root.service}</b> <span>{shape.root.spanName}</span>
          </>
        ) : (
          <span class="muted">no root span</span>
        )}
      </div>
      <div class="side-stats">
        <span>
          <b>{formatDuration(shape.durationNs)}</b>
        </span>
        <span>
          {formatCount(shape.spans)} spans{spanDelta ? <span class="muted"> ({spanDelta > 0 ? "+" : ""}{spanDelta})</span> : null}
        </span>
        {shape.errors > 0 ? <span class="badge badge-error">{shape.errors} errors</span> : <span class="muted">no errors</span>}
      </div>
      <div class="mono muted small">{shape.traceId}</div>
    </a>
  );
}

function TreeRow(props: { row: CompareRow; maxNs: number; bLabel: string; collapsed: boolean; onToggle(): void }) {
  const { row, maxNs, collapsed, onToggle } = props;
  const { diff, change } = row;
  const self = diff.a.count && diff.b.count ? classify({ ...diff, deltaNs: diff.selfDeltaNs, a: { ...diff.a, durationNs: diff.a.selfNs }, b: { ...diff.b, durationNs: diff.b.selfNs } }) : null;
  return (
    <div class={`ctree-row ${change.kind}`} data-testid="compare-row" data-change={change.kind}>
      <div class="ctree-name" style={{ paddingLeft: `${8 + row.depth * 16}px` }}>
        {row.hasChildren ? (
          <button class="twisty" onClick={onToggle} aria-label={collapsed ? "Expand" : "Collapse"} aria-expanded={!collapsed}>
            {collapsed ? "▸" : "▾"}
          </button>
        ) : (
          <span class="twisty-space" />
        )}
        <span class="dot" style={{ background: serviceColor(diff.service) }} />
        <span class="ctree-svc">{diff.service}</span>
        <span class="ctree-op" title={diff.spanName}>
          {diff.spanName}
        </span>
        {(change.kind === "only-a" || change.kind === "only-b") && <span class={`mark ${change.kind}`}>{change.kind === "only-a" ? "only A" : `only ${props.bLabel}`}</span>}
      </div>
      <SideCell stats={diff.a} maxNs={maxNs} side="a" />
      <SideCell stats={diff.b} maxNs={maxNs} side="b" />
      <div class={`ctree-delta delta ${change.kind}`}>
        {change.kind === "slower" ? "▲ " : change.kind === "faster" ? "▼ " : ""}
        {change.text}
        {self && self.kind !== "same" && self.kind !== change.kind && <div class="muted small">self: {self.text}</div>}
      </div>
    </div>
  );
}

function SideCell({ stats, maxNs, side }: { stats: api.PathStats; maxNs: number; side: "a" | "b" }) {
  if (!stats.count) return <div class="ctree-side absent">—</div>;
  return (
    <div class="ctree-side">
      <div class="ctree-bar">
        <div class={`fill ${side}`} style={{ width: `${Math.max(0.5, (100 * stats.durationNs) / maxNs)}%` }} />
      </div>
      <span class="ctree-num">
        {formatDuration(stats.durationNs)}
        {stats.count > 1 && <span class="muted"> ×{stats.count}</span>}
        {stats.errors > 0 && <span class="err-count" title={`${stats.errors} failed`}> ✗{stats.errors}</span>}
      </span>
    </div>
  );
}
