import type { Logger } from 'pino';
import { publishAudit } from '../events.js';

export type AuditOutcome = 'ok' | 'error';

/** One audit record per secret access: who asked which backend for what, and how it went. Never the value. */
export interface SecretAuditRecord {
  readonly event: 'secret.fetch' | 'secret.renew' | 'secret.revoke' | 'secret.adopt' | 'auth.login' | 'auth.renew' | 'auth.lookup' | 'auth.adopt';
  readonly backend: string;
  readonly path: string;
  readonly outcome: AuditOutcome;
  readonly durationMs: number;
  readonly version?: string | undefined;
  readonly errorCode?: string | undefined;
  /** When what was fetched or renewed stops being valid (a lease's end, a certificate's notAfter), epoch ms. */
  readonly expiresAt?: number | undefined;
  /** A lease that could not be revoked, so that an operator can revoke it by hand. */
  readonly leaseId?: string | undefined;
  /** Why what an earlier run left was not adopted (and is fetched anew). */
  readonly reason?: string | undefined;
}

/** A template rendered to its destination: written (new bytes) or unchanged (the write was skipped). */
export interface RenderAuditRecord {
  readonly event: 'template.render';
  readonly template: string;
  readonly destination: string;
  readonly outcome: AuditOutcome;
  readonly result?: 'written' | 'unchanged' | undefined;
  readonly durationMs: number;
  readonly errorCode?: string | undefined;
}

/** A reload target told about new files. */
export interface ReloadAuditRecord {
  readonly event: 'reload.notify';
  readonly target: string;
  readonly outcome: AuditOutcome;
  readonly durationMs: number;
  readonly errorCode?: string | undefined;
}

export type AuditRecord = SecretAuditRecord | RenderAuditRecord | ReloadAuditRecord;

export function writeAudit(logger: Logger, record: AuditRecord): void {
  const rounded = { ...record, durationMs: Math.round(record.durationMs * 1000) / 1000 };
  // Whatever the log level: the audit file and the metrics must see every access, so it is published apart.
  publishAudit(rounded);
  const line = { audit: rounded };
  if (record.outcome === 'ok') logger.info(line, 'audit');
  else logger.warn(line, 'audit');
}
