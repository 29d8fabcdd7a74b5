import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FetchedSecret, SecretBackend } from '../../src/backends/types.js';
import { createLogger } from '../../src/log/logger.js';
import type { TemplateOutput } from '../../src/runner/template-output.js';
import { TemplateRunner, type RenderOutcome } from '../../src/runner/template-runner.js';
import { storeOf } from '../../src/runner/watcher-store.js';
import { Sealed } from '../../src/sealed.js';
import { compileTemplate } from '../../src/template/compile.js';
import { Watcher } from '../../src/watch/watcher.js';
import { LogCapture, expectNoSecrets } from '../support/leaks.js';

/*
 * One template runner, its watcher and a backend whose answers the test releases one by one (a unit test may
 * stub a backend), to see how many renders the arrival of a template's secrets costs.
 */

const VALUES = { a: 'runner-secret-a-71c', b: 'runner-secret-b-0d4', c: 'runner-secret-c-e93' } as const;

/** Each fetch waits until the test releases that path; a release after a fetch is a new version. */
function gatedBackend() {
  const pending = new Map<string, (secret: FetchedSecret) => void>();
  const waiting = new Map<string, () => void>();
  const backend: SecretBackend = {
    name: 'g',
    fetch: (path, context) =>
      new Promise<FetchedSecret>((resolve, reject) => {
        pending.set(path, resolve);
        waiting.get(path)?.();
        // A fetch never released ends with the watcher.
        context.signal.addEventListener('abort', () => reject(context.signal.reason as Error), { once: true });
      }),
    close: () => Promise.resolve(),
  };
  /** Answers the fetch of `path` (waiting for it to be asked, if need be). */
  const release = async (path: string, value: string, version = 'v1') => {
    if (!pending.has(path)) await new Promise<void>((resolve) => waiting.set(path, resolve));
    const resolve = pending.get(path);
    pending.delete(path);
    resolve?.({ value: new Sealed(value), version, lifetime: { kind: 'until-changed' } });
  };
  return { backend, release };
}

function setUp(source: string) {
  const capture = new LogCapture();
  const logger = createLogger({ level: 'debug', format: 'json', stream: capture });
  const gated = gatedBackend();
  const watcher = new Watcher({ backends: new Map([['g', gated.backend]]), logger, retry: { attempts: 0, backoffMs: 10, maxBackoffMs: 100 }, live: false });
  const writes: string[] = [];
  const output: TemplateOutput = {
    label: 'memory',
    write: (bytes) => {
      writes.push(Buffer.from(bytes).toString('utf8'));
      return Promise.resolve('written');
    },
  };
  const outcomes: RenderOutcome[] = [];
  let wake: (() => void) | undefined;
  const runner = new TemplateRunner({
    job: { name: 't', compiled: compileTemplate('t', source, false), errorOnMissingKey: false, wait: { minMs: 0, maxMs: 0 }, notify: [] },
    output,
    watcher,
    logger,
    renderOptions: { store: storeOf(watcher), mask: false, env: {}, envAllow: [] },
    retryBackoffMs: 10,
    maxBackoffMs: 100,
    onRendered: (_, outcome) => {
      outcomes.push(outcome);
      wake?.();
    },
    onFatal: (error) => {
      throw error;
    },
  });
  // As the session does: a new value goes to the runners that read it.
  watcher.onUpdate = (key) => {
    if (runner.deps.has(key)) runner.changed(key);
  };
  /** Resolves once a render ended with `outcome` (the test's timeout bounds the wait). */
  const rendered = (outcome: RenderOutcome) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!outcomes.includes(outcome)) return;
        wake = undefined;
        resolve();
      };
      wake = check;
      check();
    });
  running.push(async () => {
    await runner.stop();
    await watcher.stop();
  });
  return { runner, watcher, release: gated.release, writes, outcomes, rendered, capture };
}

let running: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(running.map((stop) => stop()));
  running = [];
});

describe('template runner', () => {
  it('renders an incomplete template again only once every secret it missed has arrived', async () => {
    const t = setUp('{{secret "g:a"}} {{secret "g:b"}} {{secret "g:c"}}');
    t.runner.schedule();
    await t.rendered('incomplete');
    expect(t.runner.passes).toBe(1);
    await t.release('a', VALUES.a);
    await t.watcher.view('g:a')?.firstValue();
    // b and c are still missing: a render now could only find them missing again.
    expect(t.runner.busy).toBe(false);
    await t.release('b', VALUES.b);
    await t.watcher.view('g:b')?.firstValue();
    expect(t.runner.busy).toBe(false);
    await t.release('c', VALUES.c);
    await t.rendered('written');
    expect(t.writes).toEqual([`${VALUES.a} ${VALUES.b} ${VALUES.c}`]);
    expect(t.runner.passes).toBe(2);
    expectNoSecrets(t.capture.text, Object.values(VALUES));
  });

  it('renders at once when a secret the incomplete render did read changes what it asks for', async () => {
    // The reference is read from g:name; the secret it first names never arrives.
    const t = setUp('{{secret (secret "g:name")}}');
    t.runner.schedule();
    await t.rendered('incomplete');
    await t.release('name', 'g:a');
    await t.watcher.view('g:name')?.firstValue();
    await vi.waitFor(() => expect(t.outcomes.filter((o) => o === 'incomplete')).toHaveLength(2));
    expect(t.runner.deps.has('g:a')).toBe(true);
    // Now it names g:b instead (a new version of g:name): that change renders although g:a is still missing.
    t.watcher.refresh('g:name');
    await t.release('name', 'g:b', 'v2');
    await vi.waitFor(() => expect(t.runner.deps.has('g:b')).toBe(true));
    await t.release('b', VALUES.b);
    await t.rendered('written');
    expect(t.writes).toEqual([VALUES.b]);
    expectNoSecrets(t.capture.text, [VALUES.b]);
  });

  it('does not render twice for a change the render already under way has read', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
    const t = setUp('{{secret "g:a"}}');
    const first = t.release('a', VALUES.a);
    t.watcher.request('g:a', { backend: 'g', path: 'a', shown: 'g:a', label: 'g:a', pathLabel: 'a', derived: false });
    await first;
    await t.watcher.view('g:a')?.firstValue();
    t.runner.schedule();
    await vi.runAllTimersAsync();
    expect(t.writes).toHaveLength(1);
    // A change: its timer fires and queues a render; before that render reads the secrets, a second change
    // arrives, and its own timer fires too. The queued render reads both; the second has nothing to do.
    t.runner.changed('g:a');
    vi.advanceTimersByTime(0);
    t.runner.changed('g:a');
    vi.advanceTimersByTime(0);
    await vi.runAllTimersAsync();
    expect(t.outcomes).toEqual(['written', 'written', 'unchanged']);
    expect(t.runner.passes).toBe(2);
    expect(t.writes).toHaveLength(2);
    expectNoSecrets(t.capture.text, [VALUES.a]);
  });
});
