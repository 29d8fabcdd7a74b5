import { formatDuration } from '../config/duration.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { abortReason, deadlineSignal } from '../timer.js';

export interface BoundedCallOptions {
  /** The caller's signals: `once --timeout`, shutdown, a backend closing. Any of them ends the call. */
  readonly signals: readonly AbortSignal[];
  /** The whole call's deadline: connect, headers and every byte of the body (and an SDK's own retries). */
  readonly timeoutMs: number;
  /** "backend "prod": app/db", for the timeout's message. */
  readonly what: string;
  /** Told when a caller's signal (not the deadline) ended the call while it was in flight. */
  readonly onAbandon?: (reason: unknown) => void;
}

/**
 * Runs one SDK call with a signal that aborts at the deadline or with any of the caller's signals, and settles as
 * soon as one fires, even when the SDK is still reading a trickling body: an HTTP client's own timeouts watch only
 * idle sockets, so a server sending a byte every few seconds would otherwise outlive every deadline.
 * Rejects with a coded timeout, the caller's abort reason, or what the call threw (for the caller to code).
 */
export async function boundedCall<T>(call: (signal: AbortSignal) => Promise<T>, options: BoundedCallOptions): Promise<T> {
  for (const signal of options.signals) signal.throwIfAborted();
  const deadline = deadlineSignal(options.timeoutMs, () => requestTimeout(options.what, options.timeoutMs));
  const linked = linkSignals([...options.signals, deadline.signal]);
  const { signal } = linked;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([call(signal), aborted]);
  } catch (error) {
    const caller = options.signals.find((s) => s.aborted);
    if (caller) options.onAbandon?.(caller.reason);
    // The SDK's own AbortError (or a socket torn down by the abort) stands for our reason.
    if (signal.aborted) throw abortReason(signal);
    throw error;
  } finally {
    deadline.clear();
    linked.dispose();
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * One signal that aborts when any of `signals` does; `dispose` detaches it. Unlike AbortSignal.any, nothing is
 * left behind on long-lived signals (a backend's, a watch's): on Node 20, AbortSignal.any keeps ~150 bytes on
 * its sources per call, which a daemon polling for months would accumulate.
 */
export function linkSignals(signals: readonly AbortSignal[]): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onAbort = (event: Event) => controller.abort((event.target as AbortSignal).reason);
  const attached: AbortSignal[] = [];
  for (const source of signals) {
    if (source.aborted) {
      controller.abort(source.reason);
      break;
    }
    source.addEventListener('abort', onAbort, { once: true });
    attached.push(source);
  }
  return { signal: controller.signal, dispose: () => attached.forEach((source) => source.removeEventListener('abort', onAbort)) };
}

/** The log line for a call that shutdown or `once --timeout` cut short: which call, and why. */
export function logAbandoned(logger: Logger, what: string, reason: unknown): void {
  logger.info({ call: what, reason: reason instanceof Error ? reason.message : String(reason) }, 'request in flight abandoned');
}

function requestTimeout(what: string, timeoutMs: number): SidecarError {
  return new SidecarError(
    'SIDECAR_ERR_BACKEND_UNAVAILABLE',
    `${what}: no complete answer within ${formatDuration(timeoutMs)} (request_timeout); the server is slow, stalled or trickling its answer`,
  );
}
