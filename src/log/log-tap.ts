import type { Logger } from 'pino';
import type { AuditRecord } from './audit.js';

/** What the audit sink and the metrics are told, whatever the log level. */
export type TapEvent =
  | { readonly kind: 'audit'; readonly record: AuditRecord }
  /** A secret's fetch failed and is retried after `delayMs` (0: it recovered). */
  | { readonly kind: 'backoff'; readonly ref: string; readonly delayMs: number };

const TAP = Symbol('secrets-sidecar log tap');
type Tapped = Logger & { [TAP]?: ((event: TapEvent) => void) | undefined };

/**
 * Hangs a consumer on a logger. Audit records are made once, by the code that makes the access, and pass
 * through the logger it holds; the audit file and the metrics listen here instead of being called from every
 * such place. pino's child loggers inherit from their parent's object, so one attach on the root reaches all.
 */
export function attachTap(logger: Logger, consumer: ((event: TapEvent) => void) | undefined): void {
  (logger as Tapped)[TAP] = consumer;
}

export function tap(logger: Logger, event: TapEvent): void {
  (logger as Tapped)[TAP]?.(event);
}
