import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, type LogRecord } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startOpenBao, type OpenBao } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';
import { startToxiproxy, type Toxiproxy } from '../support/toxiproxy.js';

let bao: OpenBao;
let proxy: Toxiproxy;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  bao = await startOpenBao();
  proxy = await startToxiproxy(bao.address.replace('http://', ''));
});
afterAll(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  await proxy?.stop();
  await bao?.stop();
});

const fetchAudit = (outcome: string) => (r: LogRecord) =>
  (r['audit'] as { event?: string; outcome?: string } | undefined)?.event === 'secret.fetch' && (r['audit'] as { outcome: string }).outcome === outcome;

describe('vault backend through a 20-second outage (toxiproxy on loopback)', () => {
  it('keeps the last good file while OpenBao is unreachable, and recovers within one backoff step', async () => {
    await bao.api('POST', 'secret/data/outage', { data: { password: 'bao-outage-v1-9a9a' } });
    project = await makeProject({
      config: `
backend "vault" "main" {
  address = "http://${proxy.listen}"
  static_refresh_interval = "500ms"
  request_timeout = "2s"
}
retry {
  backoff     = "200ms"
  max_backoff = "2s"
}
template {
  contents    = "{{secret \\"main:secret/outage#password\\"}}"
  destination = "@OUT@/pw"
}
`,
    });
    const file = join(project.out, 'pw');
    daemon = new Daemon(['-c', project.config], { env: { VAULT_TOKEN: bao.rootToken } });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    const good = { text: readFileSync(file, 'utf8'), inode: statSync(file).ino };

    await proxy.setEnabled(false);
    const cutMark = daemon.mark;
    await daemon.waitFor(fetchAudit('error'), cutMark);
    // The secret changes during the outage; the sidecar cannot see it, and must not touch the file meanwhile.
    await bao.api('POST', 'secret/data/outage', { data: { password: 'bao-outage-v2-8b8b' } });
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    expect(readFileSync(file, 'utf8')).toBe(good.text);
    expect(statSync(file).ino).toBe(good.inode);
    const failures = daemon.count(fetchAudit('error'), cutMark);
    expect(failures).toBeGreaterThan(3);
    // Backoff capped at max_backoff: at most one try per 2 s plus jitter's spread, not a tight loop.

    expect(failures).toBeLessThan(40);

    await proxy.setEnabled(true);
    const restoreMark = daemon.mark;
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', restoreMark);
    expect(readFileSync(file, 'utf8')).toBe('bao-outage-v2-8b8b');
    // Within one backoff step: at most the one attempt already under way failed after the restore.
    expect(daemon.count(fetchAudit('error'), restoreMark)).toBeLessThanOrEqual(1);
    expectNoSecrets(daemon.stderr, ['bao-outage-v1-9a9a', 'bao-outage-v2-8b8b', bao.rootToken]);
  }, 60_000);
});
