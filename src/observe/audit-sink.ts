import { pino } from 'pino';
import type { AuditRecord } from '../log/audit.js';

/**
 * The audit trail as JSON lines, one per access (login, fetch, renewal, revocation, render, reload), failures
 * included, never a value: to a file (created 0600, appended to) or to stdout.
 */
export class AuditSink {
  readonly #out: ReturnType<typeof pino.destination>;
  readonly #ownsFile: boolean;

  constructor(target: { readonly path: string } | 'stdout') {
    this.#ownsFile = target !== 'stdout';
    this.#out =
      target === 'stdout'
        ? pino.destination({ fd: 1, sync: true })
        : pino.destination({ dest: target.path, sync: true, append: true, mkdir: true, mode: 0o600 });
  }

  write(record: AuditRecord): void {
    this.#out.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }

  close(): void {
    this.#out.flushSync();
    if (this.#ownsFile) this.#out.end();
  }
}
