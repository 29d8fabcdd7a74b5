import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Daemon, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { httpCall } from '../support/http.js';
import { expectNoSecrets } from '../support/leaks.js';
import { freePort, startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';
import { parsePrometheus, sample } from '../support/prometheus.js';

// Class 2 of issue 22: a renewable VAULT_TOKEN whose lookup-self failed at start was never renewed, and expired.

let bao: OpenBao;
let proxy: FaultProxy;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  bao = await startOpenBao();
  proxy = await startFaultProxy(bao.address);
  await bao.api('PUT', 'sys/policies/acl/read-lookup', { policy: 'path "secret/data/lookup" {\n  capabilities = ["read"]\n}\n' });
  await bao.api('POST', 'secret/data/lookup', { data: { pw: 'lookup-pw-4d4d' } });
});
afterAll(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  await proxy?.stop();
  await bao?.stop();
});

const fetched = (outcome: string) => (r: LogRecord) =>
  (r['audit'] as { event?: string; outcome?: string } | undefined)?.event === 'secret.fetch' && (r['audit'] as { outcome: string }).outcome === outcome;

describe('a given token whose first lookup fails (fault proxy answering 503 in front of OpenBao)', () => {
  it('retries the lookup with backoff, shows it in /readyz, metrics and the log meanwhile, and keeps the token renewed past its TTL', async () => {
    const created = await bao.api('POST', 'auth/token/create', { policies: ['read-lookup'], ttl: '15s', renewable: true, explicit_max_ttl: '1h' });
    const token = (created?.['auth'] as { client_token: string }).client_token;
    const createdAt = Date.now();
    // lookup-self answers 503 for the first 3 s.
    const outage = proxy.failFirst('/v1/auth/token/lookup-self', 1_000, { status: 503, body: { errors: ['Vault is sealed'] } });
    setTimeout(() => proxy.remove(outage), 3_000);
    const port = await freePort();
    project = await makeProject({
      config: `
listener {
  address = "127.0.0.1:${port}"
  readiness_grace = "500ms"
}
backend "vault" "main" {
  address = "${proxy.address}"
  static_refresh_interval = "1s"
}
retry {
  backoff     = "200ms"
  max_backoff = "1s"
}
template {
  contents    = "{{secret \\"main:secret/lookup#pw\\"}}"
  destination = "@OUT@/pw"
}
`,
    });
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: token } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');

    // While the lookup fails: logged, counted, and not ready past the grace.
    await daemon.waitFor((r) => r.msg === "cannot learn the Vault token's TTL yet (it is not renewed until then); retrying with backoff");
    await vi.waitFor(async () => expect((await httpCall(port, 'GET', '/readyz')).body).toContain('main:auth/token/lookup-self has been failing'), {
      timeout: 3_000,
      interval: 100,
    });
    const metrics = parsePrometheus((await httpCall(port, 'GET', '/metrics')).body);
    expect(sample(metrics, 'secrets_sidecar_backend_requests_total', { backend: 'main', operation: 'token_lookup', outcome: 'error' })).toBeGreaterThan(0);

    // Once it answers: ready, and the token is renewed.
    await vi.waitFor(async () => expect((await httpCall(port, 'GET', '/readyz')).status).toBe(200), { timeout: 5_000, interval: 100 });
    await daemon.waitFor((r) => (r['audit'] as { event?: string; outcome?: string } | undefined)?.event === 'auth.renew');
    // A read made after the token's first 15 s would have run out still succeeds.
    await daemon.waitFor((r) => fetched('ok')(r) && Date.parse(String(r.time)) > createdAt + 16_000);
    expect(daemon.count(fetched('error'))).toBe(0);
    const audited = await bao.auditedRequests();
    const lookups = audited.filter((r) => r.path === 'auth/token/lookup-self').length;
    const renewals = audited.filter((r) => r.path === 'auth/token/renew-self').length;
    expect(renewals).toBeGreaterThan(0);
    console.log(
      `lookup-self 503 for 3 s: ${proxy.count('/v1/auth/token/lookup-self')} lookups tried, ${lookups} reached OpenBao, ${renewals} renewals; token alive ${Date.now() - createdAt} ms after creation (TTL 15 s)`,
    );
    expectNoSecrets(daemon.stderr, ['lookup-pw-4d4d', token]);
  }, 40_000);
});
