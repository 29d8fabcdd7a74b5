import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, runCli } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startOpenBao, type OpenBao, type OpenBaoTls } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';

let bao: OpenBao;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  bao = await startOpenBao();
  await bao.api('POST', 'sys/mounts/kv1', { type: 'kv', options: { version: '1' } });
});
afterAll(async () => {
  await bao.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

/** A token limited to reading these paths, as a real deployment would give the sidecar. */
async function readToken(paths: string[]): Promise<string> {
  const name = `read-${Math.random().toString(36).slice(2)}`;
  const policy = paths.map((p) => `path "${p}" {\n  capabilities = ["read"]\n}\n`).join('');
  await bao.api('PUT', `sys/policies/acl/${name}`, { policy });
  const created = await bao.api('POST', 'auth/token/create', { policies: [name], ttl: '1h' });
  return (created?.['auth'] as { client_token: string }).client_token;
}

function vaultConfig(templates: string, backendExtra = ''): string {
  return `
backend "vault" "main" {
  address = "${bao.address}"
  ${backendExtra}
}
${templates}
`;
}

describe('vault backend against a real OpenBao (KV)', () => {
  it('renders KV v2 and KV v1 secrets with one mount lookup per mount and one read per secret', async () => {
    await bao.api('POST', 'secret/data/app/db', { data: { username: 'app', password: 'bao-kv2-pw-7d1e' } });
    await bao.api('POST', 'secret/data/app/api', { data: { key: 'bao-kv2-key-2b9f' } });
    await bao.api('POST', 'kv1/legacy', { token: 'bao-kv1-tok-41aa' });
    const token = await readToken(['secret/data/app/*', 'kv1/*']);
    project = await makeProject({
      config: vaultConfig(`
template {
  contents    = "user={{secret \\"main:secret/app/db#username\\"}}\\npass={{secret \\"main:secret/app/db#password\\"}}\\nkey={{secret \\"main:secret/app/api#key\\"}}\\n"
  destination = "@OUT@/app.env"
}
template {
  contents    = "legacy={{secret \\"main:kv1/legacy#token\\"}}\\nagain={{secret \\"main:secret/app/db#password\\"}}\\n"
  destination = "@OUT@/legacy.env"
}
`),
    });
    const before = (await bao.auditedRequests()).length;
    const result = await runCli(['once', '-c', project.config], { env: { VAULT_TOKEN: token } });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'app.env'), 'utf8')).toBe('user=app\npass=bao-kv2-pw-7d1e\nkey=bao-kv2-key-2b9f\n');
    expect(readFileSync(join(project.out, 'legacy.env'), 'utf8')).toBe('legacy=bao-kv1-tok-41aa\nagain=bao-kv2-pw-7d1e\n');
    const requests = (await bao.auditedRequests()).slice(before);
    expect(requests.filter((r) => r.path.startsWith('sys/internal/ui/mounts/'))).toHaveLength(2);
    expect(
      requests
        .filter((r) => !r.path.startsWith('sys/'))
        .map((r) => r.path)
        .sort(),
    ).toEqual(['kv1/legacy', 'secret/data/app/api', 'secret/data/app/db']);
    expect(requests).toHaveLength(5);
    expectNoSecrets(result.stderr, ['bao-kv2-pw-7d1e', 'bao-kv2-key-2b9f', 'bao-kv1-tok-41aa', token]);
  });

  it('re-renders when a new KV v2 version is written, and reads a pinned version with ?version=', async () => {
    await bao.api('POST', 'secret/data/rotating', { data: { password: 'bao-rot-v1-aa11' } });
    project = await makeProject({
      config: vaultConfig(
        `
template {
  contents    = "current={{secret \\"main:secret/rotating#password\\"}}\\nfirst={{secret \\"main:secret/rotating?version=1#password\\"}}\\n"
  destination = "@OUT@/rot.env"
}
`,
        'static_refresh_interval = "300ms"',
      ),
    });
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(readFileSync(join(project.out, 'rot.env'), 'utf8')).toBe('current=bao-rot-v1-aa11\nfirst=bao-rot-v1-aa11\n');
    const mark = daemon.mark;
    await bao.api('POST', 'secret/data/rotating', { data: { password: 'bao-rot-v2-bb22' } });
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark);
    expect(readFileSync(join(project.out, 'rot.env'), 'utf8')).toBe('current=bao-rot-v2-bb22\nfirst=bao-rot-v1-aa11\n');
    // Polls that find the same version re-render nothing.
    expect(daemon.count((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark)).toBe(1);
    expectNoSecrets(daemon.stderr, ['bao-rot-v1-aa11', 'bao-rot-v2-bb22', bao.rootToken]);
  });

  it('fails once with exit 3 naming the reference when the secret is missing or the token may not read it', async () => {
    await bao.api('POST', 'secret/data/forbidden', { data: { password: 'bao-forbidden-cc33' } });
    const token = await readToken(['secret/data/allowed']);
    project = await makeProject({
      config: vaultConfig(`template {\n  contents = "{{secret \\"main:secret/forbidden#password\\"}}"\n  destination = "@OUT@/x"\n}\n`),
    });
    const denied = await runCli(['once', '-c', project.config], { env: { VAULT_TOKEN: token } });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toContain('secret \\"main:secret/forbidden#password\\": backend \\"main\\": secret/forbidden: permission denied (403)');

    await project.write(
      'sidecar.hcl',
      vaultConfig(`template {\n  contents = "{{secret \\"main:secret/nothing-here#password\\"}}"\n  destination = "${project.out}/x"\n}\n`),
    );
    const missing = await runCli(['once', '-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('backend \\"main\\": secret/nothing-here: not found (404)');
    expectNoSecrets(denied.stderr + missing.stderr, ['bao-forbidden-cc33', token, bao.rootToken]);
  });

  it('reads the token from a file, and picks up a new token written there', async () => {
    await bao.api('POST', 'secret/data/filetoken', { data: { value: 'bao-file-tok-dd44' } });
    const first = await readToken(['secret/data/filetoken']);
    project = await makeProject({ config: '' });
    const tokenFile = join(project.root, 'token');
    await writeFile(tokenFile, `${first}\n`);
    await project.write(
      'sidecar.hcl',
      vaultConfig(
        `template {\n  contents = "{{secret \\"main:secret/filetoken#value\\"}}"\n  destination = "${project.out}/v"\n}\n`,
        `auth "token" {\n    token_file = "${tokenFile}"\n  }`,
      ),
    );
    expect((await runCli(['once', '-c', project.config])).code).toBe(0);
    // The first token is revoked and replaced in the file (as another agent would): the next run uses the new one.
    await bao.api('POST', 'auth/token/revoke', { token: first });
    const second = await readToken(['secret/data/filetoken']);
    await writeFile(tokenFile, `${second}\n`);
    const again = await runCli(['once', '-c', project.config]);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'v'), 'utf8')).toBe('bao-file-tok-dd44');
    expectNoSecrets(again.stderr, ['bao-file-tok-dd44', first, second]);
  });

  it('prints no request or response with DEBUG=* (no debug channel carries a value)', async () => {
    await bao.api('POST', 'secret/data/debugged', { data: { value: 'bao-debug-ee55' } });
    project = await makeProject({
      config: vaultConfig(`template {\n  contents = "{{secret \\"main:secret/debugged#value\\"}}"\n  destination = "@OUT@/d"\n}\n`),
    });
    const result = await runCli(['once', '-c', project.config], { env: { VAULT_TOKEN: bao.rootToken, DEBUG: '*' } });
    expect(result.code).toBe(0);
    expectNoSecrets(result.stderr + result.stdout, ['bao-debug-ee55', bao.rootToken]);
    expect(result.stderr).not.toContain('node-vault');
  });
});

