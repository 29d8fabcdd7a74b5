import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Daemon, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { expectNoSecrets } from '../support/leaks.js';
import { appRoleCredentials, startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';

// Class 6 of issue 22: an AppRole token without the default policy (so no lookup-self), one template on a denied
// path: 9 logins in 30 s and 19 live one-hour tokens left in Vault.

let bao: OpenBao;
let proxy: FaultProxy;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  bao = await startOpenBao();
  proxy = await startFaultProxy(bao.address);
  await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
  await bao.api('PUT', 'sys/policies/acl/only-ok', { policy: 'path "secret/data/ok" {\n  capabilities = ["read"]\n}\n' });
  await bao.api('POST', 'secret/data/ok', { data: { pw: 'refusal-ok-1a2b' } });
  await bao.api('POST', 'secret/data/denied', { data: { pw: 'refusal-denied-3c4d' } });
});
afterAll(async () => {
  await proxy?.stop();
  await bao?.stop();
});
afterEach(async () => {
  proxy.clear();
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

/** Tokens alive in OpenBao, the root token aside. */
async function liveTokens(): Promise<number> {
  const listed = (await bao.api('LIST', 'auth/token/accessors')) as { data: { keys: string[] } };
  const tokens = await Promise.all(
    listed.data.keys.map(async (accessor) => ((await bao.api('POST', 'auth/token/lookup-accessor', { accessor })) as { data: { policies: string[] } }).data),
  );
  return tokens.filter((t) => !t.policies.includes('root')).length;
}

async function revokeAllTokens(): Promise<void> {
  const listed = (await bao.api('LIST', 'auth/token/accessors')) as { data: { keys: string[] } };
  for (const accessor of listed.data.keys) {
    const token = ((await bao.api('POST', 'auth/token/lookup-accessor', { accessor })) as { data: { policies: string[] } }).data;
    if (!token.policies.includes('root')) await bao.api('POST', 'auth/token/revoke-accessor', { accessor });
  }
}

function config(roleId: string, secretIdFile: string, templates: readonly [string, string][], extra = ''): string {
  return `
backend "vault" "main" {
  address = "${proxy.address}"
  ${extra}
  auth "approle" {
    role_id        = "${roleId}"
    secret_id_file = "${secretIdFile}"
  }
}
retry {
  backoff     = "100ms"
  max_backoff = "1s"
}
${templates.map(([ref, file]) => `template {\n  contents    = "{{secret \\"main:${ref}\\"}}"\n  destination = "@OUT@/${file}"\n}\n`).join('')}`;
}

const audited = (event: string, outcome: string) => (r: LogRecord) =>
  (r['audit'] as { event?: string; outcome?: string } | undefined)?.event === event && (r['audit'] as { outcome: string }).outcome === outcome;

describe('policy refusals with a token that may not look itself up', () => {
  it('keeps its one token through repeated refusals of one path: one login, one live token, the path is that template’s error', async () => {
    await revokeAllTokens();
    const earlier = (await bao.auditedRequests()).length;
    const { roleId, secretId } = await appRoleCredentials(bao, 'nodefault', { token_policies: ['only-ok'], token_no_default_policy: true, token_ttl: '1h' });
    project = await makeProject({ config: '' });
    await project.write('secret_id', secretId);
    await project.write(
      'sidecar.hcl',
      config(roleId, join(project.root, 'secret_id'), [
        ['secret/ok#pw', 'ok'],
        ['secret/denied#pw', 'denied'],
      ]).replaceAll('@OUT@', project.out),
    );
    daemon = new Daemon(['-c', project.config]);
    await vi.waitFor(() => expect(readFileSync(join(project?.out ?? '', 'ok'), 'utf8')).toBe('refusal-ok-1a2b'), { timeout: 10_000, interval: 100 });
    // Refused again and again (at max_backoff), for at least 8 s.
    const firstRefusal = await daemon.waitFor(audited('secret.fetch', 'error'));
    await vi.waitFor(() => expect(daemon?.count(audited('secret.fetch', 'error'))).toBeGreaterThanOrEqual(8), { timeout: 20_000, interval: 200 });
    const refusals = daemon.count(audited('secret.fetch', 'error'));
    const logins = (await bao.auditedRequests()).slice(earlier).filter((r) => r.path === 'auth/approle/login').length;
    const live = await liveTokens();
    console.log(`${refusals} refusals over ${Date.now() - Date.parse(String(firstRefusal.time))} ms: ${logins} login(s), ${live} live token(s)`);
    expect(logins).toBe(1);
    expect(live).toBe(1);
    const error = daemon.records.find((r) => r.msg === 'fetch failed' && r['ref'] === 'main:secret/denied');
    expect((error?.['error'] as { code?: string } | undefined)?.code).toBe('SIDECAR_ERR_BACKEND_DENIED');
    expectNoSecrets(daemon.stderr, ['refusal-ok-1a2b', 'refusal-denied-3c4d', secretId]);
  }, 40_000);

  it('revokes the token it stops using when it logs in again (a failed renewal), leaving one live token', async () => {
    await revokeAllTokens();
    const { roleId, secretId } = await appRoleCredentials(bao, 'renewfail', { token_policies: ['only-ok'], token_ttl: '10s', token_max_ttl: '1h' });
    project = await makeProject({ config: '' });
    await project.write('secret_id', secretId);
    await project.write(
      'sidecar.hcl',
      config(roleId, join(project.root, 'secret_id'), [['secret/ok#pw', 'ok']], 'rotation_margin = "1s"').replaceAll('@OUT@', project.out),
    );
    // The first renewal fails: the sidecar logs in again while the first token still has seconds to live.
    proxy.failFirst('/v1/auth/token/renew-self', 1, { status: 500, body: { errors: ['internal error'] } });
    const earlier = (await bao.auditedRequests()).length;
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    await daemon.waitFor(audited('auth.renew', 'error'));
    await daemon.waitFor((r) => r.msg === 'revoked the Vault token the sidecar stopped using');
    const requests = (await bao.auditedRequests()).slice(earlier);
    expect(requests.filter((r) => r.path === 'auth/approle/login')).toHaveLength(2);
    expect(requests.filter((r) => r.path === 'auth/token/revoke-self')).toHaveLength(1);
    expect(await liveTokens()).toBe(1);
    expectNoSecrets(daemon.stderr, ['refusal-ok-1a2b', secretId]);
  }, 30_000);
});
