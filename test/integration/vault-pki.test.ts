import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canary } from '../support/canary.js';
import { Daemon } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';

let bao: OpenBao;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  bao = await startOpenBao();
  await bao.api('POST', 'sys/mounts/pki', { type: 'pki', config: { max_lease_ttl: '87600h' } });
  await bao.api('POST', 'pki/root/generate/internal', { common_name: 'secrets-sidecar test root', ttl: '87600h' });
  await bao.api('POST', 'pki/roles/web', { allowed_domains: ['internal'], allow_subdomains: true, max_ttl: '72h' });
  await bao.api('POST', 'pki/roles/long', { allowed_domains: ['internal'], allow_subdomains: true, max_ttl: '2400h' });
});
afterAll(async () => {
  await bao.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

describe('vault PKI against a real OpenBao', () => {
  it('writes cert and key from one issuance, shared by both templates, and re-issues at two thirds of the validity', async () => {
    const issue = 'main:pki/issue/web\\" common_name=\\"app.internal\\" ttl=\\"6s';
    project = await makeProject({
      config: `
backend "vault" "main" {
  address = "${bao.address}"
}
template {
  contents    = "{{#with (secret \\"${issue}\\")}}{{certificate}}\\n{{/with}}"
  destination = "@OUT@/cert.pem"
}
template {
  contents    = "{{#with (secret \\"${issue}\\")}}{{private_key}}\\n{{/with}}"
  destination = "@OUT@/key.pem"
}
`,
    });
    const read = () => ({
      cert: new X509Certificate(readFileSync(join(project?.out ?? '', 'cert.pem'))),
      key: readFileSync(join(project?.out ?? '', 'key.pem'), 'utf8'),
    });
    const before = (await bao.auditedRequests()).length;
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    const rendered = await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const first = read();
    expect(first.cert.subject).toBe('CN=app.internal');
    expect(first.cert.checkPrivateKey(createPrivateKey(first.key))).toBe(true);
    expect((await bao.auditedRequests()).slice(before).filter((r) => r.path === 'pki/issue/web')).toHaveLength(1);

    // Two thirds of 6 s (less jitter) later: a new certificate and key, again a matching pair.
    const mark = daemon.mark;
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written' && String(r['destination']).endsWith('key.pem'), mark);
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written' && String(r['destination']).endsWith('cert.pem'), mark);
    const second = read();
    expect(second.cert.serialNumber).not.toBe(first.cert.serialNumber);
    expect(second.cert.checkPrivateKey(createPrivateKey(second.key))).toBe(true);
    const renewedAt = Date.parse(String(daemon.records[mark]?.time ?? rendered.time));
    expect(renewedAt).toBeLessThan(Date.parse(first.cert.validTo));
    expectNoSecrets(daemon.stderr, [first.key.split('\n')[1] ?? 'x', second.key.split('\n')[1] ?? 'x', bao.rootToken]);
  });

  it('keeps the certificate through a SIGHUP reload when the backend is unchanged, and re-issues when it changed', async () => {
    const issue = 'main:pki/issue/web\\" common_name=\\"reload.internal\\" ttl=\\"1h';
    const config = (timeout: string, suffix: string) => `
backend "vault" "main" {
  address = "${bao.address}"
  request_timeout = "${timeout}"
}
template {
  contents    = "{{#with (secret \\"${issue}\\")}}{{certificate}}\\n{{/with}}${suffix}"
  destination = "@OUT@/cert.pem"
}
`;
    project = await makeProject({ config: config('30s', '') });
    const issued = async () => (await bao.auditedRequests()).filter((r) => r.path === 'pki/issue/web').length;
    const serial = () => new X509Certificate(readFileSync(join(project?.out ?? '', 'cert.pem'))).serialNumber;
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const first = { issued: await issued(), serial: serial() };

    /** Rewrites the config, sends SIGHUP, and waits for the reload and the render it causes. */
    const reloadWith = async (text: string, d: Daemon, p: Project) => {
      const mark = d.mark;
      await p.write('sidecar.hcl', text.replaceAll('@OUT@', p.out));
      d.signal('SIGHUP');
      const reloaded = await d.waitFor((r) => r.msg === 'configuration reloaded', mark);
      await d.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark);
      return reloaded;
    };

    // The template changes, the backend does not: the same certificate is rendered again, nothing is issued.
    expect((await reloadWith(config('30s', '# reloaded\\n'), daemon, project))['reusedBackends']).toBe(1);
    expect(readFileSync(join(project.out, 'cert.pem'), 'utf8')).toContain('# reloaded');
    expect({ issued: await issued(), serial: serial() }).toEqual(first);

    // The backend's config changes: it is rebuilt, and so is the certificate.
    expect((await reloadWith(config('20s', '# reloaded\\n'), daemon, project))['reusedBackends']).toBe(0);
    expect(await issued()).toBe(first.issued + 1);
    expect(serial()).not.toBe(first.serial);
  });

  it('reuses a still-valid certificate after a restart instead of issuing a new one (cache_dir on tmpfs)', async () => {
    const issue = 'main:pki/issue/web\\" common_name=\\"restart.internal\\" ttl=\\"1h';
    project = await makeProject({
      config: `
backend "vault" "main" {
  address   = "${bao.address}"
  cache_dir = "@ROOT@/issuance-cache"
}
template {
  contents    = "{{#with (secret \\"${issue}\\")}}{{certificate}}\\n{{private_key}}\\n{{/with}}"
  destination = "@OUT@/tls.pem"
}
`,
    });
    const issued = async () => (await bao.auditedRequests()).filter((r) => r.path === 'pki/issue/web').length;
    const pem = () => readFileSync(join(project?.out ?? '', 'tls.pem'), 'utf8');
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const first = { issued: await issued(), pem: pem() };
    expect((await daemon.stop()).code).toBe(0);
    const cacheFiles = readdirSync(join(project.root, 'issuance-cache'));
    expect(cacheFiles).toHaveLength(1);
    expect(statSync(join(project.root, 'issuance-cache', cacheFiles[0] ?? '')).mode & 0o777).toBe(0o600);

    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(daemon.records.some((r) => r.msg === 'reusing a cached issuance that is still good')).toBe(true);
    expect(await issued()).toBe(first.issued);
    expect(pem()).toBe(first.pem);
    const key = first.pem.split('\n').find((line) => line.length > 40 && !line.startsWith('-----')) ?? 'no key line';
    expectNoSecrets(daemon.stderr, [key, bao.rootToken]);
  });

  // Issue 21, class 1: a common_name computed from another secret.
  it('issues once with a common_name computed from a secret, never first with it empty, and audits only its label', async () => {
    const cn = `${canary('cn')}.internal`;
    project = await makeProject({
      config: `
backend "file" "local" {
  path = "@ROOT@/secrets.json"
}
backend "vault" "main" {
  address = "${bao.address}"
}
template {
  contents    = "{{#with (secret \\"main:pki/issue/web\\" common_name=(trim (secret \\"local:cn\\")) ttl=\\"1h\\")}}{{certificate}}{{/with}}"
  destination = "@OUT@/cert.pem"
}
`,
      secrets: { cn: ` ${cn} ` },
    });
    const before = (await bao.auditedRequests()).length;
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(new X509Certificate(readFileSync(join(project.out, 'cert.pem'))).subject).toBe(`CN=${cn}`);
    // One issuance: no request went out before the common_name was known.
    expect((await bao.auditedRequests()).slice(before).filter((r) => r.path === 'pki/issue/web')).toHaveLength(1);
    const paths = daemon.records
      .map((r) => r['audit'] as { backend?: string; path?: string } | undefined)
      .filter((a) => a?.backend === 'main')
      .map((a) => a?.path);
    expect(paths).toContain('pki/issue/web?common_name=[derived from local:cn]&ttl=1h');
    await daemon.stop();
    expectNoSecrets(daemon.stderr, [cn, cn.split('.')[0] ?? cn]);
  });

  // From issue 21: a certificate valid 100 days has its re-issue planned 66 days out, past Node's 24.8-day timer
  // limit; before the timer fix that fired at once, and a 10-second `run` issued 164 certificates.
  it('issues a certificate valid 100 days (ttl = "2400h") once in a 10-second run, counted in OpenBao’s audit log', async () => {
    project = await makeProject({
      config: `
backend "vault" "main" {
  address = "${bao.address}"
}
template {
  contents    = "{{#with (secret \\"main:pki/issue/long\\" common_name=\\"app.internal\\" ttl=\\"2400h\\")}}{{certificate}}{{/with}}"
  destination = "@OUT@/cert.pem"
}
`,
    });
    const before = (await bao.auditedRequests()).length;
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    const rendered = await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const cert = new X509Certificate(readFileSync(join(project.out, 'cert.pem')));
    expect((Date.parse(cert.validTo) - Date.parse(String(rendered.time))) / 86_400_000).toBeGreaterThan(99);
    // The point is what does not happen: watch for 10 s.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const issued = (await bao.auditedRequests()).slice(before).filter((r) => r.path === 'pki/issue/long').length;
    console.log(`ttl 2400h, 10 s of run: ${issued} issuance(s)`);
    expect(issued).toBe(1);
    expect((await daemon.stop()).code).toBe(0);
    expectNoSecrets(daemon.stderr, [bao.rootToken]);
  }, 30_000);
});
