import diagnostics_channel from 'node:diagnostics_channel';
import type { AuditRecord } from './log/audit.js';

/*
 * What the code publishes for observers (metrics, readiness, the audit file), on node:diagnostics_channel as undici
 * publishes its request lifecycle: the publisher does not know who listens, and nothing is built when no one does.
 * The logger only logs.
 */

/** One access (fetch, renewal, login, render, reload) as audited: never a value. */
export const AUDIT_CHANNEL = 'secrets-sidecar:audit';
/** A secret's fetch failed and is retried after `delayMs` (0: it recovered). */
export const BACKOFF_CHANNEL = 'secrets-sidecar:backoff';

export interface BackoffEvent {
  readonly ref: string;
  readonly delayMs: number;
}

/** What a subscriber receives: the channel's message, tagged with its kind. */
export type SidecarEvent = { readonly kind: 'audit'; readonly record: AuditRecord } | ({ readonly kind: 'backoff' } & BackoffEvent);

const audit = diagnostics_channel.channel(AUDIT_CHANNEL);
const backoff = diagnostics_channel.channel(BACKOFF_CHANNEL);

export function publishAudit(record: AuditRecord): void {
  if (audit.hasSubscribers) audit.publish(record);
}

export function publishBackoff(event: BackoffEvent): void {
  if (backoff.hasSubscribers) backoff.publish(event);
}

/**
 * Listens to every channel until the returned function is called. diagnostics_channel rethrows a subscriber's
 * exception as an uncaught one, which would end the process (an audit file on a full disk): it goes to `onError`.
 */
export function subscribeEvents(listener: (event: SidecarEvent) => void, onError: (error: unknown) => void = () => undefined): () => void {
  const deliver = (event: SidecarEvent) => {
    try {
      listener(event);
    } catch (error) {
      onError(error);
    }
  };
  const onAudit = (message: unknown) => deliver({ kind: 'audit', record: message as AuditRecord });
  const onBackoff = (message: unknown) => deliver({ kind: 'backoff', ...(message as BackoffEvent) });
  audit.subscribe(onAudit);
  backoff.subscribe(onBackoff);
  return () => {
    audit.unsubscribe(onAudit);
    backoff.unsubscribe(onBackoff);
  };
}
