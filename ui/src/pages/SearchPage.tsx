// Search: find traces in one service or all of them by operation, kind, span and resource
// attributes and durations (the matching span's and the whole trace's); see them as a scatter
// plot (brush to filter) and a sortable list. The URL holds the whole query, and a trace opened
// from the results highlights the spans that matched.
import { useEffect, useMemo, useState } from "preact/hooks";
import { ComparePick, CompareTray, WhyRegionButton } from "../analysis/entry";
import * as api from "../api";
import { serviceColor } from "../colors";
import { formatAgo, formatCount, formatDateTime, formatDuration } from "../format";
import { navigate } from "../router";
import { Scatter, type Brush } from "./Scatter";
import {
  formFromUrl,
  LOOKBACKS,
  matchQuery,
  searchQuery,
  toRow,
  urlFromForm,
  type SearchForm,
  type TraceRow,
} from "./search-model";
import { NoServices } from "./NoServices";

const KINDS = ["server", "client", "producer", "consumer", "internal"];
type SortKey = "start" | "duration" | "spans" | "errors" | "matched";

export function SearchPage({ url }: { url: URL }) {
  const fromUrl = useMemo(() => formFromUrl(url.searchParams), [url.search]);
  const [form, setForm] = useState<SearchForm>(fromUrl);
  const [services, setServices] = useState<string[] | null>(null);
  const [servicesError, setServicesError] = useState<string | null>(null);
  const [operations, setOperations] = useState<api.Operation[]>([]);
  const [results, setResults] = useState<TraceRow[] | null>(null);
  const [matchBase, setMatchBase] = useState<string>("");
  const [searching, setSearching] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [brush, setBrush] = useState<Brush | null>(null);
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: "start", desc: true });

  useEffect(() => setForm(fromUrl), [fromUrl]);

  useEffect(() => {
    // Until the first spans arrive, look again every few seconds.
    let timer = 0;
    const load = () =>
      api.services().then(
        (found) => {
          setServices(found);
          if (!found.length) timer = window.setTimeout(load, 3000);
        },
        (e: Error) => setServicesError(e.message),
      );
    load();
    return () => window.clearTimeout(timer);
  }, []);

  useEffect(() => {
    if (!form.service) return setOperations([]);
    const abort = new AbortController();
    api.operations(form.service, abort.signal).then(setOperations, () => setOperations([]));
    return () => abort.abort();
  }, [form.service]);

  // Every change of the URL's query runs the search (no service: every service).
  const servicesKnown = !!services?.length;
  useEffect(() => {
    if (!servicesKnown) return;
    const abort = new AbortController();
    const query = searchQuery(fromUrl);
    setSearching(true);
    setError(null);
    setBrush(null);
    api.search(query, abort.signal).then(
      (found) => {
        setResults(found.traces.map(toRow));
        setMatchBase(matchQuery(query, found.startNs, found.endNs));
        setSearching(false);
      },
      (e: Error) => {
        if (e.name === "AbortError") return;
        setError(e.message);
        setSearching(false);
      },
    );
    return () => abort.abort();
  }, [url.search, servicesKnown]);

  if (servicesError) {
    return (
      <div class="page">
        <div class="empty-state">
          <h2>Cannot reach breadcrumbs</h2>
          <p>{servicesError}</p>
        </div>
      </div>
    );
  }
  if (services && services.length === 0) return <NoServices />;

  const update = (patch: Partial<SearchForm>) => setForm((f) => ({ ...f, ...patch }));
  const submit = (event: Event) => {
    event.preventDefault();
    navigate(urlFromForm(form));
  };
  const operationNames = [...new Set(operations.filter((o) => !form.kind || o.spanKind === form.kind).map((o) => o.name))].sort();
  const shown = sortRows(
    (results ?? []).filter((r) => !brush || inBrush(r, brush)),
    sort.key,
    sort.desc,
  );
  const maxDuration = Math.max(1, ...shown.map((r) => r.durationNs));
  // Without a span condition every span "matches": the column would only repeat the root.
  const spanConditions = hasSpanConditions(fromUrl);
  const traceHref = (id: string) => `/trace/${id}${matchBase ? `?match=${encodeURIComponent(matchBase)}` : ""}`;
  const rangeLabel =
    fromUrl.lookback === "custom" ? "chosen range" : (LOOKBACKS.find(([v]) => v === fromUrl.lookback)?.[1].toLowerCase() ?? "chosen range");

  return (
    <div class="page search-page">
      <form class="search-form" onSubmit={submit} data-testid="search-form">
        <Field label="Service">
          <select
            value={form.service}
            data-testid="service"
            onChange={(e) => update({ service: (e.target as HTMLSelectElement).value, operation: "" })}
          >
            <option value="">All services</option>
            {(services ?? (form.service ? [form.service] : [])).map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </Field>
        <Field label="Operation">
          <select value={form.operation} data-testid="operation" disabled={!form.service} onChange={(e) => update({ operation: (e.target as HTMLSelectElement).value })}>
            <option value="">{form.service ? "All operations" : "Choose a service first"}</option>
            {operationNames.map((o) => (
              <option value={o}>{o}</option>
            ))}
          </select>
        </Field>
        <Field label="Span kind">
          <select value={form.kind} data-testid="kind" onChange={(e) => update({ kind: (e.target as HTMLSelectElement).value })}>
            <option value="">Any kind</option>
            {KINDS.map((k) => (
              <option value={k}>{k}</option>
            ))}
          </select>
        </Field>
        <Field label="Span attributes" hint="key=value, one per line; all must hold on the matching span">
          <textarea
            rows={2}
            value={form.tags}
            placeholder={"http.response.status_code=500\nuser.tier=gold"}
            data-testid="tags"
            onInput={(e) => update({ tags: (e.target as HTMLTextAreaElement).value })}
          />
        </Field>
        <Field label="Resource attributes" hint="of the process that sent it">
          <textarea
            rows={1}
            value={form.resourceTags}
            placeholder="deployment.environment=production"
            data-testid="resource-tags"
            onInput={(e) => update({ resourceTags: (e.target as HTMLTextAreaElement).value })}
          />
        </Field>
        <Field label="A matching span took" hint="e.g. 150ms, 1.5s">
          <div class="range">
            <input placeholder="at least" value={form.minSpan} onInput={(e) => update({ minSpan: (e.target as HTMLInputElement).value })} />
            <input placeholder="at most" value={form.maxSpan} onInput={(e) => update({ maxSpan: (e.target as HTMLInputElement).value })} />
          </div>
        </Field>
        <Field label="The whole trace took" hint="root to last span">
          <div class="range">
            <input placeholder="at least" value={form.minTrace} data-testid="min-trace" onInput={(e) => update({ minTrace: (e.target as HTMLInputElement).value })} />
            <input placeholder="at most" value={form.maxTrace} onInput={(e) => update({ maxTrace: (e.target as HTMLInputElement).value })} />
          </div>
        </Field>
        <Field label="Time range" hint="when the matching span started">
          <select value={form.lookback} data-testid="lookback" onChange={(e) => update({ lookback: (e.target as HTMLSelectElement).value })}>
            {LOOKBACKS.map(([value, label]) => (
              <option value={value}>{label}</option>
            ))}
          </select>
        </Field>
        {form.lookback === "custom" && (
          <div class="range custom-range">
            <input type="datetime-local" aria-label="From" data-testid="from" value={form.from} onInput={(e) => update({ from: (e.target as HTMLInputElement).value })} />
            <input type="datetime-local" aria-label="To" data-testid="to" value={form.to} onInput={(e) => update({ to: (e.target as HTMLInputElement).value })} />
          </div>
        )}
        <div class="form-row">
          <label class="check">
            <input type="checkbox" checked={form.errors} data-testid="errors-only" onChange={(e) => update({ errors: (e.target as HTMLInputElement).checked })} />
            Errors only
          </label>
          <label class="limit">
            Limit
            <input type="number" min={1} max={1500} value={form.limit} onInput={(e) => update({ limit: (e.target as HTMLInputElement).value })} />
          </label>
        </div>
        <button class="button button-primary wide" type="submit" data-testid="search-button">
          Find traces
        </button>
      </form>
      <section class="results">
        {error && (
          <div class="banner banner-error" role="alert">
            {error}
          </div>
        )}
        {results && results.length > 0 && (
          <Scatter rows={results} brush={brush} onBrush={setBrush} onOpen={(id) => navigate(traceHref(id))} />
        )}
        <div class="results-head">
          <h2>
            {searching ? "Searching…" : results?.length ? `${formatCount(shown.length)} trace${shown.length === 1 ? "" : "s"}` : ""}
            {brush && results && <span class="muted"> in the selected region of {results.length}</span>}
          </h2>
          {brush && (
            <button class="link" onClick={() => setBrush(null)}>
              Clear selection
            </button>
          )}
          {brush && <WhyRegionButton service={fromUrl.service} operation={fromUrl.operation} region={brush} />}
          <CompareTray />
        </div>
        {results && results.length === 0 && !searching && (
          <div class="empty-state small">
            <h3>No traces match</h3>
            <p>
              {fromUrl.service ? (
                <>
                  Nothing from <b>{fromUrl.service}</b> matches in the {rangeLabel}.
                </>
              ) : (
                <>No service has a matching span in the {rangeLabel}.</>
              )}{" "}
              Try a longer time range, fewer attribute filters, or all services.
            </p>
          </div>
        )}
        {shown.length > 0 && (
          <table class="trace-table" data-testid="results">
            <thead>
              <tr>
                <th>Trace</th>
                <SortHeader label="Spans" id="spans" sort={sort} setSort={setSort} />
                <th>Services</th>
                <SortHeader label="Errors" id="errors" sort={sort} setSort={setSort} />
                {spanConditions && <SortHeader label="Matching span took" id="matched" sort={sort} setSort={setSort} />}
                <SortHeader label="Whole trace took" id="duration" sort={sort} setSort={setSort} />
                <SortHeader label="Started" id="start" sort={sort} setSort={setSort} />
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr class={r.errors ? "has-error" : ""}>
                  <td class="trace-cell">
                    <ComparePick traceId={r.traceId} />
                    <a href={traceHref(r.traceId)} data-testid="trace-link">
                      <span class="dot" style={{ background: serviceColor(r.rootService) }} />
                      <b>{r.rootService}</b> <span>{r.rootName}</span>
                    </a>
                    <div class="mono muted small">{r.traceId.slice(0, 16)}</div>
                  </td>
                  <td class="num">{formatCount(r.spans)}</td>
                  <td>
                    <div class="svc-list">
                      {r.services.slice(0, 6).map((s) => (
                        <span class="chip small">
                          <span class="dot" style={{ background: serviceColor(s.name) }} />
                          {s.name} <span class="muted">{s.spans}</span>
                        </span>
                      ))}
                      {r.services.length > 6 && <span class="muted small">+{r.services.length - 6} more</span>}
                    </div>
                  </td>
                  <td class="num">{r.errors ? <span class="badge badge-error">{r.errors}</span> : <span class="muted">0</span>}</td>
                  {spanConditions && (
                    <td class="small matched-cell" data-testid="matched">
                      {r.matched.durationNs !== undefined && (
                        <>
                          <b>{formatDuration(r.matched.durationNs)}</b>
                          {r.matched.count > 1 && <span class="muted"> (longest of {formatCount(r.matched.count)})</span>}
                          <div class="matched-span">
                            <span class="dot" style={{ background: serviceColor(r.matched.service ?? "") }} />
                            {r.matched.service} <span class="muted">{r.matched.name}</span>
                          </div>
                        </>
                      )}
                    </td>
                  )}
                  <td class="duration-cell">
                    <div class="duration-bar">
                      <div style={{ width: `${(100 * r.durationNs) / maxDuration}%`, background: r.errors ? "#dc2626" : "#6366f1" }} />
                    </div>
                    {formatDuration(r.durationNs)}
                  </td>
                  <td class="small" title={formatDateTime(r.startMs)}>
                    {formatDateTime(r.startMs)}
                    <div class="muted">{formatAgo(r.startMs)}</div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

function hasSpanConditions(form: SearchForm): boolean {
  return !!(form.service || form.operation || form.kind || form.tags.trim() || form.resourceTags.trim() || form.minSpan || form.maxSpan || form.errors);
}

function Field(props: { label: string; hint?: string; children: preact.ComponentChildren }) {
  return (
    <label class="field">
      <span class="field-label">
        {props.label}
        {props.hint && <span class="hint"> · {props.hint}</span>}
      </span>
      {props.children}
    </label>
  );
}

function SortHeader(props: {
  label: string;
  id: SortKey;
  sort: { key: SortKey; desc: boolean };
  setSort(s: { key: SortKey; desc: boolean }): void;
}) {
  const active = props.sort.key === props.id;
  return (
    <th class="sortable" aria-sort={active ? (props.sort.desc ? "descending" : "ascending") : "none"}>
      <button class="link" onClick={() => props.setSort({ key: props.id, desc: active ? !props.sort.desc : true })}>
        {props.label} {active ? (props.sort.desc ? "↓" : "↑") : ""}
      </button>
    </th>
  );
}

function sortRows(rows: TraceRow[], key: SortKey, desc: boolean): TraceRow[] {
  const value = (r: TraceRow) =>
    key === "start"
      ? r.startMs
      : key === "duration"
        ? r.durationNs
        : key === "spans"
          ? r.spans
          : key === "matched"
            ? (r.matched.durationNs ?? 0)
            : r.errors;
  return [...rows].sort((a, b) => (desc ? value(b) - value(a) : value(a) - value(b)));
}

function inBrush(r: TraceRow, b: Brush): boolean {
  return r.startMs >= b.t0 && r.startMs <= b.t1 && r.durationNs >= b.d0 && r.durationNs <= b.d1;
}
