// What an analysis page shows before its answer: loading, or what went wrong and what to do.
import type { ComponentChildren } from "preact";

/** The page's head (title, range) stays while the answer loads or fails. */
export function Pending(props: { head: ComponentChildren; error: string | null; loading: string; testId: string }) {
  return (
    <div class="page analysis-page">
      {props.head}
      {props.error ? (
        <div class="banner banner-error" role="alert">
          {props.error}
        </div>
      ) : (
        <div class="loading-block" data-testid={props.testId}>
          <div class="spinner" />
          {props.loading}
        </div>
      )}
    </div>
  );
}

export function Problem({ title, text }: { title: string; text: string }) {
  return (
    <div class="page">
      <div class="empty-state">
        <h2>{title}</h2>
        <p>{text}</p>
      </div>
    </div>
  );
}
