/**
 * Node clamps a timer delay above 2^31-1 ms (24.8 days) to 1 ms, with only a warning. A certificate valid for 100
 * days would then be re-issued in a tight loop. Every delay computed from a lifetime or taken from the config goes
 * through this timer, which waits in steps no longer than Node's limit.
 */
export const MAX_TIMER_STEP_MS = 2 ** 31 - 1;

export interface SafeTimer {
  /** Stops the timer; harmless after it fired. */
  clear(): void;
  /** Lets the process exit while this timer waits (as Timeout.unref). */
  unref(): SafeTimer;
}

/**
 * Calls `callback` after `delayMs`. NaN and negative delays mean now; an infinite delay never fires. Uses the
 * global setTimeout at each step, so fake clocks in tests apply.
 */
export function setSafeTimeout(callback: () => void, delayMs: number): SafeTimer {
  let remaining = Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs);
  let handle: NodeJS.Timeout | undefined;
  let unref = false;
  let cleared = false;
  const arm = () => {
    if (cleared || remaining === Infinity) return;
    const step = Math.min(remaining, MAX_TIMER_STEP_MS);
    handle = setTimeout(() => {
      remaining -= step;
      if (remaining > 0) arm();
      else callback();
    }, step);
    if (unref) handle.unref();
  };
  arm();
  const timer: SafeTimer = {
    clear() {
      cleared = true;
      clearTimeout(handle);
    },
    unref() {
      unref = true;
      handle?.unref();
      return timer;
    },
  };
  return timer;
}

/** Resolves after `delayMs`, or rejects with the signal's reason when it aborts first. */
export function sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      timer.clear();
      reject(abortReason(signal));
    };
    const timer = setSafeTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The error an aborted signal stands for: its reason when that is an Error, else one that says it. */
export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return new Error(typeof reason === 'string' ? reason : 'aborted');
}

/**
 * An AbortSignal that aborts after `delayMs` with `reason` (AbortSignal.timeout refuses or clamps long delays).
 * `clear` releases the timer when the work finished first.
 */
export function deadlineSignal(delayMs: number, reason: () => Error): { readonly signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setSafeTimeout(() => controller.abort(reason()), delayMs);
  return { signal: controller.signal, clear: () => timer.clear() };
}

/**
 * Waits in `waiters` until the owner wakes it (resolves true: what it waited for went idle) or `graceMs` passes
 * (resolves false, and leaves the list).
 */
export function wakeOrTimeout(waiters: Array<() => void>, graceMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = () => {
      timer.clear();
      resolve(true);
    };
    const timer = setSafeTimeout(() => {
      waiters.splice(waiters.indexOf(done), 1);
      resolve(false);
    }, graceMs);
    waiters.push(done);
  });
}
