export interface BackoffPolicy {
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

/**
 * The delay before retry number `attempt` (1-based): exponential from `backoffMs`, capped at `maxBackoffMs`, with
 * "equal jitter": half of it fixed, half spread by the caller's random draw in [0, 1). The spread stays at the cap,
 * so a fleet that lost its server together does not come back in lockstep.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: number): number {
  const exponential = policy.backoffMs * 2 ** Math.min(Math.max(0, attempt - 1), 52);
  const capped = Math.min(policy.maxBackoffMs, exponential);
  return Math.round(capped / 2 + (capped / 2) * random);
}
