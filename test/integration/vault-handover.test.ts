import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { appRoleCredentials, startOpenBao, type OpenBao } from '../support/openbao.js';
import { startPostgres, type Postgres } from '../support/postgres.js';
import { mountDatabaseEngine } from '../support/database-engine.js';
import { makeProject, type Project } from '../support/project.js';
import { startFaultProxy } from '../support/fault-proxy.js';

interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}
const { Client } = createRequire(import.meta.url)('pg') as { Client: new (options: object) => PgClient };

let bao: OpenBao;
let pg: Postgres;
let project: Project | undefined;
let daemon: Daemon | undefined;
let login: { roleId: string; secretId: string };

beforeAll(async () => {
  [bao, pg] = await Promise.all([startOpenBao(), startPostgres()]);
  // Long enough for a test's restarts; short enough that a run renews the lease it adopted (at two thirds).
  await mountDatabaseEngine(bao, pg, { app: { defaultTtl: '9s', maxTtl: '10m' }, brief: { defaultTtl: '2s', maxTtl: '2s' } });
  await bao.api('POST', 'sys/mounts/pki', { type: 'pki', config: { max_lease_ttl: '87600h' } });
  await bao.api('POST', 'pki/root/generate/internal', { common_name: 'handover test root', ttl: '87600h' });
  await bao.api('POST', 'pki/roles/web', { allowed_domains: ['internal'], allow_subdomains: true, max_ttl: '72h' });
  await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
  // What the templates read, and revoking leases at exit; looking up and renewing its token and leases is the
  // default policy's (sys/leases/lookup and sys/leases/renew): the handover needs nothing more.
  await bao.api('PUT', 'sys/policies/acl/handover', {
    policy: ['database/creds/app', 'database/creds/brief', 'pki/issue/web', 'sys/internal/ui/mounts/*', 'sys/leases/revoke']
      .map((p) => `path "${p}" {\n  capabilities = ["read", "update"]\n}\n`)
      .join(''),
  });
  login = await appRoleCredentials(bao, 'sidecar', { token_policies: ['handover'], token_ttl: '1h', token_max_ttl: '2h' });
});
afterAll(async () => {
  await bao?.stop();
  pg?.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await bao.api('PUT', 'sys/leases/revoke-prefix/database/creds/app');
  await removeDir(project?.root);
  daemon = project = undefined;
});

const CERT = 'main:pki/issue/web\\" common_name=\\"app.internal\\" ttl=\\"1h';

/** An AppRole sidecar with a database credential and a certificate; `cache` is the cache_dir line, if any. */
async function handoverProject(cache: string, extra = ''): Promise<Project> {
  const p = await makeProject({
    config: `
backend "vault" "main" {
  address = "${bao.address}"
  ${cache}
  ${extra}
  auth "approle" {
    role_id        = "${login.roleId}"
    secret_id_file = "@ROOT@/secret_id"
  }
}
template {
  contents    = "{{#with (secret \\"main:database/creds/app\\")}}{{username}}\\n{{password}}\\n{{/with}}"
  destination = "@OUT@/db.txt"
}
template {
  contents    = "{{#with (secret \\"${CERT}\\")}}{{certificate}}\\n{{private_key}}\\n{{/with}}"
  destination = "@OUT@/tls.pem"
}
`,
  });
  await writeFile(join(p.root, 'secret_id'), login.secretId);
  return p;
}

const issued = async (since: number) => {
  const requests = (await bao.auditedRequests()).slice(since);
  return {
    logins: requests.filter((r) => r.path === 'auth/approle/login').length,
    credentials: requests.filter((r) => r.path === 'database/creds/app').length,
    certificates: requests.filter((r) => r.path === 'pki/issue/web').length,
  };
};
const creds = (p: Project) => {
  const [user = '', password = ''] = readFileSync(join(p.out, 'db.txt'), 'utf8').split('\n');
  return { user, password };
};
const serial = (p: Project) => new X509Certificate(readFileSync(join(p.out, 'tls.pem'))).serialNumber;
const audit =
  (event: string, outcome = 'ok') =>
  (r: LogRecord) =>
    (r['audit'] as { event?: string } | undefined)?.event === event && (r['audit'] as { outcome: string }).outcome === outcome;

