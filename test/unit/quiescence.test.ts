import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Quiescence } from '../../src/runner/quiescence.js';

describe('quiescence', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fires once after a burst has been quiet for min', () => {
    const fire = vi.fn();
    const q = new Quiescence({ minMs: 2000, maxMs: 10_000 }, fire);
    q.touch();
    vi.advanceTimersByTime(1500);
    q.touch();
    vi.advanceTimersByTime(1999);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(20_000);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('fires no later than max after the first change of a burst that never goes quiet', () => {
    const fire = vi.fn();
    const q = new Quiescence({ minMs: 2000, maxMs: 5000 }, fire);
    for (let t = 0; t < 6000; t += 1000) {
      q.touch();
      vi.advanceTimersByTime(1000);
      if (t < 4000) expect(fire).not.toHaveBeenCalled();
    }
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('coalesces changes of the same tick when wait is zero, and skips the wait when asked', () => {
    const fire = vi.fn();
    const q = new Quiescence({ minMs: 0, maxMs: 0 }, fire);
    q.touch();
    q.touch();
    q.touch();
    vi.advanceTimersByTime(0);
    expect(fire).toHaveBeenCalledTimes(1);

    const slow = vi.fn();
    const waiting = new Quiescence({ minMs: 5000, maxMs: 9000 }, slow);
    waiting.touch(true);
    vi.advanceTimersByTime(0);
    expect(slow).toHaveBeenCalledTimes(1);
  });

  it('does nothing after cancel', () => {
    const fire = vi.fn();
    const q = new Quiescence({ minMs: 100, maxMs: 200 }, fire);
    q.touch();
    q.cancel();
    vi.advanceTimersByTime(1000);
    expect(fire).not.toHaveBeenCalled();
    expect(q.pending).toBe(false);
  });
});
