import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Daemon, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startOpenBao, type OpenBao } from '../support/openbao.js';
import { startPostgres, type Postgres } from '../support/postgres.js';
import { mountDatabaseEngine } from '../support/database-engine.js';
import { makeProject, type Project } from '../support/project.js';

let bao: OpenBao;
let pg: Postgres;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  [bao, pg] = await Promise.all([startOpenBao(), startPostgres()]);
  await mountDatabaseEngine(bao, pg, { app: { defaultTtl: '4s', maxTtl: '12s' }, long: { defaultTtl: '10s', maxTtl: '10s' } });
  await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
});

/** A policy that lets a sidecar read database credentials and renew their leases. */
async function credsPolicy(name: string): Promise<void> {
  const paths = { 'database/creds/app': ['read'], 'sys/leases/renew': ['update'], 'sys/internal/ui/mounts/*': ['read'] };
  await bao.api('PUT', `sys/policies/acl/${name}`, {
    policy: Object.entries(paths)
      .map(([p, caps]) => `path "${p}" {\n  capabilities = ${JSON.stringify(caps)}\n}\n`)
      .join(''),
  });
}

async function leaseExpiry(leaseId: string): Promise<number> {
  return Date.parse(((await bao.api('PUT', 'sys/leases/lookup', { lease_id: leaseId })) as unknown as LeaseLookup).data.expire_time);
}

async function onlyLease(): Promise<string> {
  const leases = (await bao.api('LIST', 'sys/leases/lookup/database/creds/app')) as { data: { keys: string[] } };
  expect(leases.data.keys).toHaveLength(1);
  return `database/creds/app/${leases.data.keys[0] ?? ''}`;
}

function credsTemplate(backend: string): string {
  return `
backend "vault" "main" {
  address = "${bao.address}"
  ${backend}
}
template {
  contents    = "{{#with (secret \\"main:database/creds/app\\")}}{{username}}\\n{{password}}\\n{{/with}}"
  destination = "@OUT@/db.txt"
}
`;
}
afterAll(async () => {
  await bao?.stop();
  pg?.stop();
});
afterEach(async () => {
  await daemon?.stop();
  // Each test counts the leases it made.
  await bao.api('PUT', 'sys/leases/revoke-prefix/database/creds/app');
  await removeDir(project?.root);
  daemon = project = undefined;
});

const audit = (event: string) => (r: LogRecord) =>
  (r['audit'] as { event?: string; outcome?: string } | undefined)?.event === event && (r['audit'] as { outcome: string }).outcome === 'ok';
const written = (r: LogRecord) => r.msg === 'rendered' && r['outcome'] === 'written';

interface LeaseLookup {
  data: { expire_time: string; id: string };
}

