import { toSidecarError, type SidecarError } from './errors.js';
import { backoffDelay, type BackoffPolicy } from './lease/backoff.js';
import { sleep } from './timer.js';

export interface RetryOptions {
  readonly policy: BackoffPolicy;
  /** Retries after the first failure; 0 retries for as long as it takes (until `signal` aborts). */
  readonly attempts: number;
  readonly signal?: AbortSignal;
  readonly random?: () => number;
  /** Called before each wait, with the error and the delay chosen; not for errors that will not be retried. */
  readonly onRetry?: (error: SidecarError, attempt: number, delayMs: number) => void;
}

/**
 * Runs `operation` until it succeeds, retrying errors whose `retryable` flag is set, with exponential backoff and
 * jitter (lease/backoff.ts). Rejects with the last error, coded, or with the abort reason.
 */
export async function retryWithBackoff<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await operation(attempt);
    } catch (raw) {
      const error = toSidecarError(raw);
      const exhausted = options.attempts > 0 && attempt > options.attempts;
      if (!error.retryable || exhausted || options.signal?.aborted) throw error;
      // A server's Retry-After is honoured, but never beyond the cap: a hostile answer cannot park us for a day.
      // Throttling without one waits longer than other failures (see retryDelay).
      const backoff = retryDelay(error, attempt, options.policy, (options.random ?? Math.random)());
      const delay = error.retryAfterMs === undefined ? backoff : Math.max(backoff, Math.min(error.retryAfterMs, options.policy.maxBackoffMs));
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}

/** Throttling waits 4x longer than other failures, within the cap: the server said it is overloaded. */
const THROTTLED_EXTRA_DOUBLINGS = 2;

function retryDelay(error: SidecarError, attempt: number, policy: BackoffPolicy, random: number): number {
  return backoffDelay(error.code === 'SIDECAR_ERR_BACKEND_THROTTLED' ? attempt + THROTTLED_EXTRA_DOUBLINGS : attempt, policy, random);
}
