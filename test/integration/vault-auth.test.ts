import { createSign, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { appRoleCredentials, startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';

let bao: OpenBao;
let project: Project | undefined;
let daemon: Daemon | undefined;
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });

beforeAll(async () => {
  bao = await startOpenBao();
  await bao.api('PUT', 'sys/policies/acl/read-app', { policy: 'path "secret/data/auth/*" {\n  capabilities = ["read"]\n}\n' });
  await bao.api('POST', 'secret/data/auth/db', { data: { password: 'bao-auth-pw-1f1f' } });
  await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
  // Kubernetes login meets a real API server in vault-kubernetes-auth.test.ts.
  await bao.api('POST', 'sys/auth/jwt', { type: 'jwt' });
  await bao.api('POST', 'auth/jwt/config', { jwt_validation_pubkeys: [keys.publicKey.export({ type: 'spki', format: 'pem' })] });
  await bao.api('POST', 'auth/jwt/role/sidecar', {
    role_type: 'jwt',
    bound_audiences: ['secrets-sidecar'],
    user_claim: 'sub',
    token_policies: ['read-app'],
    token_ttl: '1h',
  });
});
afterAll(async () => {
  await bao.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

function signJwt(claims: object): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(keys.privateKey, 'base64url')}`;
}

/** An AppRole role with these token TTLs; returns role_id and a fresh secret_id. */
function appRole(name: string, ttl: string, maxTtl: string): Promise<{ roleId: string; secretId: string }> {
  return appRoleCredentials(bao, name, { token_policies: ['read-app'], token_ttl: ttl, token_max_ttl: maxTtl });
}

async function projectWith(auth: string, extra = ''): Promise<Project> {
  const p = await makeProject({ config: '' });
  await p.write(
    'sidecar.hcl',
    `
backend "vault" "main" {
  address = "${bao.address}"
  ${extra}
  ${auth.replaceAll('@ROOT@', p.root)}
}
retry {
  backoff     = "100ms"
  max_backoff = "1s"
}
template {
  contents    = "{{secret \\"main:secret/auth/db#password\\"}}"
  destination = "${p.out}/pw"
}
`,
  );
  return p;
}

const audit =
  (event: string, outcome = 'ok') =>
  (r: LogRecord) =>
    (r['audit'] as { event?: string; outcome?: string } | undefined)?.event === event && (r['audit'] as { outcome?: string }).outcome === outcome;

describe('vault auth against a real OpenBao', () => {
  it('logs in with AppRole from role_id and secret_id files', async () => {
    const { roleId, secretId } = await appRole('once', '1h', '2h');
    project = await projectWith('auth "approle" {\n    role_id_file   = "@ROOT@/role_id"\n    secret_id_file = "@ROOT@/secret_id"\n  }');
    await writeFile(join(project.root, 'role_id'), roleId);
    await writeFile(join(project.root, 'secret_id'), secretId);
    // DEBUG=*: node-vault, which makes the login, logs request bodies and responses through `debug`; kept off.
    const result = await runCli(['once', '-c', project.config], { env: { DEBUG: '*' } });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('bao-auth-pw-1f1f');
    expect(result.stderr).toContain('"event":"auth.login","backend":"main","path":"auth/approle/login","outcome":"ok"');
    expect(result.stderr).not.toContain('node-vault');
    expectNoSecrets(result.stderr, ['bao-auth-pw-1f1f', secretId]);
  });

  it('logs in with a JWT', async () => {
    const jwt = signJwt({
      sub: 'system:serviceaccount:app:sidecar',
      aud: 'secrets-sidecar',
      iat: Math.floor(Date.now() / 1000),
      exp: Math.floor(Date.now() / 1000) + 600,
    });
    project = await projectWith('auth "jwt" {\n    role     = "sidecar"\n    jwt_file = "@ROOT@/token.jwt"\n  }');
    await writeFile(join(project.root, 'token.jwt'), jwt);
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('bao-auth-pw-1f1f');
    expect(result.stderr).toContain('"path":"auth/jwt/login","outcome":"ok"');
    expectNoSecrets(result.stderr, ['bao-auth-pw-1f1f', jwt]);
  });

  it('renews its token before the TTL runs out, and logs in again ahead of the max TTL', async () => {
    const { roleId, secretId } = await appRole('renewing', '3s', '5s');
    project = await projectWith(`auth "approle" {\n    role_id = "${roleId}"\n    secret_id_file = "@ROOT@/secret_id"\n  }`, 'static_refresh_interval = "1h"');
    await writeFile(join(project.root, 'secret_id'), secretId);
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    await daemon.waitFor(audit('auth.renew'));
    // At max TTL a renewal gives less time than before: the next step is a new login, not another renewal.
    const relogin = await daemon.waitFor((r) => r.msg === 'vault login again');
    expect(relogin['reason']).toBe('the token cannot be renewed further');
    await daemon.waitFor(audit('auth.login'), daemon.records.indexOf(relogin));
    expect(daemon.count(audit('auth.renew', 'error'))).toBe(0);
    expectNoSecrets(daemon.stderr, ['bao-auth-pw-1f1f', secretId]);
  });

  it('logs in again when its token is revoked, and keeps rendering', async () => {
    const { roleId, secretId } = await appRole('revoked', '1h', '2h');
    project = await projectWith(
      `auth "approle" {\n    role_id = "${roleId}"\n    secret_id_file = "@ROOT@/secret_id"\n  }`,
      'static_refresh_interval = "300ms"',
    );
    await writeFile(join(project.root, 'secret_id'), secretId);
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(daemon.count(audit('auth.login'))).toBe(1);
    // Revoke every token issued through AppRole logins, as an operator would in an incident.
    await bao.api('PUT', 'sys/leases/revoke-prefix/auth/approle/login');
    const mark = daemon.mark;
    await bao.api('POST', 'secret/data/auth/db', { data: { password: 'bao-auth-pw-2e2e' } });
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('bao-auth-pw-2e2e');
    expect(daemon.count(audit('auth.login'))).toBe(2);
    await bao.api('POST', 'secret/data/auth/db', { data: { password: 'bao-auth-pw-1f1f' } });
    expectNoSecrets(daemon.stderr, ['bao-auth-pw-1f1f', 'bao-auth-pw-2e2e', secretId]);
  });

  it('keeps a renewable VAULT_TOKEN alive past its first TTL by renewing it', async () => {
    const createdAt = Date.now();
    const created = await bao.api('POST', 'auth/token/create', { policies: ['read-app'], ttl: '3s', renewable: true, explicit_max_ttl: '1h' });
    const token = (created?.['auth'] as { client_token: string }).client_token;
    project = await projectWith('', 'static_refresh_interval = "500ms"\n  lease_renewal_threshold = 0.5');
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: token } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    await daemon.waitFor(audit('auth.renew'));
    // A read made after the token's first 3 s would have run out still succeeds: the renewals kept it alive.
    await daemon.waitFor((r) => audit('secret.fetch')(r) && Date.parse(String(r.time)) > createdAt + 3500);
    expect(daemon.count(audit('secret.fetch', 'error'))).toBe(0);
    expectNoSecrets(daemon.stderr, ['bao-auth-pw-1f1f', token]);
  });
});
