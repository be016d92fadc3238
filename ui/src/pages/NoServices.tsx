// The first thing a new user sees: how to send spans here, with the exact variables.
export function NoServices() {
  const host = location.hostname || "localhost";
  return (
    <div class="page">
      <div class="empty-state onboarding" data-testid="no-services">
        <h2>No traces yet</h2>
        <p>breadcrumbs is running and waiting for spans. Point any OpenTelemetry SDK here:</p>
        <pre class="code">{`export OTEL_SERVICE_NAME=my-service
export OTEL_EXPORTER_OTLP_ENDPOINT=http://${host}:4318
export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
export OTEL_TRACES_EXPORTER=otlp`}</pre>
        <p class="muted">
          gRPC instead: <code>OTEL_EXPORTER_OTLP_ENDPOINT=http://{host}:4317</code> with{" "}
          <code>OTEL_EXPORTER_OTLP_PROTOCOL=grpc</code>. Zipkin clients: <code>http://{host}:9411/api/v2/spans</code>.
          In Python, <code>OTEL_TRACES_EXPORTER</code> takes effect through{" "}
          <code>opentelemetry-instrument</code> (package <code>opentelemetry-distro</code>). These are the default
          ports; <code>breadcrumbs serve</code> prints the ones it uses.
        </p>
        <p>Or see it with sample traffic first:</p>
        <pre class="code">breadcrumbs demo run</pre>
        <p class="muted">This page refreshes when the first spans arrive.</p>
      </div>
    </div>
  );
}
