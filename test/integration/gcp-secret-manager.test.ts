import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, runCli, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { startGcpSecretManagerEmulator, type GcpSecretManagerEmulator } from '../support/gcp-secret-manager-emulator.js';
import { expectNoSecrets } from '../support/leaks.js';
import { makeProject, type Project } from '../support/project.js';

/*
 * Google Cloud Secret Manager has no server to install here: these tests run the real @google-cloud/secret-manager
 * client (gRPC over TLS) and google-auth-library's real Application Default Credentials against our wire emulator
 * (test/support/gcp-secret-manager-emulator.ts), whose certificate is trusted through NODE_EXTRA_CA_CERTS and
 * which checks the bearer token of every call: a metadata-server token, or a JWT signed by the service-account key.
 */
let gcp: GcpSecretManagerEmulator;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  gcp = await startGcpSecretManagerEmulator();
});
afterAll(async () => {
  await gcp?.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

/** HOME is the project's, so no gcloud ADC file of this machine's user is found. */
const baseEnv = (root: string) => ({ NODE_EXTRA_CA_CERTS: gcp.caCert, HOME: root });
const metadataEnv = (root: string) => ({ ...baseEnv(root), ...gcp.metadataEnv });
const config = (templates: string, extra = '') =>
  `backend "gcp_secret_manager" "g" {\n  project = "${gcp.project}"\n  endpoint = "${gcp.endpoint}"\n  ${extra}\n}\n${templates}`;
const template = (contents: string, file: string) => `template {\n  contents = ${JSON.stringify(contents)}\n  destination = "@OUT@/${file}"\n}\n`;
/** Rewrites the project's config (run mode reads it on start and on SIGHUP). */
const writeConfig = (text: string) => (project as Project).write('sidecar.hcl', text.replaceAll('@OUT@', (project as Project).out));
const written = (r: LogRecord) => r.msg === 'rendered' && r['outcome'] === 'written';
const auditOf = (secretId: string) => (r: LogRecord) => r.msg === 'audit' && (r['audit'] as { path?: string }).path === secretId;

describe('GCP Secret Manager backend (real client and credentials, against the wire emulator)', () => {
  it('renders through the metadata server (workload identity): latest, a pinned version, a JSON key, and bytes', async () => {
    const first = gcp.addVersion('db-password', 'gcp-pw-v1-1a1a');
    gcp.addVersion('db-password', 'gcp-pw-v2-2b2b');
    gcp.addVersion('app-config', JSON.stringify({ user: 'app', token: 'gcp-json-3c3c' }));
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x41]);
    gcp.addVersion('keystore', bytes);
    project = await makeProject({
      config: config(
        template(`{{secret "g:db-password"}} {{secret "g:db-password?version=${first}"}} {{secret "g:app-config#token"}}`, 'out') +
          template('{{secret "g:keystore"}}', 'keystore'),
      ),
    });
    const tokensBefore = gcp.calls('metadata token');
    const jwtBefore = gcp.calls('jwt');
    // The client's own debug log prints whole responses: asking for it must not put a payload on stderr.
    const result = await runCli(['once', '-c', project.config], { env: { ...metadataEnv(project.root), GOOGLE_SDK_NODE_LOGGING: '*' } });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'out'), 'utf8')).toBe('gcp-pw-v2-2b2b gcp-pw-v1-1a1a gcp-json-3c3c');
    expect(readFileSync(join(project.out, 'keystore')).equals(bytes)).toBe(true);
    expect(gcp.calls('metadata token')).toBeGreaterThan(tokensBefore);
    expect(gcp.calls('jwt')).toBe(jwtBefore);
    expectNoSecrets(result.stderr + result.stdout, ['gcp-pw-v1-1a1a', 'gcp-pw-v2-2b2b', 'gcp-json-3c3c', 'gcp-json', ...gcp.credentials]);
  });

  it('renders with a service-account key file, named by GOOGLE_APPLICATION_CREDENTIALS or by credentials_file', async () => {
    gcp.addVersion('sa-secret', 'gcp-sa-4d4d');
    for (const how of ['GOOGLE_APPLICATION_CREDENTIALS', 'credentials_file'] as const) {
      project = await makeProject({
        config: config(template('{{secret "g:sa-secret"}}', 'sa'), how === 'credentials_file' ? 'credentials_file = "key.json"' : ''),
      });
      const keyFile = join(project.root, 'key.json');
      await gcp.writeKeyFile(keyFile);
      const tokensBefore = gcp.calls('metadata token');
      const jwtBefore = gcp.calls('jwt');
      const result = await runCli(['once', '-c', project.config], {
        env: { ...baseEnv(project.root), ...(how === 'GOOGLE_APPLICATION_CREDENTIALS' ? { GOOGLE_APPLICATION_CREDENTIALS: keyFile } : {}) },
      });
      expect(result.code, `${how}: ${result.stderr}`).toBe(0);
      expect(readFileSync(join(project.out, 'sa'), 'utf8')).toBe('gcp-sa-4d4d');
      // Signed by the key, checked by the emulator; the metadata server was not asked.
      expect(gcp.calls('jwt')).toBeGreaterThan(jwtBefore);
      expect(gcp.calls('metadata token')).toBe(tokensBefore);
      expectNoSecrets(result.stderr + result.stdout, ['gcp-sa-4d4d', ...gcp.credentials]);
      await removeDir(project.root);
    }
    project = undefined;
  });

  it('re-renders once for a new version; an unchanged secret costs one GetSecretVersion per refresh and no payload read; a pinned version is read once', async () => {
    const pinned = gcp.addVersion('rotating', 'gcp-rot-v1-5e5e');
    project = await makeProject({ config: '' });
    await writeConfig(config(template(`{{secret "g:rotating"}} {{secret "g:rotating?version=${pinned}"}}`, 'rot'), 'refresh_interval = "400ms"'));
    daemon = new Daemon(['-c', project.config, '--log-level', 'debug'], { env: metadataEnv(project.root) });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const d = daemon;
    const start = d.mark;
    const checksBefore = gcp.calls('GetSecretVersion', 'rotating');
    const readsBefore = gcp.calls('AccessSecretVersion', 'rotating');
    const polls = async (n: number) => {
      for (let i = 0; i < n; i++) await d.waitFor(auditOf('rotating'), d.records.length);
    };
    await polls(3);
    const refreshes = d.count(auditOf('rotating'), start);
    expect(refreshes).toBeGreaterThanOrEqual(3);
    expect(gcp.calls('GetSecretVersion', 'rotating') - checksBefore).toBe(refreshes);
    expect(gcp.calls('AccessSecretVersion', 'rotating')).toBe(readsBefore);
    expect(d.count(written, start)).toBe(0);

    const mark = d.mark;
    gcp.addVersion('rotating', 'gcp-rot-v2-6f6f');
    await d.waitFor(written, mark);
    expect(readFileSync(join(project.out, 'rot'), 'utf8')).toBe('gcp-rot-v2-6f6f gcp-rot-v1-5e5e');
    // The new version's payload, read once; the pinned one never again.
    expect(gcp.calls('AccessSecretVersion', 'rotating')).toBe(readsBefore + 1);
    await polls(2);
    expect(d.count(written, mark)).toBe(1);
    expect(gcp.calls('AccessSecretVersion', 'rotating')).toBe(readsBefore + 1);
    expect((await d.stop()).code).toBe(0);
    expectNoSecrets(d.stderr, ['gcp-rot-v1-5e5e', 'gcp-rot-v2-6f6f', ...gcp.credentials]);
  });

  it('fails with a coded error and exit 3 for a missing secret, a denied one, a disabled or destroyed version; refuses a reference or project that could reach another resource', async () => {
    gcp.addVersion('off', 'gcp-off-7a7a');
    gcp.addVersion('off', 'gcp-off-8b8b');
    gcp.setState('off', 1, 'DISABLED');
    gcp.setState('off', 2, 'DESTROYED');
    gcp.addVersion('forbidden', 'gcp-forbidden-9c9c');
    gcp.deny('forbidden');
    const cases = [
      ['g:nothing-here', 'SIDECAR_ERR_BACKEND_NOT_FOUND', 'not found (NOT_FOUND: Secret [projects/'],
      ['g:off?version=9', 'SIDECAR_ERR_BACKEND_NOT_FOUND', 'versions/9] not found'],
      ['g:forbidden', 'SIDECAR_ERR_BACKEND_DENIED', 'access denied (PERMISSION_DENIED'],
      ['g:off?version=1', 'SIDECAR_ERR_BACKEND_INACTIVE', 'is in DISABLED state'],
      ['g:off', 'SIDECAR_ERR_BACKEND_INACTIVE', 'is in DESTROYED state'],
    ] as const;
    for (const [ref, code, message] of cases) {
      project = await makeProject({ config: config(template(`{{secret "${ref}"}}`, 'x')) });
      const result = await runCli(['once', '-c', project.config], { env: metadataEnv(project.root) });
      expect(result.code, `${ref}: ${result.stderr}`).toBe(3);
      expect(result.stderr).toContain(code);
      expect(result.stderr).toContain(message);
      expectNoSecrets(result.stderr + result.stdout, ['gcp-off-7a7a', 'gcp-off-8b8b', 'gcp-forbidden-9c9c', ...gcp.credentials]);
      await removeDir(project.root);
    }
    // A server that answers with more than any payload can be: refused, not retried as if over quota.
    gcp.addVersion('huge', Buffer.alloc(5 * 1024 * 1024, 0x61));
    project = await makeProject({ config: config(template('{{secret "g:huge"}}', 'x')) });
    const huge = await runCli(['once', '-c', project.config], { env: metadataEnv(project.root) });
    expect(huge.code, huge.stderr).toBe(3);
    expect(huge.stderr).toContain('SIDECAR_ERR_BACKEND_MALFORMED');
    expect(huge.stderr).toContain('larger than a Secret Manager payload can be');
    expect(gcp.calls('AccessSecretVersion', 'huge')).toBe(1);
    await removeDir(project.root);
    // A reference that would reach into another resource name is refused before any call.
    for (const ref of ['g:../other', 'g:off?version=0', 'g:off?version=1&stage=x']) {
      project = await makeProject({ config: config(template(`{{secret "${ref}"}}`, 'x')) });
      const result = await runCli(['once', '-c', project.config], { env: metadataEnv(project.root) });
      expect(result.code, `${ref}: ${result.stderr}`).toBe(4);
      expect(result.stderr).toContain('SIDECAR_ERR_REF_INVALID');
      await removeDir(project.root);
    }
    // So is a project that is not a project id.
    project = await makeProject({ config: config(template('{{secret "g:off"}}', 'x')).replace(`project = "${gcp.project}"`, 'project = "p/secrets/other"') });
    const invalid = await runCli(['validate', '-c', project.config]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/sidecar\.hcl:2:\d+: backend\.gcp_secret_manager\.g\.project: expected a project id/);
  });

  it('without any credential, retries (a metadata server can come up late) and names the cause when once times out', async () => {
    gcp.addVersion('no-cred', 'gcp-nocred-0a0a');
    // No key file, no ADC file, and a metadata server that is not there (a closed loopback port).
    project = await makeProject({ config: config(template('{{secret "g:no-cred"}}', 'x')) });
    const result = await runCli(['once', '-c', project.config, '--timeout', '2s'], { env: { ...baseEnv(project.root), GCE_METADATA_HOST: '127.0.0.1:9' } });
    expect(result.code, result.stderr).toBe(6);
    expect(result.stderr).toContain('SIDECAR_ERR_BACKEND_DENIED');
    expect(result.stderr).toContain('no Google credential is available');
    expect(gcp.calls('AccessSecretVersion', 'no-cred')).toBe(0);
  });

  it('refuses a server certificate it cannot verify, with the TLS code and before any call reaches the server', async () => {
    gcp.addVersion('tls-check', 'gcp-tls-1d1d');
    project = await makeProject({ config: config(template('{{secret "g:tls-check"}}', 'x')) });
    const untrusted = { HOME: project.root, ...gcp.metadataEnv };
    const result = await runCli(['once', '-c', project.config], { env: untrusted });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain('SIDECAR_ERR_BACKEND_TLS');
    expect(gcp.calls('AccessSecretVersion', 'tls-check')).toBe(0);
    expectNoSecrets(result.stderr + result.stdout, ['gcp-tls-1d1d', ...gcp.credentials]);
  });

  it('gives up a hung call at request_timeout, rides out RESOURCE_EXHAUSTED as THROTTLED, and recovers; shutdown does not wait for a hung call', async () => {
    gcp.addVersion('hang', 'gcp-hang-v1-2e2e');
    project = await makeProject({ config: '' });
    await writeConfig(config(template('{{secret "g:hang"}}', 'hang'), 'refresh_interval = "300ms"\n  request_timeout = "1s"'));
    daemon = new Daemon(['-c', project.config, '--log-level', 'debug'], { env: metadataEnv(project.root) });
    const d = daemon;
    await d.waitFor((r) => r.msg === 'all templates rendered');
    let mark = d.mark;
    gcp.stall(true);
    await d.waitFor((r) => JSON.stringify(r).includes('no complete answer within 1s (request_timeout)'), mark);
    expect(readFileSync(join(project.out, 'hang'), 'utf8')).toBe('gcp-hang-v1-2e2e');
    // Then over quota for a while: coded THROTTLED, retried, and the new version arrives after.
    mark = d.mark;
    gcp.addVersion('hang', 'gcp-hang-v2-3f3f');
    gcp.throttle(2);
    gcp.stall(false);
    await d.waitFor(written, mark);
    expect(readFileSync(join(project.out, 'hang'), 'utf8')).toBe('gcp-hang-v2-3f3f');
    expect(d.count((r) => JSON.stringify(r).includes('SIDECAR_ERR_BACKEND_THROTTLED'), mark)).toBeGreaterThan(0);

    // A hung call at shutdown is abandoned (the fetch's abort signal), not waited out: request_timeout here is
    // longer than the test's own timeout.
    await d.stop();
    await writeConfig(config(template('{{secret "g:hang"}}', 'hang'), 'refresh_interval = "300ms"\n  request_timeout = "10m"'));
    daemon = new Daemon(['-c', project.config, '--log-level', 'debug'], { env: metadataEnv(project.root) });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    gcp.stall(true);
    await daemon.waitFor((r) => r.msg === 'gcp call' && r['method'] === 'GetSecretVersion', daemon.mark);
    expect((await daemon.stop()).code).toBe(0);
    gcp.stall(false);
    expectNoSecrets(d.stderr + daemon.stderr, ['gcp-hang-v1-2e2e', 'gcp-hang-v2-3f3f', ...gcp.credentials]);
  });

  it('is loaded only when configured: a `once` with a file backend never resolves the Google client', async () => {
    project = await makeProject({
      config: 'backend "file" "local" {\n  path = "secrets.json"\n}\n' + template('{{secret "local:k"}}', 'k'),
      secrets: { k: 'file-value-4b4b' },
    });
    // A module hook that records every package the sidecar resolves whose name is Google's, gRPC's or protobuf's.
    const trace = join(project.root, 'resolved.txt');
    const hook = join(project.root, 'hook.mjs');
    const resolveHook = `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) {\n  if (/google|grpc|protobuf/.test(s)) appendFileSync(${JSON.stringify(trace)}, s + '\\n');\n  return next(s, c);\n}\n`;
    await writeFile(hook, `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(resolveHook)}));\n`);
    await writeFile(trace, '');
    // The bin, also under SIDECAR_TEST_SNAPSHOT=1: the snapshot's one CommonJS script require()s the client,
    // past any ESM resolve hook.
    const fileOnly = await runCli(['once', '-c', project.config], { env: { NODE_OPTIONS: `--import=${hook}` }, snapshot: false });
    expect(fileOnly.code, fileOnly.stderr).toBe(0);
    expect(await readFile(trace, 'utf8')).toBe('');
    // The same hook sees it when a gcp_secret_manager block is configured.
    gcp.addVersion('lazy', 'gcp-lazy-5c5c');
    await writeConfig(config(template('{{secret "g:lazy"}}', 'lazy')));
    const withGcp = await runCli(['once', '-c', project.config], { env: { ...metadataEnv(project.root), NODE_OPTIONS: `--import=${hook}` }, snapshot: false });
    expect(withGcp.code, withGcp.stderr).toBe(0);
    expect(await readFile(trace, 'utf8')).toContain('@google-cloud/secret-manager');
    expectNoSecrets(fileOnly.stderr + withGcp.stderr, ['file-value-4b4b', 'gcp-lazy-5c5c', ...gcp.credentials]);
  });
});
