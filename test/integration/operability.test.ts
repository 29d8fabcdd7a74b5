import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Daemon, type LogRecord } from '../support/cli.js';
import { recordShown } from '../support/canary.js';
import { removeDir } from '../support/dirs.js';
import { httpCall as call } from '../support/http.js';
import { expectNoSecrets } from '../support/leaks.js';
import { freePort, startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';
import { parsePrometheus, sample } from '../support/prometheus.js';

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

const written = (r: LogRecord) => r.msg === 'rendered' && r['outcome'] === 'written';

describe('operability: listener, readiness, metrics, forced refresh, audit file (built CLI)', () => {
  it('is not ready before the first full render, is after, and turns 503 while a source fails past the grace, 200 again on recovery', async () => {
    const port = await freePort();
    project = await makeProject({
      config: `listener {\n  address = "127.0.0.1:${port}"\n  readiness_grace = "500ms"\n}\nbackend "file" "local" {\n  path = "@ROOT@/secrets.json"\n}\ntemplate {\n  contents = "{{secret \\"local:db#password\\"}}"\n  destination = "@OUT@/pw"\n}\n`,
    });
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'listening');
    expect((await call(port, 'GET', '/healthz')).status).toBe(200);
    // The source does not exist yet: nothing rendered.
    const before = await call(port, 'GET', '/readyz');
    expect(before.status).toBe(503);
    expect(before.body).toContain('not every template has rendered yet');

    await writeFile(project.secretsFile, JSON.stringify({ db: { password: 'ops-pw-1a1a' } }));
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect((await call(port, 'GET', '/readyz')).status).toBe(200);

    // The source goes away: the file stays as it was; past the grace, not ready.
    await rm(project.secretsFile);
    await daemon.waitFor((r) => r.msg === 'audit' && (r['audit'] as { outcome: string }).outcome === 'error', daemon.mark - 1);
    expect((await call(port, 'GET', '/readyz')).status).toBe(200);
    await vi.waitFor(async () => expect((await call(port, 'GET', '/readyz')).status).toBe(503), { timeout: 10_000, interval: 100 });
    expect((await call(port, 'GET', '/readyz')).body).toContain('local:db has been failing for');
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('ops-pw-1a1a');

    await writeFile(project.secretsFile, JSON.stringify({ db: { password: 'ops-pw-1a1a' } }));
    await vi.waitFor(async () => expect((await call(port, 'GET', '/readyz')).status).toBe(200), { timeout: 10_000, interval: 100 });
    expectNoSecrets(daemon.stderr, ['ops-pw-1a1a']);
  });

  it('serves Prometheus metrics that a Prometheus parser reads, whose counters move with fetches, renders and reloads', async () => {
    const port = await freePort();
    project = await makeProject({ config: '', secrets: { api: { key: 'ops-key-2b2b' } } });
    const reloads = join(project.root, 'reloads.log');
    await project.write(
      'sidecar.hcl',
      `listener {\n  address = "127.0.0.1:${port}"\n}\nbackend "file" "local" {\n  path = "${project.secretsFile}"\n}\nnotify "app" {\n  command = ${JSON.stringify([process.execPath, '-e', `require('fs').appendFileSync(${JSON.stringify(reloads)}, 'x')`])}\n}\ntemplate {\n  contents = "{{secret \\"local:api#key\\"}}"\n  destination = "${project.out}/key"\n}\n`,
    );
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'notified');
    const firstPage = (await call(port, 'GET', '/metrics')).body;
    recordShown('GET /metrics', firstPage);
    const first = parsePrometheus(firstPage);
    const fetches = (s: typeof first) => sample(s, 'secrets_sidecar_backend_requests_total', { backend: 'local', operation: 'fetch', outcome: 'ok' }) ?? 0;
    const renders = (s: typeof first) => sample(s, 'secrets_sidecar_renders_total', { result: 'written' }) ?? 0;
    const notified = (s: typeof first) => sample(s, 'secrets_sidecar_reloads_total', { target: 'app', outcome: 'ok' }) ?? 0;
    expect(fetches(first)).toBe(1);
    expect(renders(first)).toBe(1);
    expect(notified(first)).toBe(1);
    expect(sample(first, 'secrets_sidecar_ready')).toBe(1);
    expect(sample(first, 'secrets_sidecar_secret_backoff_seconds', { secret: 'local:api' })).toBe(0);
    expect(sample(first, 'secrets_sidecar_secret_refresh_age_seconds', { secret: 'local:api' })).toBeGreaterThanOrEqual(0);
    expect(sample(first, 'secrets_sidecar_backend_request_duration_seconds_count', { backend: 'local', operation: 'fetch' })).toBe(1);

    const mark = daemon.mark;
    await writeFile(project.secretsFile, JSON.stringify({ api: { key: 'ops-key-3c3c' } }));
    await daemon.waitFor((r) => r.msg === 'notified', mark);
    const second = parsePrometheus((await call(port, 'GET', '/metrics')).body);
    // One change may reach the file watcher as two events (a write, then its metadata): each is a fetch; the
    // second finds the same value, so renders and reloads move by exactly one.
    expect(fetches(second)).toBeGreaterThan(fetches(first));
    expect(renders(second)).toBe(2);
    expect(notified(second)).toBe(2);
    expect((await call(port, 'GET', '/metrics')).body).not.toContain('ops-key-');
    expectNoSecrets(daemon.stderr, ['ops-key-2b2b', 'ops-key-3c3c']);
  });

  it('forces a refresh by HTTP (token required, never through a proxy) and by SIGUSR1, before the interval; audits every access to a file', async () => {
    const port = await freePort();
    await bao.api('POST', 'secret/data/ops', { data: { password: 'ops-bao-v1-4d4d' } });
    project = await makeProject({ config: '' });
    const token = 'refresh-token-5e5e5e5e5e5e5e5e';
    const audit = join(project.root, 'audit', 'audit.jsonl');
    await writeFile(join(project.root, 'refresh-token'), `${token}\n`);
    await project.write(
      'sidecar.hcl',
      `listener {\n  address = "127.0.0.1:${port}"\n  refresh_token_file = "${join(project.root, 'refresh-token')}"\n}\naudit {\n  path = "${audit}"\n}\nbackend "vault" "main" {\n  address = "${bao.address}"\n  static_refresh_interval = "1h"\n}\ntemplate {\n  contents = "{{secret \\"main:secret/ops#password\\"}}"\n  destination = "${project.out}/pw"\n}\n`,
    );
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    await bao.api('POST', 'secret/data/ops', { data: { password: 'ops-bao-v2-6f6f' } });

    expect((await call(port, 'POST', '/v1/refresh')).status).toBe(401);
    expect((await call(port, 'POST', '/v1/refresh', { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await call(port, 'POST', '/v1/refresh', { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.7' })).status).toBe(403);
    expect((await call(port, 'POST', '/v1/refresh?ref=main:secret/nothing', { authorization: `Bearer ${token}` })).status).toBe(404);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('ops-bao-v1-4d4d');

    const mark = daemon.mark;
    const forced = await call(port, 'POST', '/v1/refresh?ref=main:secret/ops', { authorization: `Bearer ${token}` });
    expect(forced.status).toBe(202);
    expect(JSON.parse(forced.body)).toEqual({ refreshed: ['main:secret/ops'] });
    await daemon.waitFor(written, mark);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('ops-bao-v2-6f6f');

    await bao.api('POST', 'secret/data/ops', { data: { password: 'ops-bao-v3-7a7a' } });
    const usr1 = daemon.mark;
    daemon.signal('SIGUSR1');
    await daemon.waitFor(written, usr1);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('ops-bao-v3-7a7a');
    expect((await daemon.stop()).code).toBe(0);

    // One line per access, each as in the log, and no value, token or refresh token anywhere in the file.
    recordShown('the audit file', readFileSync(audit, 'utf8'));
    const lines = readFileSync(audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; outcome: string; path?: string });
    const fetchesLogged = daemon.count((r) => r.msg === 'audit' && (r['audit'] as { event: string }).event === 'secret.fetch');
    expect(lines.filter((l) => l.event === 'secret.fetch')).toHaveLength(fetchesLogged);
    expect(lines.filter((l) => l.event === 'secret.fetch' && l.path === 'secret/ops')).toHaveLength(3);
    expect(lines.filter((l) => l.event === 'template.render' && l.outcome === 'ok')).toHaveLength(3);
    expectNoSecrets(readFileSync(audit, 'utf8') + daemon.stderr, ['ops-bao-v1-4d4d', 'ops-bao-v2-6f6f', 'ops-bao-v3-7a7a', bao.rootToken, token]);
  });
});
