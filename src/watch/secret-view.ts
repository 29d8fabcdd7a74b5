import type { FetchedSecret, Lifetime, SecretBackend, Unsubscribe } from '../backends/types.js';
import type { RetryPolicy } from '../config/types.js';
import { ERROR_CODES, SidecarError, toSidecarError } from '../errors.js';
import { retryWithBackoff } from '../retry.js';
import { writeAudit } from '../log/audit.js';
import { publishBackoff } from '../events.js';
import { errorFields } from '../log/error-fields.js';
import type { Logger } from '../log/logger.js';
import { planRefresh } from '../lease/refresh-schedule.js';
import { setSafeTimeout, type SafeTimer } from '../timer.js';

export interface SecretViewOptions {
  /** secretKey(): "backend:path". Internal: it may hold text derived from a secret. */
  readonly key: string;
  readonly path: string;
  /** What logs, audit records and metrics show for `key` and `path` (derived parts hidden); default: them. */
  readonly label?: string;
  readonly pathLabel?: string;
  /** The reference is computed from a secret (in part): the backend's messages are withheld from its errors. */
  readonly derived?: boolean;
  readonly backend: SecretBackend;
  readonly logger: Logger;
  readonly retry: RetryPolicy;
  /** run mode: subscribe to changes and refresh before leases or versions run out. `once`: fetch once. */
  readonly live: boolean;
  readonly now: () => number;
  readonly random: () => number;
  /** Called when the value's version differs from the one held (including the first value). */
  readonly onUpdate: (key: string) => void;
}

/**
 * One view per secret, shared by every reference to it (consul-template's watch/view.go): it fetches with
 * retries, backs off with jitter, drops results whose version did not change, keeps the last good value through
 * failures, and schedules the next renewal or re-fetch.
 */
export class SecretView {
  #current: FetchedSecret | undefined;
  #lastError: SidecarError | undefined;
  #inFlight: Promise<void> | undefined;
  #again = false;
  #timer: SafeTimer | undefined;
  #unsubscribe: Unsubscribe | undefined;
  readonly #abort = new AbortController();
  readonly #first: Promise<void>;
  #settleFirst!: { resolve: () => void; reject: (error: SidecarError) => void };

