import { pino } from 'pino';
import type { AuditRecord } from '../log/audit.js';

/**
 * The audit trail as JSON lines, one per access (login, fetch, renewal, revocation, render, reload), failures
 * included, never a value: to a file (created 0600, appended to) or to stdout.
 */
export class AuditSink {
  readonly #out: ReturnType<typeof pino.destination>;
  readonly #ownsFile: boolean;
  /** A write failed (a full disk): the unwritten lines stay buffered, and flushSync would retry them forever. */
  #failed = false;

  constructor(target: { readonly path: string } | 'stdout') {
    this.#ownsFile = target !== 'stdout';
    this.#out =
      target === 'stdout'
        ? pino.destination({ fd: 1, sync: true })
        : pino.destination({ dest: target.path, sync: true, append: true, mkdir: true, mode: 0o600 });
  }

  write(record: AuditRecord): void {
    try {
      this.#out.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
    } catch (error) {
      this.#failed = true;
      throw error;
    }
  }

  /** Never waits on a destination that failed: shutdown must stay bounded (sonic-boom's flushSync loops on ENOSPC). */
  close(): void {
    if (this.#failed) {
      if (this.#ownsFile) this.#out.destroy();
      return;
    }
    this.#out.flushSync();
    if (this.#ownsFile) this.#out.end();
  }
}
