import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FetchedSecret, SecretBackend } from '../../src/backends/types.js';
import { SidecarError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { Sealed } from '../../src/sealed.js';
import { SecretView } from '../../src/watch/secret-view.js';
import { LogCapture, expectNoSecrets } from '../support/leaks.js';

const VALUE = 'view-secret-value-9f2';

/** A stub backend (a unit test may stub a client): answers from a script of results. */
function scriptedBackend(script: (() => FetchedSecret)[]): SecretBackend & { calls: number } {
  const backend = {
    name: 'stub',
    type: 'stub',
    calls: 0,
    fetch: () => {
      const step = script[Math.min(backend.calls, script.length - 1)];
      backend.calls++;
      try {
        return Promise.resolve(step ? step() : ok('x', 'v0'));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
    close: () => Promise.resolve(),
  };
  return backend;
}

function ok(value: string, version: string, lifetime: FetchedSecret['lifetime'] = { kind: 'until-changed' }): FetchedSecret {
  return { value: new Sealed(value), version, lifetime };
}

const unavailable = () => {
  throw new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', 'connection refused');
};
const notFound = () => {
  throw new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', 'no such secret');
};

function makeView(backend: SecretBackend, capture: LogCapture, overrides: { live?: boolean; attempts?: number } = {}) {
  const onUpdate = vi.fn();
  const view = new SecretView({
    key: 'stub:path',
    path: 'path',
    backend,
    logger: createLogger({ level: 'debug', format: 'json', stream: capture }),
    retry: { attempts: overrides.attempts ?? 0, backoffMs: 100, maxBackoffMs: 1000 },
    live: overrides.live ?? true,
    now: () => Date.now(),
    random: () => 0,
    onUpdate,
  });
  return { view, onUpdate };
}

describe('secret view', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries a retryable failure with backoff until it succeeds, then reports the value once', async () => {
    const backend = scriptedBackend([unavailable, unavailable, () => ok(VALUE, 'v1')]);
    const capture = new LogCapture();
    const { view, onUpdate } = makeView(backend, capture);
    await view.start();
    await vi.advanceTimersByTimeAsync(5000);
    await expect(view.firstValue()).resolves.toBeUndefined();
    expect(backend.calls).toBe(3);
    expect(onUpdate).toHaveBeenCalledTimes(1);
    expect(view.current?.value.reveal()).toBe(VALUE);
    const warnings = capture.records().filter((r) => r['msg'] === 'fetch failed, retrying with backoff');
    expect(warnings).toHaveLength(2);
    const audits = capture.records().filter((r) => r['audit']);
    expect(audits.map((r) => (r['audit'] as { outcome: string }).outcome)).toEqual(['error', 'error', 'ok']);
    expectNoSecrets(capture.text, [VALUE]);
    await view.stop();
  });

  it('does not retry an error that is not retryable, and fails the first value with it', async () => {
    const backend = scriptedBackend([notFound]);
    const { view } = makeView(backend, new LogCapture(), { live: false });
    await view.start();
    await expect(view.firstValue()).rejects.toMatchObject({ code: 'SIDECAR_ERR_BACKEND_NOT_FOUND' });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(backend.calls).toBe(1);
  });

  it('gives up after the configured attempts', async () => {
    const backend = scriptedBackend([unavailable]);
    const { view } = makeView(backend, new LogCapture(), { live: false, attempts: 2 });
    await view.start();
    const first = view.firstValue();
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(first).rejects.toMatchObject({ code: 'SIDECAR_ERR_BACKEND_UNAVAILABLE' });
    expect(backend.calls).toBe(3);
  });

  it('keeps the last good value through failures and reports only real changes', async () => {
    const backend = scriptedBackend([() => ok(VALUE, 'v1'), () => ok(VALUE, 'v1'), unavailable, () => ok('rotated', 'v2')]);
    const capture = new LogCapture();
    const { view, onUpdate } = makeView(backend, capture);
    await view.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(onUpdate).toHaveBeenCalledTimes(1);
    view.refresh(); // same version: no update
    await vi.advanceTimersByTimeAsync(0);
    expect(onUpdate).toHaveBeenCalledTimes(1);
    view.refresh(); // fails once, keeps v1, then retries into v2
    await vi.advanceTimersByTimeAsync(0);
    expect(view.current?.version).toBe('v1');
    await vi.advanceTimersByTimeAsync(1000);
    expect(view.current?.version).toBe('v2');
    expect(onUpdate).toHaveBeenCalledTimes(2);
    expectNoSecrets(capture.text, [VALUE, 'rotated']);
    await view.stop();
  });

  it('re-fetches an expiring secret on schedule in run mode', async () => {
    const backend = scriptedBackend([
      () => ok(VALUE, 'v1', { kind: 'expiry', expiresAt: Date.now() + 30_000 }),
      () => ok(VALUE, 'v2', { kind: 'until-changed' }),
    ]);
    const { view, onUpdate } = makeView(backend, new LogCapture());
    await view.start();
    await vi.advanceTimersByTimeAsync(19_999);
    expect(backend.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(backend.calls).toBe(2);
    expect(onUpdate).toHaveBeenCalledTimes(2);
    await view.stop();
  });

  it('checks a polled secret just after its scheduled rotation instead of waiting out the interval', async () => {
    const rotationDue = Date.now() + 40_000;
    const backend = scriptedBackend([
      () => ok(VALUE, 'v1', { kind: 'poll', intervalMs: 300_000, checkAt: rotationDue + 15_000 }),
      () => ok('rotated', 'v2', { kind: 'poll', intervalMs: 300_000 }),
    ]);
    const { view, onUpdate } = makeView(backend, new LogCapture());
    await view.start();
    await vi.advanceTimersByTimeAsync(54_999);
    expect(backend.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(backend.calls).toBe(2);
    expect(onUpdate).toHaveBeenCalledTimes(2);
    await view.stop();
  });

  it('coalesces refreshes that arrive while a fetch is running', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const backend: SecretBackend = {
      name: 'slow',
      fetch: async () => {
        calls++;
        await gate;
        return ok(VALUE, `v${calls}`);
      },
      close: () => Promise.resolve(),
    };
    const { view } = makeView(backend, new LogCapture());
    await view.start();
    view.refresh();
    view.refresh();
    view.refresh();
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(2);
    await view.stop();
  });

  it('keeps a secret fetched while a renewal of the one it replaces was under way (the renewal answers late)', async () => {
    const lease = (id: string): FetchedSecret['lifetime'] => ({ kind: 'lease', leaseId: id, ttlMs: 30_000, renewable: true });
    let finishRenewal: (secret: FetchedSecret) => void = () => undefined;
    let fetches = 0;
    const backend: SecretBackend = {
      name: 'leasing',
      fetch: () => Promise.resolve(++fetches === 1 ? ok(VALUE, 'lease-1', lease('l1')) : ok('new-credentials', 'lease-2', lease('l2'))),
      renew: (secret) => new Promise((resolve) => (finishRenewal = () => resolve(secret))),
      close: () => Promise.resolve(),
    };
    const { view } = makeView(backend, new LogCapture());
    await view.start();
    await vi.advanceTimersByTimeAsync(0);
    // The renewal of lease 1 starts at two thirds of its TTL and hangs; meanwhile a fetch brings lease 2.
    await vi.advanceTimersByTimeAsync(20_000);
    view.refresh();
    await vi.advanceTimersByTimeAsync(0);
    expect(view.current?.version).toBe('lease-2');
    finishRenewal(ok(VALUE, 'lease-1', lease('l1')));
    await vi.advanceTimersByTimeAsync(0);
    expect(view.current?.version).toBe('lease-2');
    await view.stop();
  });
});
