import { useEffect, useState } from "preact/hooks";
import * as api from "../api";

const DEFAULT_PORTS: Record<string, number> = { "otlp-http": 4318, "otlp-grpc": 4317, zipkin: 9411 };

// The first thing a new user sees: how to send spans here, with the exact variables and the
// ports this server really listens on (the defaults until it says).
export function NoServices() {
  const host = location.hostname || "localhost";
  const [listening, setListening] = useState<Record<string, number> | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    api.endpoints(abort.signal).then(setListening, () => undefined); // on failure the defaults stand
    return () => abort.abort();
  }, []);
  const ports = { ...DEFAULT_PORTS, ...listening };
  const off = (role: string) => listening !== null && listening[role] === undefined;
  return (
    <div class="page">
      <div class="empty-state onboarding" data-testid="no-services">
        <h2>No traces yet</h2>
        <p>breadcrumbs is running and waiting for spans. Point any OpenTelemetry SDK here:</p>
        <pre class="code" data-testid="onboarding-env">{`export OTEL_SERVICE_NAME=my-service
export OTEL_EXPORTER_OTLP_ENDPOINT=http://${host}:${ports["otlp-http"]}
export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
export OTEL_TRACES_EXPORTER=otlp`}</pre>
        <p class="muted">
          gRPC instead: <code>OTEL_EXPORTER_OTLP_ENDPOINT=http://{host}:{ports["otlp-grpc"]}</code> with{" "}
          <code>OTEL_EXPORTER_OTLP_PROTOCOL=grpc</code>.{" "}
          {off("zipkin") ? null : (
            <>
              Zipkin clients: <code>http://{host}:{ports.zipkin}/api/v2/spans</code>.{" "}
            </>
          )}
          In Python, <code>OTEL_TRACES_EXPORTER</code> takes effect through{" "}
          <code>opentelemetry-instrument</code> (package <code>opentelemetry-distro</code>).
        </p>
        <p>Or see it with sample traffic first:</p>
        <pre class="code">breadcrumbs demo run</pre>
        <p class="muted">This page refreshes when the first spans arrive.</p>
      </div>
    </div>
  );
}
