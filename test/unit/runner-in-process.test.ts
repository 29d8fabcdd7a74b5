import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import type { ResolvedConfig } from '../../src/config/types.js';
import { SidecarError } from '../../src/errors.js';
import { subscribeEvents } from '../../src/events.js';
import type { AuditRecord } from '../../src/log/audit.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { Daemon } from '../../src/runner/daemon.js';
import { makeTmpfsDir, removeDir } from '../support/dirs.js';
import { scriptedBackends } from '../support/scripted-backend.js';

/*
 * Daemon, session, template runners, watcher and reload dispatcher wired together in this process, fed by a
 * scripted backend, with notify targets that are HTTP hooks on a loopback server recording each call (and what
 * the files held at that moment). Progress is awaited through the audit events, never by sleeping.
 */

let dir: string;
let server: Server;
let port: number;
/** Every notify call the server received, in order, with the files as the application would have read them. */
let calls: { target: string; files: Record<string, string | undefined> }[];
let audits: AuditRecord[];
let unsubscribe: () => void;
let waiters: (() => void)[];
let daemon: Daemon | undefined;

beforeEach(async () => {
  dir = await makeTmpfsDir();
  calls = [];
  audits = [];
  waiters = [];
  unsubscribe = subscribeEvents((event) => {
    if (event.kind !== 'audit') return;
    audits.push(event.record);
    for (const wake of waiters) wake();
  });
  server = createServer((req, res) => {
    const read = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : undefined);
    calls.push({ target: (req.url ?? '').slice(1), files: { a: read('a'), b: read('b'), c: read('c') } });
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  unsubscribe();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await removeDir(dir);
});

/** Resolves once the audit records seen so far satisfy `done`; the test's timeout bounds the wait. */
function until(done: (records: readonly AuditRecord[]) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!done(audits)) return;
      waiters = waiters.filter((w) => w !== check);
      resolve();
    };
    waiters.push(check);
    check();
  });
}

const notified = (target: string) => (records: readonly AuditRecord[]) =>
  records.filter((r) => r.event === 'reload.notify' && r.target === target && r.outcome === 'ok').length;
const written = (name: string) => (records: readonly AuditRecord[]) =>
  records.filter((r) => r.event === 'template.render' && r.destination.endsWith(`/${name}`) && r.result === 'written').length;

function template(name: string, contents: string, notify: string): string {
  return `template {\n  contents = ${JSON.stringify(contents)}\n  destination = "${join(dir, name)}"\n  notify = ["${notify}"]\n}\n`;
}

/** Three templates notify "app"; a fourth, "sentinel". A short quiet period makes a burst of changes one burst. */
function config(extra = '', backend = 'path = "/unused"'): Promise<ResolvedConfig> {
  const hook = (name: string) => `notify "${name}" {\n  http {\n    url = "http://127.0.0.1:${port}/${name}"\n  }\n}\n`;
  const source =
    `wait {\n  min = "50ms"\n  max = "2s"\n}\nretry {\n  backoff = "10ms"\n}\nbackend "file" "fake" {\n  ${backend}\n}\n` +
    hook('app') +
    hook('sentinel') +
    template('a', '{{secret "fake:a"}}', 'app') +
    template('b', '{{secret "fake:b"}}', 'app') +
    template('c', '{{secret "fake:c"}}', 'app') +
    template('s', '{{secret "fake:s"}}', 'sentinel') +
    extra;
  return parseConfig(source, join(dir, 'sidecar.hcl'));
}

async function startDaemon(backends: ReturnType<typeof scriptedBackends>, reloadConfig: () => Promise<ResolvedConfig> = () => config()): Promise<Daemon> {
  daemon = new Daemon({ logger: createSilentLogger(), env: {}, reloadConfig, openBackend: backends.open });
  await daemon.start(await config());
  await until((r) => notified('app')(r) >= 1 && notified('sentinel')(r) >= 1);
  return daemon;
}

const INITIAL = { fake: { a: 'a1', b: 'b1', c: 'c1', s: 's1' } };

