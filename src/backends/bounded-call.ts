import { formatDuration } from '../config/duration.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { deadlineSignal } from '../timer.js';

export interface BoundedCallOptions {
  /** The caller's signal: `once --timeout`, shutdown, a backend closing. */
  readonly signal: AbortSignal;
  /** The whole call's deadline: connect, headers and every byte of the body (and an SDK's own retries). */
  readonly timeoutMs: number;
  /** "backend "prod": app/db", for the timeout's message. */
  readonly what: string;
  /** Told when the caller's signal (not the deadline) ended the call while it was in flight. */
  readonly onAbandon?: (reason: unknown) => void;
}

/**
 * Runs one SDK call with a signal that aborts at the deadline or with the caller's signal, and settles as soon
 * as either fires, even when the SDK is still reading a trickling body: an HTTP client's own timeouts watch only
 * idle sockets, so a server sending a byte every few seconds would otherwise outlive every deadline.
 * Rejects with a coded timeout, the caller's abort reason, or what the call threw (for the caller to code).
 */
export async function boundedCall<T>(call: (signal: AbortSignal) => Promise<T>, options: BoundedCallOptions): Promise<T> {
  options.signal.throwIfAborted();
  const deadline = deadlineSignal(options.timeoutMs, () => requestTimeout(options.what, options.timeoutMs));
  const signal = AbortSignal.any([options.signal, deadline.signal]);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([call(signal), aborted]);
  } catch (error) {
    if (options.signal.aborted) options.onAbandon?.(options.signal.reason);
    // The SDK's own AbortError (or a socket torn down by the abort) stands for our reason.
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : error;
    throw error;
  } finally {
    deadline.clear();
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

function requestTimeout(what: string, timeoutMs: number): SidecarError {
  return new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `${what}: no complete answer within ${formatDuration(timeoutMs)} (request_timeout); the server is slow, stalled or trickling its answer`);
}

/** The log line for a call that shutdown or `once --timeout` cut short: which call, and why. */
export function logAbandoned(logger: Logger, what: string, reason: unknown): void {
  logger.info({ call: what, reason: reason instanceof Error ? reason.message : String(reason) }, 'request in flight abandoned');
}
