import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canary } from '../support/canary.js';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { httpCall } from '../support/http.js';
import { expectNoSecrets } from '../support/leaks.js';
import { freePort } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';

/*
 * Issue 21 through the built CLI with the file backend: what is derived from a secret shows only as
 * `[derived from <literal>]` in logs, the audit file, /metrics, /readyz and /v1/refresh answers (class 1);
 * bounded renders (class 9); helper shapes refused by validate (class 11); binary secrets written byte for byte
 * (class 7); env values masked in dry runs.
 */

let project: Project | undefined;
let daemon: Daemon | undefined;
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await removeDir(project?.root);
  project = undefined;
});

const audits = (d: Daemon) =>
  d.records.map((r) => r['audit'] as { event?: string; path?: string; outcome?: string } | undefined).filter((a) => a !== undefined);

describe('values derived from secrets never show as text', () => {
  it('run: logs, audit file, /metrics, /readyz and /v1/refresh show [derived from …] labels only', async () => {
    const missing = canary('missing-path'); // the value of a pointer, naming a secret that does not exist
    const existing = canary('existing-path'); // the value of a pointer, naming one that does
    const token = canary('token');
    const port = await freePort();
    const refreshToken = randomBytes(16).toString('hex');
    project = await makeProject({
      config: `listener {
  address = "127.0.0.1:${port}"
  readiness_grace = "100ms"
  refresh_token_file = "@ROOT@/refresh-token"
}
audit {
  path = "@ROOT@/audit.jsonl"
}
backend "file" "local" {
  path = "@ROOT@/secrets.json"
}
template {
  contents = "{{secret (secret \\"local:pointer\\")}}"
  destination = "@OUT@/a"
}
template {
  contents = "{{secret (trim (secret \\"local:pointer2\\"))}}"
  destination = "@OUT@/b"
}
template {
  contents = "{{secret \\"local:app\\" token=(trim (secret \\"local:tok\\"))}}"
  destination = "@OUT@/c"
}
`,
      secrets: { pointer: `local:${missing}`, pointer2: ` local:${existing} `, [existing]: 'fine', tok: ` ${token} `, app: 'x' },
    });
    await project.write('refresh-token', refreshToken);
    daemon = new Daemon(['-c', project.config]);
    const d = daemon;
    const failed = (path: string) => (r: LogRecord) =>
      (r['audit'] as { path?: string; outcome?: string } | undefined)?.path === path && (r['audit'] as { outcome?: string }).outcome === 'error';
    await d.waitFor(failed('[derived from local:pointer]'));
    await d.waitFor(failed('app?token=[derived from local:tok]'));
    await d.waitFor(
      (r) =>
        (r['audit'] as { path?: string; outcome?: string } | undefined)?.path === '[derived from local:pointer2]' &&
        (r['audit'] as { outcome?: string }).outcome === 'ok',
    );
    await d.waitFor((r) => r.msg === 'fetch failed' && r['ref'] === 'local:[derived from local:pointer]');

    // The listener: metrics labels, readiness reasons, refresh answers (all recorded for the canary too).
    const metrics = (await httpCall(port, 'GET', '/metrics')).body;
    expect(metrics).toContain('secret="local:[derived from local:pointer2]"');
    let ready = await httpCall(port, 'GET', '/readyz');
    for (let i = 0; i < 50 && !ready.body.includes('local:[derived from local:pointer] has been failing'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      ready = await httpCall(port, 'GET', '/readyz');
    }
    expect(ready.body).toContain('local:[derived from local:pointer] has been failing');
    expect(ready.body).toContain('local:app?token=[derived from local:tok] has been failing');
    const auth = { authorization: `Bearer ${refreshToken}` };
    const all = await httpCall(port, 'POST', '/v1/refresh', auth);
    expect(all.status).toBe(202);
    expect((JSON.parse(all.body) as { refreshed: string[] }).refreshed).toEqual(
      expect.arrayContaining(['local:[derived from local:pointer2]', 'local:app?token=[derived from local:tok]']),
    );
    const one = await httpCall(port, 'POST', `/v1/refresh?ref=${encodeURIComponent('local:[derived from local:pointer2]')}`, auth);
    expect(one).toMatchObject({ status: 202 });
    expect(JSON.parse(one.body)).toEqual({ refreshed: ['local:[derived from local:pointer2]'] });
    // The real text is not a handle either: it would tell a caller which value the secret holds.
    expect((await httpCall(port, 'POST', `/v1/refresh?ref=${encodeURIComponent(`local:${existing}`)}`, auth)).status).toBe(404);

    // An argument not known yet is never fetched: no "app?token=" with an empty token, ever.
    expect(audits(d).filter((a) => a.event === 'secret.fetch' && /^app\?token=(&|$)/.test(a.path ?? ''))).toEqual([]);
    await d.stop();
    const auditFile = readFileSync(join(project.root, 'audit.jsonl'), 'utf8');
    expect(auditFile).toContain('"path":"[derived from local:pointer]"');
    expectNoSecrets([d.stderr, auditFile, metrics, ready.body, all.body, one.body].join('\n'), [missing, existing, token]);
  });

  it('once: the error for a computed reference that names a missing secret shows its label', async () => {
    const missing = canary('missing-path');
    project = await makeProject({
      config: `backend "file" "local" {\n  path = "@ROOT@/secrets.json"\n}\ntemplate {\n  contents = "{{secret (base64Decode (secret \\"local:pointer\\"))}}"\n  destination = "@OUT@/a"\n}\n`,
      secrets: { pointer: Buffer.from(`local:${missing}`).toString('base64') },
    });
    const result = await runCli(['once', '-c', project.config, '--timeout', '20s']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('[derived from local:pointer]');
    expectNoSecrets(result.stderr + result.stdout, [missing, Buffer.from(`local:${missing}`).toString('base64')]);
  });
});

describe('hostile templates', () => {
  const nested = '{{#each (secret \\"local:list\\")}}{{#each (secret \\"local:list\\")}}{{#if this}}{{/if}}{{/each}}{{/each}}';
  const list = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it('once: nested loops stop with a coded budget error, long before --timeout', async () => {
    project = await makeProject({
      config: `backend "file" "local" {\n  path = "@ROOT@/secrets.json"\n}\ntemplate {\n  contents = "${nested}"\n  destination = "@OUT@/a"\n}\n`,
      secrets: { list: list(5000) },
    });
    const result = await runCli(['once', '-c', project.config, '--timeout', '60s']);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('SIDECAR_ERR_RENDER_BUDGET');
  });

  it('run: /healthz answers within a second while hostile renders fail, and the event loop is never held a second', async () => {
    const port = await freePort();
    project = await makeProject({
      config: `listener {\n  address = "127.0.0.1:${port}"\n}\nbackend "file" "local" {\n  path = "@ROOT@/secrets.json"\n}\ntemplate {\n  contents = "${nested}"\n  destination = "@OUT@/a"\n}\n`,
      secrets: { list: list(5000) },
    });
    daemon = new Daemon(['-c', project.config]);
    const d = daemon;
    await d.waitFor((r) => r.msg === 'listening');
    let worst = 0;
    let polling = true;
    const poll = (async () => {
      for (let i = 0; polling && i < 2000; i++) {
        const started = performance.now();
        expect((await httpCall(port, 'GET', '/healthz')).status).toBe(200);
        worst = Math.max(worst, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const renderFailed = (r: LogRecord) =>
      r.msg.startsWith('render failed') && (r['error'] as { code?: string } | undefined)?.code === 'SIDECAR_ERR_RENDER_BUDGET';
    await d.waitFor(renderFailed);
    // Each change to the list renders again.
    for (let round = 1; round <= 3; round++) {
      const mark = d.mark;
      await writeFile(project.secretsFile, JSON.stringify({ list: list(5000 + round) }));
      await d.waitFor(renderFailed, mark);
    }
    polling = false;
    await poll;
    const metrics = (await httpCall(port, 'GET', '/metrics')).body;
    const held = Number(/^secrets_sidecar_event_loop_delay_max_seconds (\S+)$/m.exec(metrics)?.[1] ?? NaN);
    console.log(`event loop held at most ${held}s; /healthz answered within ${Math.round(worst)} ms`);
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(1);
    expect(worst).toBeLessThan(1000);
  });

  it('validate refuses a helper called with the wrong arguments, naming template and line', async () => {
    project = await makeProject({
      config: `backend "file" "local" {\n  path = "@ROOT@/secrets.json"\n}\ntemplate {\n  source = "@ROOT@/templates/t.hbs"\n  destination = "@OUT@/a"\n}\n`,
      secrets: {},
      templates: { 't.hbs': 'ok\n{{trim}}\n' },
    });
    const result = await runCli(['validate', '-c', project.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('SIDECAR_ERR_TEMPLATE_SYNTAX');
    expect(result.stderr).toMatch(/t\.hbs.*line 2: trim takes 1 argument, got 0/);
  });
});

describe('binary secrets and dry runs', () => {
  it('writes a binary keystore byte for byte (exit 0), and a dry run masks it and env values', async () => {
    const keystore = randomBytes(2500); // PKCS#12-like: random bytes, not UTF-8
    keystore[0] = 0x30;
    keystore[1] = 0xff;
    const dbUrl = canary('db-url');
    project = await makeProject({
      config: `env_allow = ["DB_URL"]\nbackend "file" "files" {\n  path = "@ROOT@/volume"\n}\ntemplate {\n  contents = "{{base64Decode (secret \\"files:keystore.b64\\")}}"\n  destination = "@OUT@/keystore.p12"\n}\ntemplate {\n  contents = "url={{env \\"DB_URL\\"}}"\n  destination = "@OUT@/url"\n}\n`,
    });
    await project.write('volume/keystore.b64', `${keystore.toString('base64')}\n`);
    const env = { DB_URL: dbUrl };
    const once = await runCli(['once', '-c', project.config], { env });
    expect(once.code).toBe(0);
    expect(readFileSync(join(project.out, 'keystore.p12')).equals(keystore)).toBe(true);
    // Unchanged bytes: the second run writes nothing.
    expect((await runCli(['once', '-c', project.config], { env })).stderr).toContain('"outcome":"unchanged"');
    const dry = await runCli(['once', '--dry-run', '-c', project.config], { env });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('<masked:files:keystore.b64>');
    expect(dry.stdout).toContain('url=<masked:env:DB_URL>');
    expectNoSecrets(dry.stdout + dry.stderr, [dbUrl, keystore.toString('base64').slice(0, 40)]);
  });
});
