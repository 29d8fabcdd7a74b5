import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canary } from '../support/canary.js';
import { Daemon } from '../support/cli.js';
import { mountDatabaseEngine } from '../support/database-engine.js';
import { removeDir } from '../support/dirs.js';
import { httpCall } from '../support/http.js';
import { expectNoSecrets } from '../support/leaks.js';
import { freePort, startOpenBao, type OpenBao } from '../support/openbao.js';
import { startPostgres, type Postgres } from '../support/postgres.js';
import { makeProject, type Project } from '../support/project.js';

// Issue 15, scope 4: POST /v1/shutdown, for a Job's main container to end a classic sidecar (vault #11089).

let bao: OpenBao;
let pg: Postgres;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  [bao, pg] = await Promise.all([startOpenBao(), startPostgres()]);
  await mountDatabaseEngine(bao, pg, { job: { defaultTtl: '1h', maxTtl: '1h' } });
}, 60_000);
afterAll(async () => {
  await bao?.stop();
  pg?.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await bao.api('PUT', 'sys/leases/revoke-prefix/database/creds/job');
  await removeDir(project?.root);
  daemon = project = undefined;
});

async function leases(): Promise<number> {
  const listed = (await bao.api('LIST', 'sys/leases/lookup/database/creds/job').catch(() => null)) as { data?: { keys?: string[] } } | null;
  return listed?.data?.keys?.length ?? 0;
}

async function start(listener: string) {
  const port = await freePort();
  project = await makeProject({
    config: `
listener {
  address = "127.0.0.1:${port}"
${listener}
}
backend "vault" "main" {
  address               = "${bao.address}"
  revoke_leases_on_exit = true
}
template {
  contents    = "{{#with (secret \\"main:database/creds/job\\")}}{{username}}{{/with}}"
  destination = "@OUT@/db-user"
}
`,
  });
  return port;
}

describe('POST /v1/shutdown (built CLI)', () => {
  it('authorised like /v1/refresh, it ends the sidecar gracefully: exit 0, leases revoked', async () => {
    const token = canary('shutdown-token');
    const port = await start('  refresh_token_env = "SIDECAR_CONTROL_TOKEN"');
    daemon = new Daemon(['-c', project?.config ?? ''], { env: { VAULT_TOKEN: bao.rootToken, SIDECAR_CONTROL_TOKEN: token } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(await leases()).toBe(1);

    // No token, a wrong one, a GET, or relayed through a proxy: refused, and the sidecar runs on.
    expect((await httpCall(port, 'POST', '/v1/shutdown')).status).toBe(401);
    expect((await httpCall(port, 'POST', '/v1/shutdown', { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
    expect((await httpCall(port, 'GET', '/v1/shutdown', { authorization: `Bearer ${token}` })).status).toBe(404);
    expect((await httpCall(port, 'POST', '/v1/shutdown', { authorization: `Bearer ${token}`, 'x-forwarded-for': '10.0.0.1' })).status).toBe(403);
    expect((await httpCall(port, 'GET', '/healthz')).status).toBe(200);
    expect(daemon.child.exitCode).toBeNull();

    const answer = await httpCall(port, 'POST', '/v1/shutdown', { authorization: `Bearer ${token}` });
    expect(answer.status).toBe(202);
    expect(JSON.parse(answer.body)).toEqual({ status: 'shutting down' });
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    expect(await leases()).toBe(0);
    expect(daemon.records.some((r) => (r['audit'] as { event?: string } | undefined)?.event === 'secret.revoke')).toBe(true);
    expectNoSecrets(daemon.stderr, [token, bao.rootToken]);
  });

  it('is off (403) without a token configured, and the sidecar keeps running', async () => {
    const port = await start('');
    daemon = new Daemon(['-c', project?.config ?? ''], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const answer = await httpCall(port, 'POST', '/v1/shutdown', { authorization: 'Bearer anything-at-all-0123456789' });
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('shutdown over HTTP is off');
    expect((await httpCall(port, 'GET', '/healthz')).status).toBe(200);
    expect(await leases()).toBe(1);
  });
});
