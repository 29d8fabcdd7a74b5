import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, runCli } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../support/keyvault-emulator.js';
import { expectNoSecrets } from '../support/leaks.js';
import { makeProject, type Project } from '../support/project.js';
import { makeCertificates } from '../support/test-certs.js';

/*
 * Azure Key Vault has no server to install here: these tests run the real @azure/keyvault-secrets SDK and the
 * real @azure/identity credential chain against our wire emulator (test/support/keyvault-emulator.ts), over TLS
 * with a certificate for <name>.vault.azure.net mapped to 127.0.0.1, trusted through NODE_EXTRA_CA_CERTS.
 */
let kv: KeyVaultEmulator;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  kv = await startKeyVaultEmulator();
});
afterAll(async () => {
  await kv?.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

const env = () => ({ NODE_EXTRA_CA_CERTS: kv.caCert, ...kv.identityEnv });
const config = (templates: string, extra = '') => `backend "azure_key_vault" "kv" {\n  vault_url = "${kv.vaultUrl}"\n  ${extra}\n}\n${templates}`;
const written = (r: { msg: string; [k: string]: unknown }) => r.msg === 'rendered' && r['outcome'] === 'written';

describe('Azure Key Vault backend (real SDK and credential chain, against the wire emulator)', () => {
  it('renders a plain secret and a JSON secret through DefaultAzureCredential, and pins a version', async () => {
    const first = kv.setSecret('db-password', 'az-pw-v1-1e1e');
    kv.setSecret('db-password', 'az-pw-v2-2f2f');
    kv.setSecret('app-config', JSON.stringify({ user: 'app', token: 'az-json-3a3a' }), { contentType: 'application/json' });
    project = await makeProject({
      config: config(
        `template {\n  contents = "{{secret \\"kv:db-password\\"}} {{secret \\"kv:db-password?version=${first}\\"}} {{secret \\"kv:app-config#token\\"}}"\n  destination = "@OUT@/az"\n}\n`,
      ),
    });
    const result = await runCli(['once', '-c', project.config], { env: env() });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'az'), 'utf8')).toBe('az-pw-v2-2f2f az-pw-v1-1e1e az-json-3a3a');
    expect(kv.tokens.length).toBeGreaterThan(0);
    expectNoSecrets(result.stderr, ['az-pw-v1-1e1e', 'az-pw-v2-2f2f', 'az-json-3a3a', ...kv.tokens]);
  });

  it('re-renders once and reloads the app once for a new version, at one request per interval, and never moves a pinned version', async () => {
    const pinned = kv.setSecret('rotating', 'az-rot-v1-4b4b');
    project = await makeProject({ config: '' });
    const reloads = join(project.root, 'reloads.log');
    const hook = `notify "app" {\n  command = ${JSON.stringify([process.execPath, '-e', `require('fs').appendFileSync(${JSON.stringify(reloads)}, 'reload\\n')`])}\n}\n`;
    await project.write(
      'sidecar.hcl',
      config(
        `${hook}template {\n  contents = "{{secret \\"kv:rotating\\"}} {{secret \\"kv:rotating?version=${pinned}\\"}}"\n  destination = "${project.out}/rot"\n}\n`,
        'credential = "managed_identity"\n  refresh_interval = "400ms"',
      ),
    );
    daemon = new Daemon(['-c', project.config, '--log-level', 'debug'], { env: env() });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    // Polls of an unchanged secret: one request each (the latest version), and nothing for the pinned one.
    const start = daemon.mark;
    const latestBefore = kv.requests('GET /secrets/{name}');
    const pinnedBefore = kv.requests('GET /secrets/{name}/{version}');
    const polls = async (n: number) => {
      for (let i = 0; i < n; i++)
        await daemon?.waitFor((r) => r.msg === 'audit' && (r['audit'] as { path?: string }).path === 'rotating', daemon.records.length);
    };
    await polls(2);
    expect(kv.requests('GET /secrets/{name}') - latestBefore).toBe(
      daemon.count((r) => r.msg === 'audit' && (r['audit'] as { path?: string }).path === 'rotating', start),
    );
    expect(kv.requests('GET /secrets/{name}/{version}')).toBe(pinnedBefore);
    expect(daemon.count(written, start)).toBe(0);

    const mark = daemon.mark;
    kv.setSecret('rotating', 'az-rot-v2-5c5c');
    await daemon.waitFor(written, mark);
    expect(readFileSync(join(project.out, 'rot'), 'utf8')).toBe('az-rot-v2-5c5c az-rot-v1-4b4b');
    await daemon.waitFor((r) => r.msg === 'notified', mark);
    await polls(2);
    expect((await daemon.stop()).code).toBe(0);
    expect(readFileSync(reloads, 'utf8')).toBe('reload\nreload\n');
    expect(daemon.count(written, mark)).toBe(1);
    expectNoSecrets(daemon.stderr, ['az-rot-v1-4b4b', 'az-rot-v2-5c5c', ...kv.tokens]);
  });

  it('fails with the reference named for a disabled secret and one not valid yet, and exits 3', async () => {
    kv.setSecret('off', 'az-off-6d6d', { attributes: { enabled: false } });
    kv.setSecret('later', 'az-later-7e7e', { attributes: { nbf: Math.floor(Date.now() / 1000) + 3600 } });
    for (const [name, message] of [
      ['off', 'kv:off\\": backend \\"kv\\": off: the secret is disabled'],
      ['later', 'kv:later\\": backend \\"kv\\": later: the secret is not valid before'],
    ] as const) {
      project = await makeProject({ config: config(`template {\n  contents = "{{secret \\"kv:${name}\\"}}"\n  destination = "@OUT@/x"\n}\n`) });
      const result = await runCli(['once', '-c', project.config], { env: env() });
      expect(result.code).toBe(3);
      expect(result.stderr).toContain('SIDECAR_ERR_BACKEND_INACTIVE');
      expect(result.stderr).toContain(message);
      expectNoSecrets(result.stderr, ['az-off-6d6d', 'az-later-7e7e', ...kv.tokens]);
      await removeDir(project.root);
    }
    project = undefined;
  });

  it('renders a certificate (PKCS#12 and PEM content types) as a key, leaf and chain that openssl accepts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'az-cert-'));
    try {
      const certs = await makeCertificates(dir, [['app.example', 'subjectAltName=DNS:app.example']], 'rsa');
      const leaf = certs.cert('app.example');
      execFileSync('openssl', [
        'pkcs12',
        '-export',
        '-inkey',
        leaf.key,
        '-in',
        leaf.cert,
        '-certfile',
        certs.caCert,
        '-passout',
        'pass:',
        '-out',
        join(dir, 'app.pfx'),
      ]);
      kv.setSecret('tls-pfx', (await readFile(join(dir, 'app.pfx'))).toString('base64'), { contentType: 'application/x-pkcs12', certificate: true });
      // PEM as Key Vault keeps an imported PEM certificate: the chain first here, to show the leaf is found by key.
      kv.setSecret('tls-pem', (await readFile(certs.caCert, 'utf8')) + (await readFile(leaf.key, 'utf8')) + (await readFile(leaf.cert, 'utf8')), {
        contentType: 'application/x-pem-file',
        certificate: true,
      });
      for (const name of ['tls-pfx', 'tls-pem']) {
        project = await makeProject({
          config: config(
            ['private_key', 'certificate', 'chain']
              .map((part) => `template {\n  contents = "{{secret \\"kv:${name}?format=pem#${part}\\"}}"\n  destination = "@OUT@/${part}.pem"\n}\n`)
              .join(''),
          ),
        });
        const result = await runCli(['once', '-c', project.config], { env: env() });
        expect(result.code, result.stderr).toBe(0);
        const out = (part: string) => join((project as Project).out, `${part}.pem`);
        // The key is the leaf's, and the leaf verifies against the chain.
        const modulus = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' }).trim();
        expect(modulus(['rsa', '-in', out('private_key'), '-noout', '-modulus'])).toBe(modulus(['x509', '-in', out('certificate'), '-noout', '-modulus']));
        expect(execFileSync('openssl', ['verify', '-CAfile', out('chain'), out('certificate')], { encoding: 'utf8' })).toContain(': OK');
        expect(execFileSync('openssl', ['x509', '-in', out('certificate'), '-noout', '-subject'], { encoding: 'utf8' })).toContain('app.example');
        expectNoSecrets(result.stderr, [readFileSync(out('private_key'), 'utf8').split('\n')[1] ?? '', ...kv.tokens]);
        await removeDir(project.root);
      }
      project = undefined;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rides out a burst of 429s (Retry-After honoured) without losing the last good file', async () => {
    kv.setSecret('busy', 'az-busy-v1-8f8f');
    project = await makeProject({
      config: config('template {\n  contents = "{{secret \\"kv:busy\\"}}"\n  destination = "@OUT@/busy"\n}\n', 'refresh_interval = "300ms"'),
    });
    daemon = new Daemon(['-c', project.config, '--log-level', 'debug'], { env: env() });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const mark = daemon.mark;
    kv.throttle(3, 1);
    kv.setSecret('busy', 'az-busy-v2-9a9a');
    // While throttled, the file keeps its last good content; then the new version arrives.
    expect(readFileSync(join(project.out, 'busy'), 'utf8')).toBe('az-busy-v1-8f8f');
    await daemon.waitFor(written, mark);
    expect(readFileSync(join(project.out, 'busy'), 'utf8')).toBe('az-busy-v2-9a9a');
    expect(daemon.count((r) => r.msg === 'azure call', mark)).toBeGreaterThanOrEqual(4);
    expectNoSecrets(daemon.stderr, ['az-busy-v1-8f8f', 'az-busy-v2-9a9a', ...kv.tokens]);
  });
});
