import { afterEach, describe, expect, it, vi } from 'vitest';
import { SidecarError } from '../../src/errors.js';
import { backoffDelay } from '../../src/backoff.js';
import { retryWithBackoff } from '../../src/retry.js';

const POLICY = { backoffMs: 200, maxBackoffMs: 2000 };

describe('backoff delay', () => {
  it('doubles from backoff up to max_backoff', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(n, POLICY, 1))).toEqual([200, 400, 800, 1600, 2000, 2000, 2000]);
  });

  it('keeps half of each step fixed and spreads the other half, also at the cap', () => {
    expect(backoffDelay(1, POLICY, 0)).toBe(100);
    expect(backoffDelay(20, POLICY, 0)).toBe(1000);
    expect(backoffDelay(20, POLICY, 0.5)).toBe(1500);
    const atCap = new Set(Array.from({ length: 50 }, (_, i) => backoffDelay(30, POLICY, i / 50)));
    expect(atCap.size).toBe(50);
  });
});

describe('retry with backoff', () => {
  afterEach(() => vi.useRealTimers());
  const unavailable = () => new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', 'down');

  it("waits as long as the server's Retry-After asks, but never past max_backoff", async () => {
    vi.useFakeTimers();
    const delays: number[] = [];
    const asks = [1_500, 60_000, 10];
    const done = retryWithBackoff(
      (attempt) => {
        const retryAfterMs = asks[attempt - 1];
        return retryAfterMs === undefined
          ? Promise.resolve('up')
          : Promise.reject(new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', 'busy', { retryAfterMs }));
      },
      { policy: POLICY, attempts: 0, random: () => 1, onRetry: (_e, _a, delay) => delays.push(delay) },
    );
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(done).resolves.toBe('up');
    // 1.5 s asked, over the 200 ms step; a minute asked, capped at 2 s; 10 ms asked, the 800 ms step wins.
    expect(delays).toEqual([1_500, 2_000, 800]);
  });

  it('keeps growing the delay when retrying forever, then stays at the cap', async () => {
    vi.useFakeTimers();
    const delays: number[] = [];
    let calls = 0;
    const done = retryWithBackoff(
      () => {
        calls++;
        return calls < 8 ? Promise.reject(unavailable()) : Promise.resolve('up');
      },
      { policy: POLICY, attempts: 0, random: () => 1, onRetry: (_e, _a, delay) => delays.push(delay) },
    );
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(done).resolves.toBe('up');
    expect(delays).toEqual([200, 400, 800, 1600, 2000, 2000, 2000]);
  });

  it('waits four times longer after throttling than after other failures, within max_backoff', async () => {
    vi.useFakeTimers();
    const delays: number[] = [];
    const failures = [
      unavailable(),
      new SidecarError('SIDECAR_ERR_BACKEND_THROTTLED', 'slow down'),
      new SidecarError('SIDECAR_ERR_BACKEND_THROTTLED', 'slow down'),
    ];
    const done = retryWithBackoff((attempt) => (failures[attempt - 1] ? Promise.reject(failures[attempt - 1] as Error) : Promise.resolve('up')), {
      policy: POLICY,
      attempts: 0,
      random: () => 1,
      onRetry: (_e, _a, delay) => delays.push(delay),
    });
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(done).resolves.toBe('up');
    // Unavailable at attempt 1: 200 ms. Throttled at attempt 2: 1,600 ms, not 400; at attempt 3: the 2 s cap.
    expect(delays).toEqual([200, 1_600, 2_000]);
  });

  it('stops at once on an error that is not retryable, and after the attempts given', async () => {
    vi.useFakeTimers();
    const denied = vi.fn(() => Promise.reject(new SidecarError('SIDECAR_ERR_BACKEND_DENIED', 'no')));
    await expect(retryWithBackoff(denied, { policy: POLICY, attempts: 0 })).rejects.toMatchObject({ code: 'SIDECAR_ERR_BACKEND_DENIED' });
    expect(denied).toHaveBeenCalledTimes(1);
    const down = vi.fn(() => Promise.reject(unavailable()));
    const limited = retryWithBackoff(down, { policy: POLICY, attempts: 2 });
    const settled = expect(limited).rejects.toMatchObject({ code: 'SIDECAR_ERR_BACKEND_UNAVAILABLE' });
    await vi.advanceTimersByTimeAsync(10_000);
    await settled;
    expect(down).toHaveBeenCalledTimes(3);
  });

  it('stops waiting when aborted', async () => {
    const controller = new AbortController();
    const down = vi.fn(() => Promise.reject(unavailable()));
    let waitingForRetry!: () => void;
    const inBackoff = new Promise<void>((resolve) => (waitingForRetry = resolve));
    const waiting = retryWithBackoff(down, {
      policy: { backoffMs: 60_000, maxBackoffMs: 60_000 },
      attempts: 0,
      signal: controller.signal,
      onRetry: () => waitingForRetry(),
    });
    await inBackoff;
    controller.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    expect(down).toHaveBeenCalledTimes(1);
  });
});
