import type { Lifetime } from './lifetime.js';

export interface RefreshPolicy {
  /** Act when this fraction of the remaining lifetime has passed (two thirds, as secret-store agents do). */
  readonly fraction: number;
  /** Spread actions by up to this fraction of the wait, earlier only, so a fleet does not act in step. */
  readonly jitter: number;
  /**
   * Act at least this long before a lifetime ends: the time the application needs to switch (the longest
   * quiescence wait plus its reload hook's timeout). Never earlier than half the lifetime, so a lifetime shorter
   * than twice the margin cannot turn into a loop of re-fetches.
   */
  readonly marginMs: number;
}

export const DEFAULT_REFRESH_POLICY: RefreshPolicy = Object.freeze({ fraction: 2 / 3, jitter: 0.1, marginMs: 0 });

export type RefreshPlan = { readonly action: 'none' } | { readonly action: 'renew' | 'refetch'; readonly at: number };

/**
 * When to act on a fetched secret, as a pure function of its lifetime, when it was fetched, and a random number
 * in [0, 1) that the caller supplies (so tests are exact).
 * - until-changed: nothing to schedule; the backend pushes changes.
 * - poll: re-fetch after the interval.
 * - expiry: re-fetch after `fraction` of the time left.
 * - lease: renew after `fraction` of the TTL while a renewal can still extend it; once renewals stop extending
 *   it (max TTL), re-fetch after `fraction` of what is left, so the application has a new credential well before
 *   the old one dies; a lease that was never renewable is re-fetched at 85–95% of its duration.
 */
export function planRefresh(lifetime: Lifetime, fetchedAt: number, random: number, policy: RefreshPolicy = DEFAULT_REFRESH_POLICY): RefreshPlan {
  /**
   * `at`, or earlier to keep the margin before `end`; but not before half the time from `start` when acting
   * yields the same lifetime again (a renewal, a re-issued certificate), which would otherwise loop.
   */
  const ahead = (start: number, end: number, at: number, halfFloor = true) =>
    Math.round(Math.max(start, Math.min(at, Math.max(end - policy.marginMs, halfFloor ? start + (end - start) / 2 : start))));
  const spread = (start: number, end: number, halfFloor = true) => {
    const wait = Math.max(0, (end - start) * policy.fraction);
    return ahead(start, end, start + wait - wait * policy.jitter * random, halfFloor);
  };
  switch (lifetime.kind) {
    case 'until-changed':
      return { action: 'none' };
    case 'poll': {
      // The whole interval, earlier by up to the jitter: a fleet's polls spread out instead of arriving together.
      const next = Math.round(fetchedAt + lifetime.intervalMs - lifetime.intervalMs * policy.jitter * random);
      const early = lifetime.checkAt !== undefined && lifetime.checkAt > fetchedAt && lifetime.checkAt < next;
      return { action: 'refetch', at: early ? (lifetime.checkAt ?? next) : next };
    }
    case 'expiry':
      return { action: 'refetch', at: spread(fetchedAt, lifetime.expiresAt) };
    case 'lease': {
      const leaseEnd = fetchedAt + lifetime.ttlMs;
      const hardEnd = lifetime.maxExpiresAt === undefined ? leaseEnd : Math.min(leaseEnd, lifetime.maxExpiresAt);
      const renewAt = spread(fetchedAt, leaseEnd);
      // A renewal only helps if, after it, time remains before max TTL beyond what we already have.
      const renewalExtends = lifetime.maxExpiresAt === undefined || lifetime.maxExpiresAt > leaseEnd;
      if (lifetime.renewable && renewalExtends) return { action: 'renew', at: renewAt };
      // Never renewable: use most of it (85–95%, spread by the random draw), as secret-store agents do.
      if (!lifetime.renewable && lifetime.maxExpiresAt === undefined)
        return { action: 'refetch', at: ahead(fetchedAt, leaseEnd, fetchedAt + lifetime.ttlMs * (0.95 - 0.1 * random)) };
      // Renewals have stopped extending it (max TTL): replace it well ahead of the end, at once if the margin
      // is all that is left; but not before half the lease's whole life, or a max TTL shorter than the margin
      // would turn into a new lease at every first renewal.
      const floor = lifetime.issuedAt === undefined ? fetchedAt : Math.round(lifetime.issuedAt + (hardEnd - lifetime.issuedAt) / 2);
      return { action: 'refetch', at: Math.max(spread(fetchedAt, hardEnd, false), floor) };
    }
  }
}