describe('daemon, session, template runners and watcher in process', () => {
  it('fires a target once for a burst of changes to every template that names it (coalescing)', async () => {
    const backends = scriptedBackends(INITIAL);
    await startDaemon(backends);
    backends.get('fake').change({ a: 'a2', b: 'b2', c: 'c2' });
    await until((r) => written('a')(r) === 2 && written('b')(r) === 2 && written('c')(r) === 2 && notified('app')(r) >= 2);
    // A later, separate change: by the time its own target is told, any extra firing of the burst has happened.
    backends.get('fake').change({ s: 's2' });
    await until((r) => notified('sentinel')(r) >= 2);
    // Once at start, once for the burst of three.
    expect(calls.filter((c) => c.target === 'app')).toHaveLength(2);
    expect(calls.filter((c) => c.target === 'sentinel')).toHaveLength(2);
    // Each secret was fetched once at start and once for its change: the watcher shares nothing twice.
    expect(Object.fromEntries(backends.get('fake').fetches)).toEqual({ a: 2, b: 2, c: 2, s: 2 });
  });

  it('tells a target only after every file of the burst is written (notify ordering)', async () => {
    const backends = scriptedBackends(INITIAL);
    await startDaemon(backends);
    expect(calls.filter((c) => c.target === 'app').map((c) => c.files)).toEqual([{ a: 'a1', b: 'b1', c: 'c1' }]);
    const before = calls.length;
    backends.get('fake').change({ a: 'a2', b: 'b2', c: 'c2' });
    await until((r) => written('a')(r) === 2 && written('b')(r) === 2 && written('c')(r) === 2 && notified('app')(r) >= 2);
    expect(
      calls
        .slice(before)
        .filter((c) => c.target === 'app')
        .map((c) => c.files),
    ).toEqual([{ a: 'a2', b: 'b2', c: 'c2' }]);
  });

  it('renders and notifies the other templates while one keeps failing', async () => {
    const denied = new SidecarError('SIDECAR_ERR_BACKEND_DENIED', 'permission denied for "x"');
    const backends = scriptedBackends({ fake: { ...INITIAL.fake, x: denied } });
    daemon = new Daemon({ logger: createSilentLogger(), env: {}, reloadConfig: () => config(), openBackend: backends.open });
    await daemon.start(await config(template('x', '{{secret "fake:x"}}', 'app')));
    await until((r) => notified('app')(r) >= 1 && notified('sentinel')(r) >= 1);
    expect(existsSync(join(dir, 'x'))).toBe(false);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('a1');
    backends.get('fake').change({ b: 'b2' });
    await until((r) => notified('app')(r) >= 2);
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('b2');
    expect(audits.some((r) => r.event === 'secret.fetch' && r.path === 'x' && r.errorCode === 'SIDECAR_ERR_BACKEND_DENIED')).toBe(true);
    // And once the secret is readable, the failing template catches up.
    backends.get('fake').change({ x: 'x1' });
    await until((r) => written('x')(r) === 1);
    expect(readFileSync(join(dir, 'x'), 'utf8')).toBe('x1');
  });

  it('swaps in a reloaded config, keeping a backend whose config is unchanged and replacing one that changed', async () => {
    const backends = scriptedBackends(INITIAL);
    let next = config(template('d', 'new {{secret "fake:a"}}', 'app'));
    await startDaemon(backends, () => next);
    expect(await daemon?.reload()).toBe(true);
    await until((r) => written('d')(r) === 1);
    expect(readFileSync(join(dir, 'd'), 'utf8')).toBe('new a1');
    expect(backends.opened).toHaveLength(1);
    // The new session reacts to changes; the old one is gone (its files stay, it renders no more).
    backends.get('fake').change({ a: 'a2' });
    await until((r) => written('d')(r) === 2 && written('a')(r) === 2);
    expect(readFileSync(join(dir, 'd'), 'utf8')).toBe('new a2');

    // A broken config is refused and the running one kept.
    next = Promise.reject(new SidecarError('SIDECAR_ERR_CONFIG_INVALID', 'broken'));
    next.catch(() => undefined);
    expect(await daemon?.reload()).toBe(false);

    // A changed backend block is a new backend; the old one is closed once the new session is in.
    next = config('', 'path = "/elsewhere"');
    const before = backends.get('fake');
    expect(await daemon?.reload()).toBe(true);
    expect(before.closed).toBe(true);
    expect(backends.opened).toHaveLength(2);
  });
});
