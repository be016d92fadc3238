// Everything about one span: fetched on selection from the native API, rendered as text only.
import { useEffect, useState } from "preact/hooks";
import { spanDetail, type SpanDetail, type TypedValue } from "../api";
import { serviceColor } from "../colors";
import { formatDateTime, formatDuration } from "../format";

interface Props {
  traceId: string;
  spanId: string;
  traceStartNs: number;
  origin: { exceptionType: string | null; message: string | null; frame: string | null } | null;
  /** Warnings the page knows beyond the span's own (clock skew from the analysis). */
  notes: string[];
  onClose(): void;
  onJump(spanId: string): void;
}

export function SpanPanel({ traceId, spanId, traceStartNs, origin, notes, onClose, onJump }: Props) {
  const [detail, setDetail] = useState<SpanDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    setDetail(null);
    setError(null);
    spanDetail(traceId, spanId, abort.signal).then(setDetail, (e: Error) => {
      if (e.name !== "AbortError") setError(e.message);
    });
    return () => abort.abort();
  }, [traceId, spanId]);

  return (
    <aside class="panel" data-testid="span-panel" aria-label="Span details">
      <div class="panel-head">
        {detail ? (
          <div>
            <div class="panel-service">
              <span class="dot" style={{ background: serviceColor(detail.service) }} />
              {detail.service}
            </div>
            <h2 class="panel-title">{detail.name}</h2>
          </div>
        ) : (
          <h2 class="panel-title muted">{error ? "Could not load this span" : "Loading span…"}</h2>
        )}
        <button class="icon-button" onClick={onClose} title="Close (Esc)" aria-label="Close">
          ×
        </button>
      </div>
      {error && <p class="error-text">{error}</p>}
      {detail && (
        <Body
          detail={{ ...detail, warnings: [...new Set([...detail.warnings, ...notes])] }}
          traceStartNs={traceStartNs}
          origin={origin}
          onJump={onJump}
        />
      )}
    </aside>
  );
}

function Body({
  detail,
  traceStartNs,
  origin,
  onJump,
}: {
  detail: SpanDetail;
  traceStartNs: number;
  origin: Props["origin"];
  onJump(spanId: string): void;
}) {
  const exceptions = detail.events.filter((e) => e.name === "exception");
  const others = detail.events.filter((e) => e.name !== "exception");
  const isError = detail.status.code === "ERROR";
  return (
    <div class="panel-body">
      <dl class="facts">
        <dt>Duration</dt>
        <dd>{formatDuration(detail.durationNs)}</dd>
        <dt>Starts</dt>
        <dd>
          +{formatDuration(detail.startNs - traceStartNs)}{" "}
          <span class="muted">({formatDateTime(detail.startNs / 1e6)})</span>
        </dd>
        <dt>Kind</dt>
        <dd>{detail.kind.toLowerCase()}</dd>
        <dt>Status</dt>
        <dd>
          <span class={isError ? "badge badge-error" : "badge"}>{detail.status.code}</span>{" "}
          {detail.status.message}
        </dd>
        <dt>Span id</dt>
        <dd>
          <Copyable text={detail.spanId} />
        </dd>
        <dt>Trace id</dt>
        <dd>
          <Copyable text={detail.traceId} />
        </dd>
        {detail.parentSpanId && (
          <>
            <dt>Parent</dt>
            <dd>
              <button class="link mono" onClick={() => onJump(detail.parentSpanId!)}>
                {detail.parentSpanId}
              </button>
            </dd>
          </>
        )}
        {detail.scope.name && (
          <>
            <dt>Scope</dt>
            <dd class="mono small">
              {detail.scope.name} {detail.scope.version}
            </dd>
          </>
        )}
      </dl>
      {detail.warnings.length > 0 && (
        <section class="notice">
          {detail.warnings.map((w) => (
            <div>⚠ {w}</div>
          ))}
        </section>
      )}
      {origin && (
        <section class="notice notice-error">
          <b>An error starts here.</b> {origin.exceptionType ?? ""} {origin.message ?? ""}
          {origin.frame && <div class="mono small">at {origin.frame}</div>}
        </section>
      )}
      {exceptions.map((event) => (
        <ExceptionBlock attributes={event.attributes} />
      ))}
      <Section title="Attributes" count={detail.attributes.length}>
        <Attributes values={detail.attributes} />
      </Section>
      <Section title="Events" count={others.length}>
        {others.map((event) => (
          <div class="event">
            <div>
              <b>{event.name || "(unnamed)"}</b>{" "}
              <span class="muted">+{formatDuration(event.timeNs - detail.startNs)} into the span</span>
            </div>
            <Attributes values={event.attributes} />
          </div>
        ))}
      </Section>
      <Section title="Links" count={detail.links.length + detail.linkedFrom.length}>
        {detail.links.map((link) => (
          <div class="event">
            <span class="muted">links to </span>
            <LinkTarget traceId={link.traceId} spanId={link.spanId} current={detail.traceId} onJump={onJump} />
            <Attributes values={link.attributes} />
          </div>
        ))}
        {detail.linkedFrom.map((link) => (
          <div class="event">
            <span class="muted">linked from </span>
            <LinkTarget traceId={link.traceId} spanId={link.spanId} current={detail.traceId} onJump={onJump} />
          </div>
        ))}
      </Section>
      <Section title="Resource" count={detail.resource.length} closed>
        <Attributes values={detail.resource} />
      </Section>
    </div>
  );
}

function LinkTarget(props: { traceId: string; spanId: string; current: string; onJump(id: string): void }) {
  if (props.traceId === props.current)
    return (
      <button class="link mono" onClick={() => props.onJump(props.spanId)}>
        span {props.spanId}
      </button>
    );
  return (
    <a class="mono" href={`/trace/${props.traceId}?span=${props.spanId}`}>
      trace {props.traceId.slice(0, 12)}… span {props.spanId}
    </a>
  );
}

function ExceptionBlock({ attributes }: { attributes: TypedValue[] }) {
  const get = (key: string) => String(attributes.find((a) => a.key === key)?.value ?? "");
  const stack = get("exception.stacktrace");
  return (
    <section class="exception">
      <div class="exception-title">
        {get("exception.type") || "Exception"}
        {get("exception.message") && <span>: {get("exception.message")}</span>}
      </div>
      {stack && <pre class="stack">{stack}</pre>}
    </section>
  );
}

function Section(props: { title: string; count: number; closed?: boolean; children: preact.ComponentChildren }) {
  if (!props.count) return null;
  return (
    <details class="section" open={!props.closed}>
      <summary>
        {props.title} <span class="count">{props.count}</span>
      </summary>
      {props.children}
    </details>
  );
}

function Attributes({ values }: { values: TypedValue[] }) {
  if (!values.length) return null;
  return (
    <table class="attrs">
      <tbody>
        {values.map((v) => (
          <tr>
            <th title={v.key}>{v.key}</th>
            <td>
              <span class={`value value-${v.type}`}>{String(v.value)}</span>
              {v.type !== "string" && <span class="type">{v.type}</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Copyable({ text }: { text: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <span class="copyable">
      <code>{text}</code>
      <button
        class="link small"
        onClick={() => {
          navigator.clipboard?.writeText(text).then(
            () => setCopied(true),
            () => setCopied(false),
          );
          setTimeout(() => setCopied(false), 1500);
        }}
      >
        {copied ? "copied" : "copy"}
      </button>
    </span>
  );
}
