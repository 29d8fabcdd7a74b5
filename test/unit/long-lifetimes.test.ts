import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FetchedSecret, SecretBackend } from '../../src/backends/types.js';
import { createLogger } from '../../src/log/logger.js';
import { Sealed } from '../../src/sealed.js';
import { MAX_TIMER_STEP_MS, setSafeTimeout, sleep } from '../../src/timer.js';
import { SecretView } from '../../src/watch/secret-view.js';
import { LogCapture } from '../support/leaks.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A backend that issues a certificate valid for `validityMs` on every fetch, and counts the issuances. */
function certificateIssuer(validityMs: number): SecretBackend & { issued: number } {
  const issuer = {
    name: 'pki',
    type: 'stub',
    issued: 0,
    fetch(): Promise<FetchedSecret> {
      issuer.issued++;
      return Promise.resolve({
        value: new Sealed('certificate'),
        version: `serial-${issuer.issued}`,
        lifetime: { kind: 'expiry', expiresAt: Date.now() + validityMs },
      });
    },
    close: () => Promise.resolve(),
  };
  return issuer;
}

describe('lifetimes longer than a Node timer can wait', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('issues a 400-day certificate once and re-issues it only near its renewal point', async () => {
    const issuer = certificateIssuer(400 * DAY_MS);
    const view = new SecretView({
      key: 'pki:issue/web',
      path: 'issue/web',
      backend: issuer,
      logger: createLogger({ level: 'debug', format: 'json', stream: new LogCapture() }),
      retry: { attempts: 0, backoffMs: 100, maxBackoffMs: 1000 },
      live: true,
      now: () => Date.now(),
      random: () => 0, // no jitter: the renewal point is exactly two thirds of the validity
      onUpdate: () => undefined,
    });
    await view.start();
    await view.firstValue();
    // Before the fix the 266-day wait was clamped to 1 ms: thousands of issuances in the first seconds.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(issuer.issued).toBe(1);
    const renewalPoint = (400 * DAY_MS * 2) / 3;
    await vi.advanceTimersByTimeAsync(renewalPoint - 10_000 - 60_000);
    expect(issuer.issued).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(issuer.issued).toBe(2);
    await view.stop();
  });

  it('fires a safe timer once, after the whole delay, across several of Node’s longest steps', async () => {
    const fired = vi.fn();
    setSafeTimeout(fired, MAX_TIMER_STEP_MS * 2 + 5);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_STEP_MS * 2 + 4);
    expect(fired).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('never fires a cleared safe timer, nor one with an infinite delay', async () => {
    const cleared = vi.fn();
    const never = vi.fn();
    setSafeTimeout(cleared, MAX_TIMER_STEP_MS + 10).clear();
    setSafeTimeout(never, Infinity);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_STEP_MS * 3);
    expect(cleared).not.toHaveBeenCalled();
    expect(never).not.toHaveBeenCalled();
  });

  it('rejects a long sleep with the abort reason when its signal aborts', async () => {
    const controller = new AbortController();
    const slept = sleep(40 * DAY_MS, controller.signal);
    controller.abort(new Error('shutting down'));
    await expect(slept).rejects.toThrow('shutting down');
  });
});
