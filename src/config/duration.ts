const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/**
 * Go-style durations ("250ms", "10s", "1h30m"), as consul-template and Vault Agent users write them.
 * Hand-written because the grammar is tiny and a library would accept forms ("1 hour") we want to refuse.
 * Returns milliseconds, or undefined when the text is not a duration. A huge text ("9…9h") gives Infinity, which
 * every bound below refuses.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * (UNIT_MS[unit ?? ''] ?? 0);
  return Math.round(total);
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** The range a duration option accepts, and why (for the message). */
export interface DurationBounds {
  readonly minMs: number;
  readonly maxMs: number;
  readonly why: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The longest duration any option takes: a year. Timers wait that long safely; nothing sensible waits longer. */
const YEAR = 8760 * HOUR;

const bounds = (minMs: number, maxMs: number, why: string): DurationBounds => Object.freeze({ minMs, maxMs, why });

/**
 * Every duration option's range. A bound is there because the value feeds something that cannot take more (a
 * socket timeout, Node's watchFile interval, undici's own header timeout), because 0 would spin in a loop, or
 * because past it the value can only be a mistake (a backoff cap of ten years). The README's table lists them.
 */
export const DURATION_BOUNDS = Object.freeze({
  wait: bounds(0, HOUR, 'a quiescence wait delays every render and the rotation margin with it'),
  backoff: bounds(10, HOUR, 'a shorter first retry hammers a failing backend'),
  maxBackoff: bounds(100, HOUR, 'the longest pause between retries; a longer one hides an outage that has ended'),
  pollInterval: bounds(100, HOUR, 'file polling: shorter spins on stat(), and Node refuses an interval past 49.7 days'),
  refreshInterval: bounds(100, YEAR, 'how often a secret is read again; 0 would read it in a loop'),
  requestTimeout: bounds(100, 10 * MINUTE, 'a socket timeout: 0 turns it off, and Node fires one past 24.8 days at once'),
  rotationMargin: bounds(0, YEAR, 'compared with lifetimes only (never acting before half of one)'),
  readinessGrace: bounds(0, YEAR, 'compared with how long a secret has been failing'),
  revokeTimeout: bounds(100, 10 * MINUTE, 'revocations at exit share this budget; Kubernetes kills a pod 30 s after SIGTERM by default'),
  killTimeout: bounds(0, HOUR, 'a shutdown waits this long for the child before SIGKILL'),
  splay: bounds(0, HOUR, 'a reload signal waits up to this long'),
  commandTimeout: bounds(10, HOUR, 'a reload command runs at most this long'),
  httpTimeout: bounds(10, 5 * MINUTE, "fetch's own header timeout (undici's 5 minutes) ends a longer wait first"),
  onceTimeout: bounds(1, YEAR, '`once` is bounded as a whole; an init container should not wait longer'),
});

/** Why `ms` is out of `range`, or undefined when it is within. Infinity and NaN are out. */
export function durationOutOfBounds(ms: number, range: DurationBounds): string | undefined {
  if (ms < range.minMs) return `must be at least ${formatDuration(range.minMs)} (${range.why})`;
  if (!(ms <= range.maxMs)) return `must be at most ${formatDuration(range.maxMs)} (${range.why})`;
  return undefined;
}

/**
 * Parses a duration given outside the config (the CLI's --timeout) and checks it against `range`: milliseconds,
 * or an error message for the user.
 */
export function parseBoundedDuration(text: string, range: DurationBounds): { readonly ms: number } | { readonly error: string } {
  const ms = parseDuration(text);
  if (ms === undefined) return { error: 'not a duration; write it like "250ms", "10s", "5m" or "1h30m"' };
  const outside = durationOutOfBounds(ms, range);
  return outside === undefined ? { ms } : { error: outside };
}