describe('vault backend over TLS and mutual TLS against a real OpenBao', () => {
  let tlsBao: OpenBao;
  let tls: OpenBaoTls;
  beforeAll(async () => {
    tlsBao = await startOpenBao({ tls: true });
    tls = tlsBao.tls as OpenBaoTls;
    await tlsBao.api('POST', 'secret/data/tls', { data: { password: 'bao-tls-pw-5c5c' } });
  });
  afterAll(async () => {
    await tlsBao.stop();
  });

  const tlsProject = (address: string, backendExtra: string) =>
    makeProject({
      config: `backend "vault" "main" {\n  address = "${address}"\n  ${backendExtra}\n}\ntemplate {\n  contents = "{{secret \\"main:secret/tls#password\\"}}"\n  destination = "@OUT@/pw"\n}\n`,
    });
  const once = async (env: Record<string, string> = {}) =>
    runCli(['once', '-c', (project as Project).config], { env: { VAULT_TOKEN: tlsBao.rootToken, ...env } });

  it('verifies the server against ca_cert or VAULT_CACERT, and the name in tls_server_name', async () => {
    project = await tlsProject(tls.address, `ca_cert = "${tls.caCert}"`);
    const withCa = await once();
    expect(withCa.code, withCa.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('bao-tls-pw-5c5c');

    await removeDir(project.root);
    project = await tlsProject(tls.address, 'tls_server_name = "localhost"');
    const fromEnv = await once({ VAULT_CACERT: tls.caCert });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expectNoSecrets(withCa.stderr + fromEnv.stderr, ['bao-tls-pw-5c5c', tlsBao.rootToken]);
  });

  it('presents client_cert and client_key (or VAULT_CLIENT_CERT/KEY) to a listener that requires them', async () => {
    project = await tlsProject(tls.mutualAddress, `ca_cert = "${tls.caCert}"`);
    const without = await once();
    expect(without.code).toBe(3);
    expect(without.stderr).toContain('the server refused the client certificate');
    const fromEnv = await once({ VAULT_CLIENT_CERT: tls.clientCert, VAULT_CLIENT_KEY: tls.clientKey });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);

    await removeDir(project.root);
    project = await tlsProject(tls.mutualAddress, `ca_cert = "${tls.caCert}"\n  client_cert = "${tls.clientCert}"\n  client_key = "${tls.clientKey}"`);
    const withCert = await once();
    expect(withCert.code, withCert.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('bao-tls-pw-5c5c');
    expectNoSecrets(without.stderr + fromEnv.stderr + withCert.stderr, [
      'bao-tls-pw-5c5c',
      tlsBao.rootToken,
      readFileSync(tls.clientKey, 'utf8').split('\n')[1] ?? '',
    ]);
  });

  it('fails at once, without retrying, when the certificate cannot be verified (unknown CA, wrong name)', async () => {
    project = await tlsProject(tls.address, '');
    const unknownCa = await once();
    expect(unknownCa.code).toBe(3);
    expect(unknownCa.stderr).toContain('SIDECAR_ERR_BACKEND_TLS');
    expect(unknownCa.stderr).toContain("the server's certificate cannot be verified");
    expect(unknownCa.stderr).not.toContain('retrying with backoff');

    await removeDir(project.root);
    project = await tlsProject(tls.address, `ca_cert = "${tls.caCert}"\n  tls_server_name = "vault.wrong.example"`);
    const wrongName = await once();
    expect(wrongName.code).toBe(3);
    expect(wrongName.stderr).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(wrongName.stderr).toContain('set tls_server_name');
    expectNoSecrets(unknownCa.stderr + wrongName.stderr, ['bao-tls-pw-5c5c', tlsBao.rootToken]);
  });
});
