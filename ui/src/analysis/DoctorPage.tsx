// The trace doctor: instrumentation mistakes found in a time range, worst first, each with
// what it is, how many spans it touches, example traces and the fix.
import { useEffect, useState } from "preact/hooks";
import { serviceColor } from "../colors";
import { formatCount, formatDateTime } from "../format";
import { navigate } from "../router";
import * as api from "./api";
import { scopeNote } from "./doctor-scope";
import { Pending } from "./states";

const RANGES: [string, string][] = [
  ["15m", "Last 15 minutes"],
  ["1h", "Last hour"],
  ["6h", "Last 6 hours"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
];
const SEVERITIES: api.Severity[] = ["high", "medium", "low", "info"];
const FAMILIES: Record<string, string> = {
  propagation: "Context propagation",
  naming: "Span names",
  instrumentation: "Coverage",
  noise: "Attributes",
  sampling: "Sampling",
  skew: "Clocks",
};

export function DoctorPage({ url }: { url: URL }) {
  const lookback = url.searchParams.get("lookback") || "1h";
  const [found, setFound] = useState<api.Diagnosis | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [family, setFamily] = useState<string>("");

  useEffect(() => {
    const abort = new AbortController();
    setFound(null);
    setError(null);
    api.doctor(lookback, abort.signal).then(setFound, (e: Error) => e.name !== "AbortError" && setError(e.message));
    return () => abort.abort();
  }, [lookback]);

  const head = (
    <div class="page-head">
      <h1>Trace doctor</h1>
      <select value={lookback} data-testid="doctor-range" onChange={(e) => navigate(`/doctor?lookback=${(e.target as HTMLSelectElement).value}`, true)}>
        {RANGES.map(([value, label]) => (
          <option value={value}>{label}</option>
        ))}
        {!RANGES.some(([v]) => v === lookback) && <option value={lookback}>Last {lookback}</option>}
      </select>
      <span class="muted">Mistakes in your own telemetry that make traces harder to read: lost context, noisy names, blind spots.</span>
    </div>
  );
  if (error || !found) return <Pending head={head} error={error} loading="Examining every span of the window…" testId="doctor-loading" />;

  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, found.findings.filter((f) => f.severity === s).length]));
  const families = [...new Set(found.findings.map((f) => f.family))];
  const shown = found.findings.filter((f) => !family || f.family === family);
  return (
    <div class="page analysis-page doctor-page">
      {head}
      <div class="doctor-summary">
        <div class="card stat-card">
          <div class="stat-label">Spans examined</div>
          <div class="stat-value">{formatCount(found.scope.spans)}</div>
          <div class="muted small">
            {formatDateTime(found.startNs / 1e6)} – {formatDateTime(found.endNs / 1e6).split(" ").pop()}
          </div>
        </div>
        {SEVERITIES.slice(0, 3).map((s) => (
          <div class={`card stat-card sev-${s}`}>
            <div class="stat-label">{s}</div>
            <div class="stat-value">{counts[s]}</div>
            <div class="muted small">finding{counts[s] === 1 ? "" : "s"}</div>
          </div>
        ))}
      </div>
      {found.scope.truncated.length > 0 && (
        <div class="banner banner-warn">
          Some reads hit their row bound ({found.scope.truncated.join(", ")}): the counts of those checks cover the largest groups only.
          Choose a shorter time range for exact figures.
        </div>
      )}
      {found.findings.length === 0 ? (
        <div class="empty-state small" data-testid="doctor-clean">
          <h3>{found.scope.spans ? "No problems found" : "No spans in this time range"}</h3>
          <p>
            {found.scope.spans
              ? `Context propagates, names are stable and attributes are tidy across the ${formatCount(found.scope.spans)} spans of this window.`
              : "The doctor needs traffic to examine: choose a longer time range, or send spans (breadcrumbs demo run shows it at work)."}
          </p>
        </div>
      ) : (
        <>
          <div class="filter-chips">
            <button class={`chip-button ${family ? "" : "on"}`} onClick={() => setFamily("")}>
              All <span class="count">{found.findings.length}</span>
            </button>
            {families.map((f) => (
              <button class={`chip-button ${family === f ? "on" : ""}`} onClick={() => setFamily(f)}>
                {FAMILIES[f] ?? f} <span class="count">{found.findings.filter((x) => x.family === f).length}</span>
              </button>
            ))}
          </div>
          <div class="findings" data-testid="doctor-findings">
            {shown.map((f) => (
              <FindingCard finding={f} />
            ))}
          </div>
        </>
      )}
      <p class="muted small scope-note">{scopeNote(found.scope)}</p>
    </div>
  );
}

function FindingCard({ finding: f }: { finding: api.Finding }) {
  return (
    <article class={`card doctor-finding sev-${f.severity}`} data-testid="doctor-finding" data-severity={f.severity}>
      <div class="df-head">
        <span class={`sev-badge sev-${f.severity}`}>{f.severity}</span>
        <h3>{f.title}</h3>
        <span class="df-family muted">{FAMILIES[f.family] ?? f.family}</span>
        {f.count !== null && (
          <span class="df-count">
            <b>{formatCount(f.count)}</b>
            {f.total !== null ? ` of ${formatCount(f.total)}` : ""} {f.unit ?? ""}
          </span>
        )}
      </div>
      <p class="df-detail">
        <Prose text={f.detail} />
      </p>
      <div class="df-fix">
        <span class="df-fix-label">How to fix</span>
        <p>
          <Prose text={f.fix} />
        </p>
      </div>
      {f.examples.length > 0 && (
        <div class="df-examples">
          <span class="muted small">Examples</span>
          {f.examples.slice(0, 5).map((e) => (
            <a class="chip example" href={`/trace/${e.traceId}`} data-testid="doctor-example">
              <span class="dot" style={{ background: serviceColor(e.service) }} />
              {e.service} · {e.spanName} <span class="mono muted">{e.traceId.slice(0, 8)}</span>
            </a>
          ))}
        </div>
      )}
    </article>
  );
}

/** The doctor writes names and settings in `backticks`: shown as code, and always as text. */
export function Prose({ text }: { text: string }) {
  const parts = text.split("`");
  // An odd count of backticks leaves the last one as written.
  if (parts.length % 2 === 0) return <>{text}</>;
  return <>{parts.map((part, i) => (i % 2 ? <code>{part}</code> : part))}</>;
}
