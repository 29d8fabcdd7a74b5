import { abortReason } from '../timer.js';

/**
 * Settles with `work`, or rejects with the signal's reason as soon as it aborts: a local read stuck on a hung
 * mount cannot be cancelled, but shutdown and `once --timeout` must not wait for it. The work's own outcome,
 * once abandoned, is dropped. Without a signal it is the work itself.
 */
export async function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    throw abortReason(signal);
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    work.catch(() => undefined);
  }
}