  constructor(private readonly options: SecretViewOptions) {
    this.#first = new Promise<void>((resolve, reject) => {
      this.#settleFirst = { resolve, reject };
    });
    this.#first.catch(() => undefined); // observed through firstValue(); never an unhandled rejection
  }

  get backend(): SecretBackend {
    return this.options.backend;
  }

  /** What may be displayed of this secret's identity. */
  get label(): string {
    return this.options.label ?? this.options.key;
  }

  get backendName(): string {
    return this.options.backend.name;
  }

  get current(): FetchedSecret | undefined {
    return this.#current;
  }

  get lastError(): SidecarError | undefined {
    return this.#lastError;
  }

  /** Resolves once a value is held; rejects when the first fetch fails for good (not retryable, or out of attempts). */
  firstValue(): Promise<void> {
    return this.#first;
  }

  async start(): Promise<void> {
    const { backend, path, live } = this.options;
    if (live && backend.watch) {
      // Subscribe before the first fetch so that a change in between cannot be missed.
      this.#unsubscribe = await backend.watch(path, () => this.refresh());
    }
    this.refresh();
  }

  /** Fetches again now (coalesced with a fetch already running). */
  refresh(): void {
    if (this.#abort.signal.aborted) return;
    if (this.#inFlight) {
      this.#again = true;
      return;
    }
    this.#inFlight = this.#cycle().finally(() => {
      this.#inFlight = undefined;
    });
  }

  async stop(): Promise<void> {
    this.#abort.abort(new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', 'watch stopped'));
    this.#timer?.clear();
    await this.#unsubscribe?.().catch(() => undefined);
    await this.#inFlight?.catch(() => undefined);
  }

  async #cycle(): Promise<void> {
    do {
      this.#again = false;
      await this.#fetchWithRetry();
    } while (this.#again && !this.#abort.signal.aborted);
  }

  async #fetchWithRetry(): Promise<void> {
    const { retry, logger } = this.options;
    const key = this.label;
    try {
      const secret = await retryWithBackoff(() => this.#fetchOnce(), {
        policy: retry,
        attempts: retry.attempts,
        signal: this.#abort.signal,
        random: this.options.random,
        onRetry: (raw, attempt, delayMs) => {
          const error = this.#conceal(raw);
          this.#lastError = error;
          publishBackoff({ ref: key, delayMs });
          logger.warn({ ref: key, attempt, retryInMs: delayMs, error: errorFields(error) }, 'fetch failed, retrying with backoff');
        },
      });
      this.#accept(secret);
    } catch (raw) {
      if (this.#abort.signal.aborted) return;
      const error = this.#conceal(toSidecarError(raw, 'SIDECAR_ERR_BACKEND_UNAVAILABLE'));
      this.#lastError = error;
      if (!this.#current) this.#settleFirst.reject(error);
      logger.error({ ref: key, error: errorFields(error) }, this.#current ? 'fetch failed; keeping the last good value' : 'fetch failed');
      this.#afterPermanentFailure();
    }
  }

  async #fetchOnce(): Promise<FetchedSecret> {
    const { backend, path, logger, now } = this.options;
    const shownPath = this.options.pathLabel ?? path;
    const started = now();
    try {
      const secret = await backend.fetch(path, {
        signal: this.#abort.signal,
        ...(this.options.pathLabel === undefined || this.options.pathLabel === path ? {} : { label: this.options.pathLabel }),
      });
      writeAudit(logger, {
        event: 'secret.fetch',
        backend: backend.name,
        path: shownPath,
        outcome: 'ok',
        durationMs: now() - started,
        version: secret.version,
        expiresAt: expiresAt(secret.lifetime, now()),
      });
      return secret;
    } catch (error) {
      const coded = toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE');
      writeAudit(logger, {
        event: 'secret.fetch',
        backend: backend.name,
        path: shownPath,
        outcome: 'error',
        durationMs: now() - started,
        errorCode: coded.code,
      });
      throw coded;
    }
  }

  #accept(secret: FetchedSecret): void {
    const changed = this.#current?.version !== secret.version;
    const recovered = this.#lastError !== undefined;
    this.#current = secret;
    this.#lastError = undefined;
    this.#settleFirst.resolve();
    if (recovered) {
      this.options.logger.info({ ref: this.label }, 'fetch recovered');
      publishBackoff({ ref: this.label, delayMs: 0 });
    }
    if (this.options.live) this.#schedule(secret);
    if (changed) this.options.onUpdate(this.options.key);
  }

  #schedule(secret: FetchedSecret): void {
    this.#timer?.clear();
    const plan = planRefresh(secret.lifetime, this.options.now(), this.options.random(), this.options.backend.refreshPolicy);
    if (plan.action === 'none') return;
    const delay = Math.max(0, plan.at - this.options.now());
    this.#timer = setSafeTimeout(() => {
      if (plan.action === 'renew') void this.#renew(secret);
      else this.refresh();
    }, delay);
  }

  async #renew(secret: FetchedSecret): Promise<void> {
    const { backend, logger, now } = this.options;
    const path = this.options.pathLabel ?? this.options.path;
    const key = this.label;
    if (!backend.renew || this.#abort.signal.aborted) return this.refresh();
    const started = now();
    try {
      const renewed = await backend.renew(secret, { signal: this.#abort.signal });
      writeAudit(logger, {
        event: 'secret.renew',
        backend: backend.name,
        path,
        outcome: 'ok',
        durationMs: now() - started,
        version: renewed.version,
        expiresAt: expiresAt(renewed.lifetime, now()),
      });
      // A fetch that finished meanwhile (the backend reported the lease ending) holds a newer secret: keep it.
      if (this.#current === secret) this.#accept(renewed);
    } catch (error) {
      const coded = this.#conceal(toSidecarError(error, 'SIDECAR_ERR_BACKEND_UNAVAILABLE'));
      writeAudit(logger, { event: 'secret.renew', backend: backend.name, path, outcome: 'error', durationMs: now() - started, errorCode: coded.code });
      if (this.#current !== secret) return;
      logger.warn({ ref: key, error: errorFields(coded) }, 'renewal failed; fetching a new secret');
      // A fetch already under way (the backend reported the lease gone) brings the new secret: one is enough.
      if (!this.#inFlight) this.refresh();
    }
  }

  /** The error as it may be shown: whole for a literal reference, without the backend's message for a derived one. */
  #conceal(error: SidecarError): SidecarError {
    return this.options.derived === true ? concealError(error, this.label) : error;
  }

  /**
   * After retries are exhausted or the error is not retryable: a backend that pushes changes will call us
   * when its source changes; any other is tried again at the longest backoff, for as long as we run.
   */
  #afterPermanentFailure(): void {
    if (!this.options.live || (this.#unsubscribe && this.options.backend.watchesSource)) return;
    this.#timer?.clear();
    this.#timer = setSafeTimeout(() => this.refresh(), this.options.retry.maxBackoffMs);
  }
}

/** When a fetched secret stops being valid, if it says: a lease's end (or max TTL), a certificate's notAfter. */
function expiresAt(lifetime: Lifetime, now: number): number | undefined {
  if (lifetime.kind === 'expiry') return lifetime.expiresAt;
  if (lifetime.kind === 'lease') return Math.min(now + lifetime.ttlMs, lifetime.maxExpiresAt ?? Infinity);
  return undefined;
}

/**
 * An error about a secret whose reference or arguments are computed from another secret: a backend's message may
 * quote the path in any form (split, encoded, prefixed), so it is withheld whole; the code, what it means and
 * the label remain.
 */
function concealError(error: SidecarError, label: string): SidecarError {
  return new SidecarError(
    error.code,
    `${label}: ${ERROR_CODES[error.code].summary} (the backend's message is withheld: the reference is derived from a secret)`,
    {
      hint: 'check the secret the reference or its arguments are computed from',
      retryable: error.retryable,
    },
  );
}
