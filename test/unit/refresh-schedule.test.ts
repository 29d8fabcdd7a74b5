import { describe, expect, it } from 'vitest';
import { planRefresh } from '../../src/lease/refresh-schedule.js';

const T0 = 1_000_000;

describe('refresh schedule', () => {
  it('schedules nothing for a secret that is good until its source changes', () => {
    expect(planRefresh({ kind: 'until-changed' }, T0, 0.5)).toEqual({ action: 'none' });
  });

  it('re-reads a polled secret after its interval, earlier by at most the jitter', () => {
    expect(planRefresh({ kind: 'poll', intervalMs: 300_000 }, T0, 0)).toEqual({ action: 'refetch', at: T0 + 300_000 });
    expect(planRefresh({ kind: 'poll', intervalMs: 300_000 }, T0, 0.5)).toEqual({ action: 'refetch', at: T0 + 285_000 });
  });

  it('checks a polled secret early, at its checkAt, when that comes before the interval (a scheduled rotation)', () => {
    expect(planRefresh({ kind: 'poll', intervalMs: 300_000, checkAt: T0 + 42_000 }, T0, 0.5)).toEqual({ action: 'refetch', at: T0 + 42_000 });
    expect(planRefresh({ kind: 'poll', intervalMs: 300_000, checkAt: T0 + 900_000 }, T0, 0)).toEqual({ action: 'refetch', at: T0 + 300_000 });
    expect(planRefresh({ kind: 'poll', intervalMs: 300_000, checkAt: T0 - 1 }, T0, 0)).toEqual({ action: 'refetch', at: T0 + 300_000 });
  });

  it('renews a renewable lease at two thirds of its TTL, earlier by at most the jitter', () => {
    const lease = { kind: 'lease', leaseId: 'l', ttlMs: 30_000, renewable: true } as const;
    expect(planRefresh(lease, T0, 0)).toEqual({ action: 'renew', at: T0 + 20_000 });
    expect(planRefresh(lease, T0, 0.999)).toEqual({ action: 'renew', at: T0 + 18_002 });
  });

  it('re-fetches ahead of max TTL once a renewal can no longer extend the lease', () => {
    const capped = { kind: 'lease', leaseId: 'l', ttlMs: 30_000, renewable: true, maxExpiresAt: T0 + 30_000 } as const;
    expect(planRefresh(capped, T0, 0)).toEqual({ action: 'refetch', at: T0 + 20_000 });
    const nearEnd = { kind: 'lease', leaseId: 'l', ttlMs: 30_000, renewable: true, maxExpiresAt: T0 + 12_000 } as const;
    expect(planRefresh(nearEnd, T0, 0)).toEqual({ action: 'refetch', at: T0 + 8_000 });
  });

  it('re-fetches a lease that was never renewable at 85 to 95 percent of its duration', () => {
    expect(planRefresh({ kind: 'lease', leaseId: 'l', ttlMs: 60_000, renewable: false }, T0, 0)).toEqual({ action: 'refetch', at: T0 + 57_000 });
    expect(planRefresh({ kind: 'lease', leaseId: 'l', ttlMs: 60_000, renewable: false }, T0, 0.999)).toEqual({ action: 'refetch', at: T0 + 51_006 });
  });

  it('acts at least the margin (time for the app to switch) before the end, but never before half the lifetime', () => {
    const policy = { fraction: 2 / 3, jitter: 0, marginMs: 15_000 };
    // 30 s lease: two thirds (20 s) leaves 10 s; the margin asks for 15 s, so renew at 15 s.
    expect(planRefresh({ kind: 'lease', leaseId: 'l', ttlMs: 30_000, renewable: true }, T0, 0, policy)).toEqual({ action: 'renew', at: T0 + 15_000 });
    // A long lease is already replaced well ahead: the margin changes nothing.
    expect(planRefresh({ kind: 'lease', leaseId: 'l', ttlMs: 3_600_000, renewable: true, maxExpiresAt: T0 + 3_600_000 }, T0, 0, policy)).toEqual({
      action: 'refetch',
      at: T0 + 2_400_000,
    });
    // A certificate valid 20 s: the margin would mean 5 s; half its life (10 s) is the earliest.
    expect(planRefresh({ kind: 'expiry', expiresAt: T0 + 20_000 }, T0, 0, policy)).toEqual({ action: 'refetch', at: T0 + 10_000 });
    // Renewals stopped extending it and only the margin is left: replace it now.
    expect(planRefresh({ kind: 'lease', leaseId: 'l', ttlMs: 12_000, renewable: true, maxExpiresAt: T0 + 12_000 }, T0, 0, policy)).toEqual({
      action: 'refetch',
      at: T0,
    });
    // A never-renewable lease: 95% would leave 3 s; the margin brings it to 45 s of 60 s.
    expect(planRefresh({ kind: 'lease', leaseId: 'l', ttlMs: 60_000, renewable: false }, T0, 0, policy)).toEqual({ action: 'refetch', at: T0 + 45_000 });
  });

  it('replaces a lease whose max TTL is shorter than twice the margin at half its whole life, not at every renewal', () => {
    const policy = { fraction: 2 / 3, jitter: 0, marginMs: 11_000 };
    // Issued at T0, max TTL 8.5 s, found out at the first renewal (1.5 s in): half its life, not at once.
    expect(planRefresh({ kind: 'lease', leaseId: 'l', ttlMs: 7_000, renewable: true, maxExpiresAt: T0 + 8_500, issuedAt: T0 }, T0 + 1_500, 0, policy)).toEqual({
      action: 'refetch',
      at: T0 + 4_250,
    });
    // Without the floor that would be at once, and again at every first renewal of each new lease.
    expect(planRefresh({ kind: 'lease', leaseId: 'l', ttlMs: 7_000, renewable: true, maxExpiresAt: T0 + 8_500 }, T0 + 1_500, 0, policy)).toEqual({
      action: 'refetch',
      at: T0 + 1_500,
    });
    // A max TTL long enough for the margin: replaced the margin before the end.
    expect(
      planRefresh({ kind: 'lease', leaseId: 'l', ttlMs: 11_000, renewable: true, maxExpiresAt: T0 + 40_000, issuedAt: T0 }, T0 + 29_000, 0, policy),
    ).toEqual({ action: 'refetch', at: T0 + 29_000 });
    expect(
      planRefresh({ kind: 'lease', leaseId: 'l', ttlMs: 20_000, renewable: true, maxExpiresAt: T0 + 40_000, issuedAt: T0 }, T0 + 20_000, 0, policy),
    ).toEqual({ action: 'refetch', at: T0 + 29_000 });
  });

  it('re-fetches an expiring secret after two thirds of the time it has left', () => {
    expect(planRefresh({ kind: 'expiry', expiresAt: T0 + 90_000 }, T0, 0)).toEqual({ action: 'refetch', at: T0 + 60_000 });
    // Already expired: act now, not in the past.
    expect(planRefresh({ kind: 'expiry', expiresAt: T0 - 5 }, T0, 0)).toEqual({ action: 'refetch', at: T0 });
  });
});
