import type { RetryPolicy } from '../config/types.js';
import { toSidecarError } from '../errors.js';
import { retryWithBackoff } from '../retry.js';
import { writeAudit } from '../log/audit.js';
import { errorFields } from '../log/error-fields.js';
import type { Logger } from '../log/logger.js';
import type { ReloadTarget } from './reload-target.js';
import { setSafeTimeout, type SafeTimer } from '../timer.js';

export interface ReloadDispatcherOptions {
  readonly targets: ReadonlyMap<string, ReloadTarget>;
  readonly logger: Logger;
  readonly retry: RetryPolicy;
  /** Tries per firing, retryable errors only (a target that is not up yet, a hook that failed). */
  readonly attempts: number;
  /** The longest a burst is collected before its targets fire even though templates are still busy. */
  readonly maxCollectMs: number;
}

/**
 * Collects the targets of every template written during a burst and fires each once, when the caller says the
 * burst is over (all templates idle) or after `maxCollectMs`. A new firing of a target supersedes the retries
 * of its previous one.
 */
export class ReloadDispatcher {
  readonly #pending = new Set<string>();
  readonly #inFlight = new Map<string, AbortController>();
  #maxTimer: SafeTimer | undefined;
  #stopped = false;

  constructor(private readonly options: ReloadDispatcherOptions) {}

  /** Templates wrote new bytes and name these targets. */
  request(names: Iterable<string>): void {
    if (this.#stopped) return;
    for (const name of names) this.#pending.add(name);
    if (this.#pending.size > 0 && this.#maxTimer === undefined) {
      this.#maxTimer = setSafeTimeout(() => this.flush(), this.options.maxCollectMs);
    }
  }

  /** The burst is over: fire every pending target once. */
  flush(): void {
    this.#maxTimer?.clear();
    this.#maxTimer = undefined;
    const names = [...this.#pending];
    this.#pending.clear();
    for (const name of names) {
      const target = this.options.targets.get(name);
      if (target) void this.#fire(target);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#maxTimer?.clear();
    this.#pending.clear();
    for (const controller of this.#inFlight.values()) controller.abort();
    this.#inFlight.clear();
    await Promise.resolve();
  }

  async #fire(target: ReloadTarget): Promise<void> {
    const { logger, retry } = this.options;
    this.#inFlight.get(target.name)?.abort();
    const controller = new AbortController();
    this.#inFlight.set(target.name, controller);
    const started = Date.now();
    try {
      const detail = await retryWithBackoff(() => target.fire(), {
        policy: retry,
        attempts: this.options.attempts,
        signal: controller.signal,
        onRetry: (error, attempt, delayMs) => {
          logger.warn({ notify: target.name, attempt, retryInMs: delayMs, error: errorFields(error) }, 'notify failed, retrying');
        },
      });
      // The audit record (and the metrics it feeds) before the log line: whoever reads the log finds both in place.
      writeAudit(logger, { event: 'reload.notify', target: target.name, outcome: 'ok', durationMs: Date.now() - started });
      logger.info({ notify: target.name, detail }, 'notified');
    } catch (error) {
      if (controller.signal.aborted) return;
      const coded = toSidecarError(error);
      writeAudit(logger, { event: 'reload.notify', target: target.name, outcome: 'error', durationMs: Date.now() - started, errorCode: coded.code });
      logger.error({ notify: target.name, error: errorFields(coded) }, 'notify failed');
    } finally {
      if (this.#inFlight.get(target.name) === controller) this.#inFlight.delete(target.name);
    }
  }
}
