import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { boundedCall, linkSignals } from '../../src/backends/bounded-call.js';
import { SidecarError } from '../../src/errors.js';

const never = () => new Promise<never>(() => undefined);

describe('bounded call', () => {
  afterEach(() => vi.useRealTimers());

  it('ends a call that never settles at its deadline, with a coded timeout naming it', async () => {
    vi.useFakeTimers();
    const done = boundedCall(never, { signals: [], timeoutMs: 1_000, what: 'backend "prod": app/db' });
    const settled = expect(done).rejects.toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_UNAVAILABLE',
      message: 'backend "prod": app/db: no complete answer within 1s (request_timeout); the server is slow, stalled or trickling its answer',
    });
    await vi.advanceTimersByTimeAsync(1_000);
    await settled;
  });

  it("rejects at once with the caller's reason, tells onAbandon, and aborts the call's own signal", async () => {
    const caller = new AbortController();
    let seen: AbortSignal | undefined;
    const abandoned: unknown[] = [];
    const done = boundedCall((signal) => ((seen = signal), never()), {
      signals: [caller.signal],
      timeoutMs: 60_000,
      what: 'x',
      onAbandon: (reason) => abandoned.push(reason),
    });
    const stop = new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', 'watch stopped');
    caller.abort(stop);
    await expect(done).rejects.toBe(stop);
    expect(seen?.aborted).toBe(true);
    expect(abandoned).toEqual([stop]);
  });

  it('leaves no listener behind on long-lived signals, however many calls', async () => {
    const backend = new AbortController();
    const watch = new AbortController();
    for (let i = 0; i < 100; i++) await boundedCall(() => Promise.resolve(i), { signals: [watch.signal, backend.signal], timeoutMs: 60_000, what: 'x' });
    await expect(
      boundedCall(() => Promise.reject(new Error('boom')), { signals: [watch.signal, backend.signal], timeoutMs: 60_000, what: 'x' }),
    ).rejects.toThrow('boom');
    expect(getEventListeners(backend.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(watch.signal, 'abort')).toHaveLength(0);
  });

  it('links signals: aborts with the first reason, and is born aborted when a source already is', () => {
    const a = new AbortController();
    const b = new AbortController();
    const linked = linkSignals([a.signal, b.signal]);
    b.abort('second');
    expect(linked.signal.reason).toBe('second');
    linked.dispose();
    expect(linkSignals([b.signal]).signal.aborted).toBe(true);
  });
});
