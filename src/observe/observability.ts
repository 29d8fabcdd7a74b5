import { readFile } from 'node:fs/promises';
import type { ResolvedConfig } from '../config/types.js';
import { SidecarError } from '../errors.js';
import { subscribeEvents } from '../events.js';
import type { Logger } from '../log/logger.js';
import { AuditSink } from './audit-sink.js';
import { startListener, type Listener } from './listener.js';
import { SidecarMetrics } from './metrics.js';
import { Readiness } from './readiness.js';

/**
 * What the config turns on of the audit file, metrics, readiness and the listener, fed by the events the code publishes (src/events.ts).
 * `refresh` is how the listener forces a refresh; `once` gets the audit file only.
 */
export class Observability {
  readonly #sink: AuditSink | undefined;
  readonly #metrics: SidecarMetrics | undefined;
  readonly #readiness: Readiness | undefined;
  #listener: Listener | undefined;
  readonly #unsubscribe: (() => void) | undefined;
  #failed = false;
  /** Said once: an audit file on a full disk fails at every event. */
  readonly #observerFailed = (error: unknown) => {
    if (this.#failed) return;
    this.#failed = true;
    const e = error as { code?: unknown; message?: unknown };
    this.logger.warn({ err: { code: e.code, message: String(e.message) } }, 'an observer (audit file, metrics) failed; further failures are not logged');
  };

  constructor(
    private readonly config: Pick<ResolvedConfig, 'audit' | 'listener'>,
    private readonly logger: Logger,
    live: boolean,
  ) {
    this.#sink = config.audit === undefined ? undefined : new AuditSink(config.audit.kind === 'stdout' ? 'stdout' : { path: config.audit.path });
    if (live && config.listener) {
      this.#metrics = new SidecarMetrics();
      this.#readiness = new Readiness(config.listener.readinessGraceMs);
    }
    if (this.#sink || this.#metrics) {
      this.#unsubscribe = subscribeEvents((event) => {
        this.#metrics?.observe(event);
        this.#readiness?.observe(event);
        if (event.kind === 'audit') this.#sink?.write(event.record);
      }, this.#observerFailed);
    }
  }

  /** Starts the listener, if configured. */
  async start(
    env: Readonly<Record<string, string | undefined>>,
    refresh: (ref: string | undefined) => string[],
    inUse: () => ReadonlySet<string>,
    shutdown: () => void = () => undefined,
  ): Promise<void> {
    const listener = this.config.listener;
    if (!listener || !this.#metrics || !this.#readiness) return;
    this.#listener = await startListener({
      host: listener.host,
      port: listener.port,
      metrics: this.#metrics,
      readiness: this.#readiness,
      refreshToken: await refreshToken(listener.refreshTokenFile, listener.refreshTokenEnv, env),
      refresh,
      inUse,
      shutdown,
      logger: this.logger,
    });
  }

  markRendered(): void {
    this.#readiness?.markRendered();
  }

  async stop(): Promise<void> {
    await this.#listener?.close();
    this.#listener = undefined;
    this.#unsubscribe?.();
    this.#sink?.close();
  }
}

async function refreshToken(
  file: string | undefined,
  variable: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  if (variable !== undefined) {
    const value = env[variable];
    if (!value) throw new SidecarError('SIDECAR_ERR_CONFIG_INVALID', `listener.refresh_token_env names ${variable}, which is not set`);
    return value;
  }
  if (file === undefined) return undefined;
  const token = (
    await readFile(file, 'utf8').catch((error: unknown) => {
      throw new SidecarError(
        'SIDECAR_ERR_CONFIG_INVALID',
        `cannot read listener.refresh_token_file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    })
  ).trim();
  if (token.length < 16) throw new SidecarError('SIDECAR_ERR_CONFIG_INVALID', `the refresh token in ${file} is shorter than 16 characters`);
  return token;
}
