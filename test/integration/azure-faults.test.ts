import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../support/keyvault-emulator.js';
import { expectNoSecrets } from '../support/leaks.js';
import { makeProject, type Project } from '../support/project.js';

/*
 * Issue 22, Azure: the real SDK and credential chain against the wire emulator, made to trickle, stall, reset
 * or lie on the secret reads: a read ends at request_timeout, `once --timeout` and SIGTERM reach it.
 */
let kv: KeyVaultEmulator;
let project: Project | undefined;
let daemon: Daemon | undefined;

const GRACE_MS = 2_000;
const SECRET = 'az-fault-pw-5c5c';

beforeAll(async () => {
  kv = await startKeyVaultEmulator();
  kv.setSecret('db-password', SECRET);
});
afterAll(async () => {
  await kv?.stop();
});
afterEach(async () => {
  kv.fault(undefined);
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

const env = () => ({ NODE_EXTRA_CA_CERTS: kv.caCert, ...kv.identityEnv });
const config = (extra = '') =>
  `backend "azure_key_vault" "kv" {\n  vault_url = "${kv.vaultUrl}"\n  ${extra}\n}\nretry {\n  backoff = "100ms"\n  max_backoff = "1s"\n}\ntemplate {\n  contents = "{{secret \\"kv:db-password\\"}}"\n  destination = "@OUT@/pw"\n}\n`;
const warnings = (r: LogRecord) => r.msg === 'fetch failed, retrying with backoff';
const errorOf = (r: LogRecord) => r['error'] as { code: string; message: string };

describe('Azure Key Vault: a read ends at its deadline, and the abort reaches it', () => {
  it.each(['trickle', 'stall'] as const)('once --timeout 5s exits 6 within the timeout when the vault answers with a %s', async (fault) => {
    kv.fault(fault);
    project = await makeProject({ config: config() });
    const started = performance.now();
    const result = await runCli(['once', '-c', project.config, '--timeout', '5s'], { env: env() });
    const elapsedMs = performance.now() - started;
    console.info(`azure once --timeout 5s, ${fault}: exit ${result.code} after ${Math.round(elapsedMs)} ms`);
    expect(result.code, result.stderr.slice(-1500)).toBe(6);
    expect(elapsedMs).toBeLessThan(5_000 + GRACE_MS);
    expect(result.stderr).toContain('once did not finish within 5s; still waiting for kv:db-password');
    expect(result.stderr).toContain('"call":"backend \\"kv\\": db-password","reason":"watch stopped","msg":"request in flight abandoned"');
    expectNoSecrets(result.stderr, [SECRET, ...kv.tokens]);
  });

  it('ends a stalled read at request_timeout, saying so, and renders when the vault answers again', async () => {
    kv.fault('stall', 2);
    project = await makeProject({ config: config('request_timeout = "1s"') });
    daemon = new Daemon(['-c', project.config], { env: env() });
    const first = await daemon.waitFor(warnings);
    expect(errorOf(first)).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_UNAVAILABLE',
      message: expect.stringContaining('db-password: no complete answer within 1s (request_timeout)') as unknown,
    });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe(SECRET);
    expect(daemon.count(warnings)).toBe(2);
    expectNoSecrets(daemon.stderr, [SECRET, ...kv.tokens]);
  });

  it('run exits within a second of SIGTERM while the vault trickles an answer', async () => {
    kv.fault('trickle');
    project = await makeProject({ config: config() });
    const requested = kv.requested('GET /secrets/{name}');
    daemon = new Daemon(['-c', project.config], { env: env() });
    // The vault has begun its answer: the read is in flight from here on.
    await requested;
    const started = performance.now();
    daemon.signal('SIGTERM');
    const exit = await daemon.exited;
    const elapsedMs = performance.now() - started;
    console.info(`azure run, SIGTERM during a trickle: exit ${exit.code} after ${Math.round(elapsedMs)} ms`);
    expect(exit.code).toBe(0);
    expect(elapsedMs).toBeLessThan(1_000);
    expect(daemon.count((r) => r.msg === 'request in flight abandoned' && r['call'] === 'backend "kv": db-password')).toBe(1);
  });

  it('codes a 200 answer that is not JSON as malformed, and retries it', async () => {
    kv.fault('not-json', 1);
    project = await makeProject({ config: config() });
    const result = await runCli(['once', '-c', project.config, '--timeout', '30s'], { env: env() });
    expect(result.code, result.stderr.slice(-1500)).toBe(0);
    const retry = result.stderr
      .split('\n')
      .filter((l) => l.includes('fetch failed, retrying'))
      .map((l) => JSON.parse(l) as LogRecord)[0];
    expect(errorOf(retry as LogRecord)).toMatchObject({
      code: 'SIDECAR_ERR_BACKEND_MALFORMED',
      message: expect.stringContaining('db-password: the answer (HTTP 200) is not the JSON Key Vault sends') as unknown,
    });
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe(SECRET);
  });
});
