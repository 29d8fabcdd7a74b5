import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canary } from '../support/canary.js';
import { Daemon } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';

/*
 * Issue 21, class 1, against a real OpenBao: a certificate whose common_name comes from another secret is issued
 * once, never first with an empty common_name, and its audit records and logs show the argument's label only.
 */
let bao: OpenBao;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  bao = await startOpenBao();
  await bao.api('POST', 'sys/mounts/pki', { type: 'pki', config: { max_lease_ttl: '87600h' } });
  await bao.api('POST', 'pki/root/generate/internal', { common_name: 'secrets-sidecar test root', ttl: '87600h' });
  await bao.api('POST', 'pki/roles/web', { allowed_domains: ['internal'], allow_subdomains: true, max_ttl: '72h' });
});
afterAll(async () => {
  await bao.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

describe('an argument computed from a secret, against OpenBao', () => {
  it('issues once, with the value, and shows only [derived from local:cn] in audit records and logs', async () => {
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
    const paths = daemon.records.map((r) => (r['audit'] as { backend?: string; path?: string } | undefined)).filter((a) => a?.backend === 'main').map((a) => a?.path);
    expect(paths).toContain('pki/issue/web?common_name=[derived from local:cn]&ttl=1h');
    await daemon.stop();
    expectNoSecrets(daemon.stderr, [cn, cn.split('.')[0] ?? cn]);
  });
});