describe('vault dynamic database credentials against real OpenBao and PostgreSQL', () => {
  it('renders working credentials, renews their lease, and replaces them before max TTL while they still work', async () => {
    project = await makeProject({
      config: `
backend "vault" "main" {
  address = "${bao.address}"
  revoke_leases_on_exit = true
}
template {
  contents    = "{{#with (secret \\"main:database/creds/app\\")}}{{username}}\\n{{password}}\\n{{/with}}"
  destination = "@OUT@/db.txt"
}
`,
    });
    const file = join(project.out, 'db.txt');
    const read = () => {
      const [user = '', password = ''] = readFileSync(file, 'utf8').split('\n');
      return { user, password };
    };
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const first = read();
    expect(pg.login(first.user, first.password)).toEqual({ ok: true, output: first.user });

    // Renewed: the lease's expiry moves forward.
    const leases = (await bao.api('LIST', 'sys/leases/lookup/database/creds/app')) as { data: { keys: string[] } };
    const leaseId = `database/creds/app/${leases.data.keys[0] ?? ''}`;
    const before = Date.parse(((await bao.api('PUT', 'sys/leases/lookup', { lease_id: leaseId })) as unknown as LeaseLookup).data.expire_time);
    await daemon.waitFor(audit('secret.renew'));
    const after = Date.parse(((await bao.api('PUT', 'sys/leases/lookup', { lease_id: leaseId })) as unknown as LeaseLookup).data.expire_time);
    expect(after).toBeGreaterThan(before);

    // Replaced before max TTL (12 s), while the old credentials still log in.
    const replaced = await daemon.waitFor(written, daemon.records.findIndex((r) => r.msg === 'all templates rendered') + 1);
    const second = read();
    expect(second.user).not.toBe(first.user);
    expect(pg.login(second.user, second.password).ok).toBe(true);
    const oldExpiry = Date.parse(((await bao.api('PUT', 'sys/leases/lookup', { lease_id: leaseId })) as unknown as LeaseLookup).data.expire_time);
    expect(Date.parse(String(replaced.time))).toBeLessThan(oldExpiry);
    expect(pg.login(first.user, first.password).ok).toBe(true);

    // revoke_leases_on_exit: both issued leases are gone after SIGTERM, and so are their database users.
    expect((await daemon.stop()).code).toBe(0);
    // Renewals re-render nothing; the replacement is one render (one reload for the app).
    expect(daemon.count(written, daemon.records.findIndex((r) => r.msg === 'all templates rendered') + 1)).toBe(1);
    expect(daemon.count(audit('secret.revoke'))).toBe(2);
    const remaining = (await bao.api('LIST', 'sys/leases/lookup/database/creds/app').catch(() => null)) as { data?: { keys?: string[] } } | null;
    expect(remaining?.data?.keys ?? []).toEqual([]);
    expect(pg.login(second.user, second.password).ok).toBe(false);
    expectNoSecrets(daemon.stderr, [first.password, second.password, bao.rootToken]);
  });

  it('keeps renewing the same lease with a new token while the old token lives on (no new credentials)', async () => {
    await credsPolicy('creds-a');
    await credsPolicy('creds-b');
    const token = async (policy: string) =>
      ((await bao.api('POST', 'auth/token/create', { policies: [policy], ttl: '1h' }))?.['auth'] as { client_token: string }).client_token;
    const [tokenA, tokenB] = [await token('creds-a'), await token('creds-b')];
    project = await makeProject({ config: '' });
    const tokenFile = join(project.root, 'token');
    await writeFile(tokenFile, tokenA);
    await project.write('sidecar.hcl', credsTemplate(`auth "token" {\n    token_file = "${tokenFile}"\n  }`).replace('@OUT@', project.out));
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const creds = readFileSync(join(project.out, 'db.txt'), 'utf8');
    const leaseId = await onlyLease();
    const before = await leaseExpiry(leaseId);

    // Another agent replaces the token; the old one stays valid but may no longer renew anything, so a renewal
    // that succeeds from here on was made with the new token.
    const mark = daemon.mark;
    await writeFile(tokenFile, tokenB);
    await bao.api('PUT', 'sys/policies/acl/creds-a', { policy: 'path "database/creds/app" {\n  capabilities = ["read"]\n}\n' });
    await daemon.waitFor(audit('secret.renew'), mark);
    expect(await leaseExpiry(leaseId)).toBeGreaterThan(before);
    expect(await onlyLease()).toBe(leaseId);
    expect(daemon.count((r) => audit('secret.fetch')(r) && (r['audit'] as { path: string }).path === 'database/creds/app')).toBe(1);
    expect(readFileSync(join(project.out, 'db.txt'), 'utf8')).toBe(creds);
    const [user = '', password = ''] = creds.split('\n');
    expect(pg.login(user, password).ok).toBe(true);
    expectNoSecrets(daemon.stderr, [password, tokenA, tokenB]);
  });

  it('replaces credentials before the token that issued them reaches its max TTL (Vault revokes them with it)', async () => {
    await credsPolicy('creds-approle');
    await bao.api('POST', 'auth/approle/role/dbapp', { token_policies: ['creds-approle'], token_ttl: '4s', token_max_ttl: '8s' });
    const roleId = ((await bao.api('GET', 'auth/approle/role/dbapp/role-id'))?.['data'] as { role_id: string }).role_id;
    const secretId = ((await bao.api('POST', 'auth/approle/role/dbapp/secret-id'))?.['data'] as { secret_id: string }).secret_id;
    project = await makeProject({ config: '' });
    await writeFile(join(project.root, 'secret_id'), secretId);
    // A margin the role's 12 s max TTL allows (the default 10 s would replace each lease at half its life, which
    // vault-max-ttl.test.ts covers): what is tested here is the token's end.
    await project.write(
      'sidecar.hcl',
      credsTemplate(
        `rotation_margin = "2s"\n  auth "approle" {\n    role_id = "${roleId}"\n    secret_id_file = "${join(project.root, 'secret_id')}"\n  }`,
      ).replace('@OUT@', project.out),
    );
    daemon = new Daemon(['-c', project.config]);
    const rendered = await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const firstLogin = daemon.records.find(audit('auth.login'));
    const first = readFileSync(join(project.out, 'db.txt'), 'utf8').split('\n');
    const firstLease = await onlyLease();

    // The first token ends 8 s after its login; the sidecar logs in again before that and fetches new
    // credentials with the new token, once, while the old ones still work.
    const ending = await daemon.waitFor((r) => r.msg === 'the token that issued these leases is ending: fetching new credentials with the new token');
    expect(ending['leases']).toBe(1);
    const replaced = await daemon.waitFor(written, daemon.records.indexOf(rendered) + 1);
    const second = readFileSync(join(project.out, 'db.txt'), 'utf8').split('\n');
    expect(second[0]).not.toBe(first[0]);
    expect(pg.login(second[0] ?? '', second[1] ?? '').ok).toBe(true);
    expect(Date.parse(String(replaced.time)), daemon.stderr).toBeLessThan(Date.parse(String(firstLogin?.time)) + 8000);
    expect(pg.login(first[0] ?? '', first[1] ?? '').ok).toBe(true);

    // When the first token expires, Vault revokes the first lease and drops its database user.
    const live = (await bao.api('LIST', 'sys/leases/lookup/database/creds/app')) as { data: { keys: string[] } };
    expect(live.data.keys.map((k) => `database/creds/app/${k}`)).toContain(firstLease);
    await vi.waitFor(
      async () =>
        expect(
          await bao.api('PUT', 'sys/leases/lookup', { lease_id: firstLease }).then(
            () => 'live',
            () => 'gone',
          ),
        ).toBe('gone'),
      { timeout: 15_000, interval: 200 },
    );
    expect(pg.login(first[0] ?? '', first[1] ?? '').ok).toBe(false);
    expect(
      pg.login(second[0] ?? '', second[1] ?? '').ok,
      daemon.stderr.replace(/"time":(\d+)/g, (_, t: string) => `"t":${Number(t) - Date.parse(String(firstLogin?.time))}`),
    ).toBe(true);
    expect(daemon.count((r) => audit('secret.fetch')(r) && (r['audit'] as { path: string }).path === 'database/creds/app')).toBe(2);
    expectNoSecrets(daemon.stderr, [first[1] ?? '', second[1] ?? '', secretId]);
  });

  it('revokes replaced credentials once the app has had the rotation margin to switch, not when they run out', async () => {
    project = await makeProject({
      config: credsTemplate('lease_renewal_threshold = 0.5\n  rotation_margin = "1s"').replace('database/creds/app', 'database/creds/long'),
    });
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const first = readFileSync(join(project.out, 'db.txt'), 'utf8').split('\n');
    // Half of 10 s: a renewal that max TTL cuts short; then a replacement at half of the 5 s left, and the old
    // user revoked 1 s (the margin) after that, with 1.5 s of its own life still to go.
    const replaced = await daemon.waitFor(written, daemon.records.findIndex((r) => r.msg === 'all templates rendered') + 1);
    const second = readFileSync(join(project.out, 'db.txt'), 'utf8').split('\n');
    expect(second[0]).not.toBe(first[0]);
    const revoked = await daemon.waitFor(audit('secret.revoke'));
    const afterMs = Date.parse(String(revoked.time)) - Date.parse(String(replaced.time));
    expect(afterMs).toBeGreaterThanOrEqual(900);
    expect(pg.login(first[0] ?? '', first[1] ?? '').ok).toBe(false);
    expect(pg.login(second[0] ?? '', second[1] ?? '').ok).toBe(true);
    expect(daemon.count(audit('secret.revoke'))).toBe(1);
    expectNoSecrets(daemon.stderr, [first[1] ?? '', second[1] ?? '', bao.rootToken]);
  });
});
