import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Daemon, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';

// Classes 3 and 4 of issue 22: a KV v2 version number reused after `kv metadata delete`, and a mount that changed
// type (`kv enable-versioning`) while the sidecar ran.

let bao: OpenBao;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  bao = await startOpenBao();
});
afterAll(async () => {
  await bao?.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

function config(refs: readonly string[], refresh: string): string {
  return `
backend "vault" "main" {
  address = "${bao.address}"
  static_refresh_interval = "${refresh}"
}
retry {
  backoff     = "100ms"
  max_backoff = "500ms"
}
${refs.map((ref, i) => `template {\n  contents    = "{{secret \\"main:${ref}\\"}}"\n  destination = "@OUT@/f${i}"\n}\n`).join('')}`;
}

const fileText = (i: number) => readFileSync(join(project?.out ?? '', `f${i}`), 'utf8');
const reads = async (path: string) => (await bao.auditedRequests()).filter((r) => r.path === path).length;

describe('KV v2 version numbers reused after metadata delete', () => {
  it('renders the new value at the next poll, though its version number (1) is the one it already had', async () => {
    await bao.api('POST', 'secret/data/reuse', { data: { pw: 'reuse-old-5a5a' } });
    project = await makeProject({ config: config(['secret/reuse#pw'], '500ms') });
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(fileText(0)).toBe('reuse-old-5a5a');

    await bao.api('DELETE', 'secret/metadata/reuse');
    const put = await bao.api('POST', 'secret/data/reuse', { data: { pw: 'reuse-new-6b6b' } });
    expect((put?.['data'] as { version: number }).version).toBe(1);
    await vi.waitFor(() => expect(fileText(0)).toBe('reuse-new-6b6b'), { timeout: 5_000, interval: 100 });
    expectNoSecrets(daemon.stderr, ['reuse-old-5a5a', 'reuse-new-6b6b', bao.rootToken]);
  });

  it('renders it on a forced refresh (SIGUSR1) when polling is far off', async () => {
    await bao.api('POST', 'secret/data/forced', { data: { pw: 'forced-old-7c7c' } });
    project = await makeProject({ config: config(['secret/forced#pw'], '1h') });
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    await bao.api('DELETE', 'secret/metadata/forced');
    await bao.api('POST', 'secret/data/forced', { data: { pw: 'forced-new-8d8d' } });
    const before = await reads('secret/data/forced');
    const mark = daemon.mark;
    daemon.signal('SIGUSR1');
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark);
    expect(fileText(0)).toBe('forced-new-8d8d');
    expect(await reads('secret/data/forced')).toBe(before + 1);
    expectNoSecrets(daemon.stderr, ['forced-old-7c7c', 'forced-new-8d8d', bao.rootToken]);
  });
});

describe('a KV mount that changes type while the sidecar runs', () => {
  it('looks the mount up again after a 404 under it, once for all its secrets, and on SIGHUP', async () => {
    await bao.api('POST', 'sys/mounts/kv1', { type: 'kv', options: { version: '1' } });
    for (const name of ['a', 'b', 'c']) await bao.api('POST', `kv1/${name}`, { pw: `mount-${name}-old-9e9e` });
    const refs = ['kv1/a#pw', 'kv1/b#pw', 'kv1/c#pw'];
    project = await makeProject({ config: config(refs, '500ms') });
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const mountLookups = async () => (await bao.auditedRequests()).filter((r) => r.path.startsWith('sys/internal/ui/mounts/kv1/')).length;
    expect(await mountLookups()).toBe(1);

    // kv enable-versioning: the same data, now under kv1/data/…; then new values.
    await bao.api('POST', 'sys/mounts/kv1/tune', { options: { version: '2' } });
    await vi.waitFor(
      async () =>
        expect(
          await bao.api('GET', 'kv1/data/a').then(
            () => true,
            () => false,
          ),
        ).toBe(true),
      { timeout: 10_000, interval: 100 },
    );
    for (const name of ['a', 'b', 'c']) await bao.api('POST', `kv1/data/${name}`, { data: { pw: `mount-${name}-new-0f0f` } });
    await vi.waitFor(() => expect([0, 1, 2].map(fileText)).toEqual(['mount-a-new-0f0f', 'mount-b-new-0f0f', 'mount-c-new-0f0f']), {
      timeout: 10_000,
      interval: 100,
    });
    const afterChange = await mountLookups();
    expect(afterChange).toBeLessThanOrEqual(2);
    expect(daemon.count((r) => r.msg === 'vault mount changed; reading under its new type')).toBeGreaterThanOrEqual(1);

    // SIGHUP: the mount is looked up again, once for the three secrets.
    daemon.signal('SIGHUP');
    await daemon.waitFor((r) => r.msg === 'configuration reloaded');
    await vi.waitFor(async () => expect(await mountLookups()).toBe(afterChange + 1), { timeout: 5_000, interval: 100 });
    // Two more polls of each secret: no further lookups.
    const mark = daemon.mark;
    const polled = (r: LogRecord) => (r['audit'] as { event?: string } | undefined)?.event === 'secret.fetch';
    await vi.waitFor(() => expect(daemon?.count(polled, mark)).toBeGreaterThanOrEqual(6), { timeout: 5_000, interval: 100 });
    expect(await mountLookups()).toBe(afterChange + 1);
    console.log(`mount changed type: ${afterChange - 1} lookup(s) for 3 secrets; SIGHUP: 1 more`);
    expectNoSecrets(daemon.stderr, ['mount-a-old-9e9e', 'mount-a-new-0f0f', bao.rootToken]);
  }, 40_000);
});
