import { afterEach, describe, expect, it, vi } from 'vitest';
import { RateLimiter } from '../../src/backends/rate-limiter.js';

describe('rate limiter', () => {
  afterEach(() => vi.useRealTimers());

  it('lets a burst of the rate through at once, then spreads the rest at the rate', async () => {
    vi.useFakeTimers();
    const limiter = new RateLimiter(10, () => Date.now());
    let done = 0;
    const all = Promise.all(Array.from({ length: 25 }, () => limiter.take().then(() => done++)));
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(10);
    await vi.advanceTimersByTimeAsync(1000);
    expect(done).toBe(20);
    await vi.advanceTimersByTimeAsync(500);
    expect(done).toBe(25);
    await all;
  });
});
