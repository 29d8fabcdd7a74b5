import type { Logger } from 'pino';

export type AuditOutcome = 'ok' | 'error';

/** One audit record per secret access: who asked which backend for what, and how it went. Never the value. */
export interface AuditRecord {
  readonly event: 'secret.fetch' | 'secret.renew' | 'secret.revoke' | 'auth.login' | 'auth.renew';
  readonly backend: string;
  readonly path: string;
  readonly outcome: AuditOutcome;
  readonly durationMs: number;
  readonly version?: string | undefined;
  readonly errorCode?: string | undefined;
}

export function writeAudit(logger: Logger, record: AuditRecord): void {
  const line = { audit: { ...record, durationMs: Math.round(record.durationMs * 1000) / 1000 } };
  if (record.outcome === 'ok') logger.info(line, 'audit');
  else logger.warn(line, 'audit');
}