async function connects(user: string, password: string): Promise<boolean> {
  const client = new Client({ host: '127.0.0.1', port: pg.port, user, password, database: 'postgres', connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The app: logs in with what the file holds now, again and again, until stopped; counts what failed. */
function appLogins(p: Project): { stop: () => Promise<{ ok: number; failed: number }> } {
  let running = true;
  const tally = { ok: 0, failed: 0 };
  const loop = (async () => {
    // Bounded: a test lasts well under this many logins.
    for (let i = 0; running && i < 10_000; i++) {
      const { user, password } = (() => {
        try {
          return creds(p);
        } catch {
          return { user: '', password: '' };
        }
      })();
      if (await connects(user, password)) tally.ok++;
      else tally.failed++;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return tally;
    },
  };
}

const started = (d: Daemon) => d.waitFor((r) => r.msg === 'all templates rendered');

describe('once hands its token, leases and certificates to run, and run to itself across kill -9', () => {
  it('once, run and three kill -9 restarts issue 1 login, 1 database credential and 1 certificate; the app logs in throughout', async () => {
    project = await handoverProject('cache_dir = "@ROOT@/cache"', 'revoke_leases_on_exit = true\n  rotation_margin = "2s"');
    const before = (await bao.auditedRequests()).length;
    const once = await runCli(['once', '-c', project.config]);
    expect(once.code, once.stderr).toBe(0);
    const first = { creds: creds(project), serial: serial(project), tls: readFileSync(join(project.out, 'tls.pem'), 'utf8') };
    expect(await connects(first.creds.user, first.creds.password)).toBe(true);
    const cacheDir = join(project.root, 'cache');
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
    expect(readdirSync(cacheDir).map((n) => statSync(join(cacheDir, n)).mode & 0o777)).toEqual([0o600, 0o600, 0o600]);

    const app = appLogins(project);
    const runs: Daemon[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        daemon = new Daemon(['-c', project.config]);
        runs.push(daemon);
        await started(daemon);
        expect(daemon.count(audit('auth.adopt')), daemon.stderr).toBe(1);
        expect(daemon.count(audit('secret.adopt'))).toBe(2);
        // Nothing changed: nothing written, so nothing to tell the app.
        expect(daemon.count((r) => r.msg === 'rendered' && r['outcome'] === 'written')).toBe(0);
        expect(creds(project)).toEqual(first.creds);
        if (i === 1) await daemon.waitFor(audit('secret.renew'));
        if (i < 3) {
          daemon.child.kill('SIGKILL');
          expect((await daemon.exited).signal).toBe('SIGKILL');
        }
      }
    } finally {
      await app.stop();
    }
    const logins = await app.stop();
    expect(logins.failed).toBe(0);
    expect(logins.ok).toBeGreaterThan(0);
    expect(serial(project)).toBe(first.serial);
    expect(await issued(before)).toEqual({ logins: 1, credentials: 1, certificates: 1 });

    // The final exit revokes the lease it adopted (revoke_leases_on_exit), and the database user with it.
    expect((await daemon?.stop())?.code).toBe(0);
    expect(daemon?.count(audit('secret.revoke')), daemon?.stderr.slice(-4000)).toBe(1);
    expect(await connects(first.creds.user, first.creds.password)).toBe(false);
    expect(readdirSync(cacheDir).some((n) => n.startsWith('lease-'))).toBe(false);
    const key = first.tls.split('\n').find((line) => line.length > 40 && !line.startsWith('-----')) ?? 'no key line';
    const tokenFile = readdirSync(cacheDir).find((n) => n.startsWith('token-')) ?? '';
    const { token } = JSON.parse(readFileSync(join(cacheDir, tokenFile), 'utf8')) as { token: string };
    for (const d of runs) expectNoSecrets(d.stderr, [first.creds.password, login.secretId, key, token]);
    expectNoSecrets(once.stderr, [first.creds.password, login.secretId, key, token]);
  });

  it('a cached token revoked meanwhile leads to one new login and new credentials, with the audit record saying why', async () => {
    project = await handoverProject('cache_dir = "@ROOT@/cache"');
    const once = await runCli(['once', '-c', project.config]);
    expect(once.code, once.stderr).toBe(0);
    const first = creds(project);
    const tokenFile = readdirSync(join(project.root, 'cache')).find((n) => n.startsWith('token-')) ?? '';
    const { token } = JSON.parse(readFileSync(join(project.root, 'cache', tokenFile), 'utf8')) as { token: string };
    await bao.api('POST', 'auth/token/revoke', { token });
    const before = (await bao.auditedRequests()).length;

    daemon = new Daemon(['-c', project.config]);
    await started(daemon);
    const dropped = daemon.records.find(audit('auth.adopt', 'error'))?.['audit'] as { reason: string; errorCode: string };
    expect(dropped).toMatchObject({ errorCode: 'SIDECAR_ERR_BACKEND_DENIED', reason: 'the token was revoked or has expired' });
    expect(daemon.records.find(audit('secret.adopt', 'error'))?.['audit']).toMatchObject({ path: 'database/creds/app' });
    expect(await issued(before)).toEqual({ logins: 1, credentials: 1, certificates: 0 });
    const second = creds(project);
    expect(second.user).not.toBe(first.user);
    expect(await connects(second.user, second.password)).toBe(true);
    expectNoSecrets(daemon.stderr, [first.password, second.password, token, login.secretId]);
  });

  it('a cache file changed by hand, or a token file made world-readable, is refused with a coded error and fetched anew', async () => {
    project = await handoverProject('cache_dir = "@ROOT@/cache"');
    expect((await runCli(['once', '-c', project.config])).code).toBe(0);
    const first = creds(project);
    const cacheDir = join(project.root, 'cache');
    const named = (prefix: string) => join(cacheDir, readdirSync(cacheDir).find((n) => n.startsWith(prefix)) ?? '');
    const { token } = JSON.parse(readFileSync(named('token-'), 'utf8')) as { token: string };
    writeFileSync(named('lease-'), readFileSync(named('lease-'), 'utf8').replace('"leaseId"', '"lease"'));
    chmodSync(named('token-'), 0o644);
    const before = (await bao.auditedRequests()).length;

    daemon = new Daemon(['-c', project.config]);
    await started(daemon);
    const refused = daemon.records.filter((r) => (r['error'] as { code?: string } | undefined)?.code === 'SIDECAR_ERR_CACHE_REFUSED');
    expect(refused.map((r) => r.msg).sort()).toEqual(['the cached Vault token is refused', 'the cached lease is refused; fetching new credentials']);
    // The token others could read is revoked before the new login: Vault no longer knows it.
    expect(daemon.count((r) => r.msg === 'revoked the cached Vault token others could have read')).toBe(1);
    await expect(bao.api('GET', 'auth/token/lookup-self', undefined, token)).rejects.toThrow(/403/);
    expect(await issued(before)).toEqual({ logins: 1, credentials: 1, certificates: 0 });
    const second = creds(project);
    expect(second.user).not.toBe(first.user);
    expect(await connects(second.user, second.password)).toBe(true);
    expect(statSync(named('token-')).mode & 0o777).toBe(0o600);
    expectNoSecrets(daemon.stderr, [first.password, second.password, token, login.secretId]);
  });
});

describe("the injected shape: --cache-dir names an in-memory volume whose root is 0777, as an emptyDir's is", () => {
  it('once then run hand over through a private subdirectory per backend: 1 login, 1 credential, 1 certificate', async () => {
    project = await handoverProject('');
    const volume = join(project.root, 'cache-volume');
    mkdirSync(volume);
    chmodSync(volume, 0o777);
    const before = (await bao.auditedRequests()).length;
    const once = await runCli(['once', '-c', project.config, '--cache-dir', volume]);
    expect(once.code, once.stderr).toBe(0);
    expect(statSync(join(volume, 'backend-main')).mode & 0o777).toBe(0o700);
    daemon = new Daemon(['-c', project.config, '--cache-dir', volume]);
    await started(daemon);
    expect(daemon.count(audit('auth.adopt')), daemon.stderr).toBe(1);
    expect(daemon.count(audit('secret.adopt'))).toBe(2);
    expect(await issued(before)).toEqual({ logins: 1, credentials: 1, certificates: 1 });
    expectNoSecrets(daemon.stderr + once.stderr, [creds(project).password, login.secretId]);
  });
});

describe('a SIGHUP reload', () => {
  it('adopts nothing and issues nothing for a backend it keeps', async () => {
    project = await handoverProject('cache_dir = "@ROOT@/cache"\n  rotation_margin = "2s"');
    expect((await runCli(['once', '-c', project.config])).code).toBe(0);
    daemon = new Daemon(['-c', project.config]);
    await started(daemon);
    const before = (await bao.auditedRequests()).length;
    const mark = daemon.mark;
    await project.write('sidecar.hcl', readFileSync(project.config, 'utf8').replace('{{password}}\\n', '{{password}}\\n# reloaded\\n'));
    daemon.signal('SIGHUP');
    await daemon.waitFor((r) => r.msg === 'configuration reloaded', mark);
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark);
    expect(readFileSync(join(project.out, 'db.txt'), 'utf8')).toContain('# reloaded');
    expect(daemon.count((r) => audit('secret.adopt')(r) || audit('auth.adopt')(r), mark)).toBe(0);
    expect(await issued(before)).toEqual({ logins: 0, credentials: 0, certificates: 0 });
  });
});

describe('token auth', () => {
  it('hands over the leases and the certificate, and never writes the token, which is the operator’s', async () => {
    // The default margin (10 s) is longer than the 9 s lease: renewable, it is adopted and renewed all the same.
    project = await handoverProject('cache_dir = "@ROOT@/cache"');
    await project.write('sidecar.hcl', readFileSync(project.config, 'utf8').replace(/auth "approle" \{[^}]*\}/, ''));
    const before = (await bao.auditedRequests()).length;
    const env = { VAULT_TOKEN: bao.rootToken };
    expect((await runCli(['once', '-c', project.config], { env })).code).toBe(0);
    const first = creds(project);
    daemon = new Daemon(['-c', project.config], { env });
    await started(daemon);
    expect(daemon.count(audit('secret.adopt'))).toBe(2);
    expect(creds(project)).toEqual(first);
    expect(await issued(before)).toEqual({ logins: 0, credentials: 1, certificates: 1 });
    expect(readdirSync(join(project.root, 'cache')).some((n) => n.startsWith('token-'))).toBe(false);
    expect(readFileSync(join(project.root, 'cache', readdirSync(join(project.root, 'cache'))[0] ?? ''), 'utf8')).not.toContain(bao.rootToken);
    expectNoSecrets(daemon.stderr, [first.password, bao.rootToken]);
  });
});

describe('what cannot be adopted is fetched anew, and the audit record says why', () => {
  it('a lease that expired between once and run', async () => {
    project = await handoverProject('cache_dir = "@ROOT@/cache"\n  rotation_margin = "500ms"');
    await project.write('sidecar.hcl', readFileSync(project.config, 'utf8').replace('database/creds/app', 'database/creds/brief'));
    expect((await runCli(['once', '-c', project.config])).code).toBe(0);
    const first = creds(project);
    // The 2 s lease ends (and Vault drops its user) before run starts.
    await vi.waitFor(async () => expect(await connects(first.user, first.password)).toBe(false), { timeout: 10_000, interval: 250 });
    daemon = new Daemon(['-c', project.config]);
    await started(daemon);
    const dropped = daemon.records.find(audit('secret.adopt', 'error'))?.['audit'] as { reason: string; path: string };
    expect(dropped.path).toBe('database/creds/brief');
    expect(['the lease has expired', 'Vault does not know the lease (revoked, or expired)']).toContain(dropped.reason);
    expect(daemon.count(audit('auth.adopt'))).toBe(1);
    expect(creds(project).user).not.toBe(first.user);
    expectNoSecrets(daemon.stderr, [first.password, login.secretId]);
  });

  it('a token with less than the rotation margin left: a new login, and new credentials for the leases it issued', async () => {
    const short = await appRoleCredentials(bao, 'short', { token_policies: ['handover'], token_ttl: '4s', token_max_ttl: '4s' });
    project = await handoverProject('cache_dir = "@ROOT@/cache"\n  rotation_margin = "3s"');
    await project.write('sidecar.hcl', readFileSync(project.config, 'utf8').replace(login.roleId, short.roleId));
    await writeFile(join(project.root, 'secret_id'), short.secretId);
    const once = await runCli(['once', '-c', project.config]);
    expect(once.code, once.stderr).toBe(0);
    const first = creds(project);
    const tokenFile = readdirSync(join(project.root, 'cache')).find((n) => n.startsWith('token-')) ?? '';
    const { token } = JSON.parse(readFileSync(join(project.root, 'cache', tokenFile), 'utf8')) as { token: string };
    // Until the token (not renewable past its 4 s) has less than the 3 s margin left, as Vault counts it.
    const ttl = async () => ((await bao.api('POST', 'auth/token/lookup', { token }))?.['data'] as { ttl: number }).ttl;
    await vi.waitFor(async () => expect(await ttl()).toBeLessThan(3), { timeout: 5000, interval: 100 });
    const before = (await bao.auditedRequests()).length;
    daemon = new Daemon(['-c', project.config]);
    await started(daemon);
    expect(daemon.records.find(audit('auth.adopt', 'error'))?.['audit']).toMatchObject({ reason: 'the token has less than rotation_margin left' });
    expect(daemon.records.find(audit('secret.adopt', 'error'))?.['audit']).toMatchObject({
      path: 'database/creds/app',
      reason: 'the token that issued it was not adopted, and the lease ends with it',
    });
    const requests = (await bao.auditedRequests()).slice(before);
    expect(requests.filter((r) => r.path === 'sys/leases/lookup')).toHaveLength(0);
    expect(await issued(before)).toEqual({ logins: 1, credentials: 1, certificates: 0 });
    const second = creds(project);
    expect(second.user).not.toBe(first.user);
    expect(await connects(second.user, second.password)).toBe(true);
    expectNoSecrets(daemon.stderr, [first.password, second.password, short.secretId, token]);
  });
});

describe('a config pointed at another server', () => {
  it('adopts nothing the old one issued: its token is never sent to the new address, its certificate never reused', async () => {
    project = await handoverProject('cache_dir = "@ROOT@/cache"');
    expect((await runCli(['once', '-c', project.config])).code).toBe(0);
    const first = { creds: creds(project), serial: serial(project) };
    const tokenFile = readdirSync(join(project.root, 'cache')).find((n) => n.startsWith('token-')) ?? '';
    const { token } = JSON.parse(readFileSync(join(project.root, 'cache', tokenFile), 'utf8')) as { token: string };
    // Another address (the same OpenBao behind it, so that what it is sent can be seen and counted).
    const other = await startFaultProxy(bao.address);
    try {
      await project.write('sidecar.hcl', readFileSync(project.config, 'utf8').replace(bao.address, other.address));
      const before = (await bao.auditedRequests()).length;
      daemon = new Daemon(['-c', project.config]);
      await started(daemon);
      expect(daemon.count(audit('auth.adopt')) + daemon.count(audit('secret.adopt'))).toBe(0);
      expect(other.count('/v1/auth/token/lookup-self')).toBe(0);
      expect(other.count('/v1/sys/leases/lookup')).toBe(0);
      expect(await issued(before)).toEqual({ logins: 1, credentials: 1, certificates: 1 });
      expect(serial(project)).not.toBe(first.serial);
      expectNoSecrets(daemon.stderr, [first.creds.password, creds(project).password, token, login.secretId]);
    } finally {
      await daemon?.stop();
      await other.stop();
    }
  });
});

describe('certificates are reused across restarts without cache_dir', () => {
  it('a restart reuses the certificate (same serial) from the private certificates-only cache beside the outputs', async () => {
    project = await handoverProject('');
    const before = (await bao.auditedRequests()).length;
    daemon = new Daemon(['-c', project.config]);
    await started(daemon);
    const first = serial(project);
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    daemon = new Daemon(['-c', project.config]);
    await started(daemon);
    expect(serial(project)).toBe(first);
    expect(daemon.count((r) => r.msg === 'reusing a cached issuance that is still good')).toBe(1);
    // Certificates only: no token, no lease; a new login and credentials, as before.
    expect(await issued(before)).toEqual({ logins: 2, credentials: 2, certificates: 1 });
    const cacheDir = join(project.out, '.secrets-sidecar-certificates');
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
    expect(readdirSync(cacheDir).every((n) => !n.startsWith('token-') && !n.startsWith('lease-'))).toBe(true);
  });
});

describe('the implicit certificates-only cache holds whole issuances, keys too', () => {
  it('is not kept beside a certificate whose key goes to another directory, which the app may not see', async () => {
    project = await handoverProject('');
    const out = project.out;
    const config = readFileSync(project.config, 'utf8')
      .replace(`"${out}/db.txt"`, `"${out}/public/db.txt"`)
      .replace('{{private_key}}\\n{{/with}}', '{{/with}}')
      .replace(`"${out}/tls.pem"`, `"${out}/public/cert.pem"`)
      .concat(`template {\n  contents = "{{#with (secret \\"${CERT}\\")}}{{private_key}}\\n{{/with}}"\n  destination = "${out}/private/key.pem"\n}\n`);
    await project.write('sidecar.hcl', config);
    daemon = new Daemon(['-c', project.config]);
    await started(daemon);
    const key = readFileSync(join(project.out, 'private', 'key.pem'), 'utf8').split('\n').find((line) => line.length > 40) ?? 'no key line';
    const shown = (dir: string): string =>
      readdirSync(dir, { withFileTypes: true })
        .map((e) => (e.isDirectory() ? shown(join(dir, e.name)) : readFileSync(join(dir, e.name), 'utf8')))
        .join('\n');
    expect(shown(join(project.out, 'public'))).toContain('BEGIN CERTIFICATE');
    expectNoSecrets(shown(join(project.out, 'public')), [key]);
  });
});

describe('once --dry-run', () => {
  it('reads and writes no cache: no token, lease or certificate is kept', async () => {
    project = await handoverProject('cache_dir = "@ROOT@/cache"');
    const result = await runCli(['once', '--dry-run', '-c', project.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(project.root).sort()).toEqual(['secret_id', 'sidecar.hcl']);
  });
});

describe('a cache_dir the application could see', () => {
  it('inside, or equal to, a destination directory is a config error (exit 2), for once, run and validate', async () => {
    for (const dir of ['@OUT@/.cache', '@OUT@']) {
      project = await handoverProject(`cache_dir = "${dir}"`);
      for (const command of ['once', 'validate', 'run']) {
        const result = await runCli([command, '-c', project.config]);
        expect(result.code, result.stderr).toBe(2);
        expect(result.stderr).toContain('SIDECAR_ERR_CONFIG_INVALID');
        expect(result.stderr).toContain("a template's destination directory");
      }
      await removeDir(project.root);
    }
  });
});
