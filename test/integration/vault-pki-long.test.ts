import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';

// From issue 21: a certificate valid 100 days has its re-issue planned 66 days out, past Node's 24.8-day timer
// limit; before the timer fix that fired at once, and a 10-second `run` issued about 200 certificates.

let bao: OpenBao;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  bao = await startOpenBao();
  await bao.api('POST', 'sys/mounts/pki', { type: 'pki', config: { max_lease_ttl: '87600h' } });
  await bao.api('POST', 'pki/root/generate/internal', { common_name: 'secrets-sidecar long-ttl root', ttl: '87600h' });
  await bao.api('POST', 'pki/roles/long', { allowed_domains: ['internal'], allow_subdomains: true, max_ttl: '2400h' });
});
afterAll(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  await bao?.stop();
});

describe('a PKI certificate valid 100 days (ttl = "2400h") against a real OpenBao', () => {
  it('is issued once in a 10-second run, counted in OpenBao’s audit log', async () => {
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
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    const rendered = await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const cert = new X509Certificate(readFileSync(join(project.out, 'cert.pem')));
    const days = (Date.parse(cert.validTo) - Date.parse(String(rendered.time))) / 86_400_000;
    expect(days).toBeGreaterThan(99);
    // The point is what does not happen: watch for 10 s.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const issued = (await bao.auditedRequests()).filter((r) => r.path === 'pki/issue/long').length;
    console.log(`ttl 2400h, 10 s of run: ${issued} issuance(s)`);
    expect(issued).toBe(1);
    expect((await daemon.stop()).code).toBe(0);
    expectNoSecrets(daemon.stderr, [bao.rootToken]);
  }, 30_000);
});
