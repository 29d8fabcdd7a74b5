import { createHash } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { readBounded } from '../bounded-read.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { setSafeTimeout, type SafeTimer } from '../timer.js';

/*
 * The serving certificate and key, from files that cert-manager or the chart rotate underneath (a Secret volume
 * swaps a symlink, so the files are polled, not watched). A new pair is taken only when both parse and match;
 * otherwise the last good pair keeps serving and the failure is logged once per content.
 */

export interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

const MAX_PEM_BYTES = 1024 * 1024;

export class TlsReloader {
  /** A digest of the last pair tried, good or bad: unchanged files are not parsed (or complained about) again. */
  #lastSeen = '';
  #timer: SafeTimer | undefined;
  #stopped = false;

  constructor(
    private readonly certFile: string,
    private readonly keyFile: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly onOutcome: (outcome: 'loaded' | 'rejected') => void,
  ) {}

  /** The first pair; a failure here is fatal (SIDECAR_ERR_WEBHOOK_TLS). */
  async load(): Promise<TlsPair> {
    const pair = await this.#read();
    this.#lastSeen = digest(pair);
    this.#check(pair);
    return pair;
  }

  /** Polls the files; `apply` installs a new good pair in the server. */
  start(apply: (context: SecureContext, pair: TlsPair) => void): void {
    const tick = () => {
      this.#timer = undefined;
      void this.#poll(apply).finally(() => {
        if (!this.#stopped) this.#timer = setSafeTimeout(tick, this.intervalMs);
      });
    };
    this.#timer = setSafeTimeout(tick, this.intervalMs);
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.clear();
  }

  async #poll(apply: (context: SecureContext, pair: TlsPair) => void): Promise<void> {
    let pair: TlsPair;
    try {
      pair = await this.#read();
    } catch (error) {
      // Mid-swap, one file may be briefly missing; the next poll sees the pair whole.
      this.logger.debug({ error: { message: (error as Error).message } }, 'certificate files unreadable; keeping the current pair');
      return;
    }
    const seen = digest(pair);
    if (seen === this.#lastSeen) return;
    this.#lastSeen = seen;
    let context: SecureContext;
    try {
      context = this.#check(pair);
    } catch (error) {
      this.onOutcome('rejected');
      this.logger.error(
        { error: { code: 'SIDECAR_ERR_WEBHOOK_TLS', message: (error as Error).message }, certFile: this.certFile },
        'new certificate files are not a usable pair; still serving the previous certificate',
      );
      return;
    }
    apply(context, pair);
    this.onOutcome('loaded');
    this.logger.info({ certFile: this.certFile }, 'certificate reloaded');
  }

  async #read(): Promise<TlsPair> {
    try {
      const [cert, key] = await Promise.all([readBounded(this.certFile, { maxBytes: MAX_PEM_BYTES }), readBounded(this.keyFile, { maxBytes: MAX_PEM_BYTES })]);
      return { cert, key };
    } catch (cause) {
      throw new SidecarError('SIDECAR_ERR_WEBHOOK_TLS', `cannot read the webhook's certificate or key: ${(cause as Error).message}`, { cause });
    }
  }

  #check(pair: TlsPair): SecureContext {
    try {
      // Fails on garbage, and on a key that does not belong to the certificate.
      return createSecureContext({ cert: pair.cert, key: pair.key });
    } catch (cause) {
      // OpenSSL's reason only: never the file's bytes.
      throw new SidecarError(
        'SIDECAR_ERR_WEBHOOK_TLS',
        `${this.certFile} and ${this.keyFile} are not a usable certificate and key (${(cause as Error).message})`,
        {
          cause,
          hint: 'PEM files, the key matching the certificate',
        },
      );
    }
  }
}

function digest(pair: TlsPair): string {
  return createHash('sha256').update(pair.cert).update('\0').update(pair.key).digest('hex');
}
