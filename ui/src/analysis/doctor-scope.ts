// What the doctor looked at, in words with the figures the API sent (its own `note` names the
// fields instead: fine for a script, not for a page).
import { formatCount, formatDuration } from "../format";

export interface DoctorScope {
  spans: number;
  marginNs: number;
  settleNs: number;
  maxRows: number;
  attributeTraces: number;
  truncated: string[];
}

export function scopeNote(scope: DoctorScope): string {
  const attributes =
    scope.attributeTraces > 1
      ? `attributes from about 1 in ${formatCount(scope.attributeTraces)} traces (chosen by trace id)`
      : "attributes from every trace";
  return (
    `Counted over every span that started in the window, ${attributes}. Parents and children ` +
    `are looked for up to ${formatDuration(scope.marginNs)} outside it; spans of the last ` +
    `${formatDuration(scope.settleNs)} are not judged for missing relatives (they may still ` +
    `arrive). Each read keeps its ${formatCount(scope.maxRows)} largest groups.`
  );
}
