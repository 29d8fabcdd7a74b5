import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canary } from '../support/canary.js';
import { runCli } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { startOpenBao, type OpenBao } from '../support/openbao.js';
import { pointerProject } from '../support/pointer-project.js';
import type { Project } from '../support/project.js';

/*
 * Issue 21 class 1 through Vault: a path computed from a secret (a pointer in a file) names a mount only the secret
 * knows. The mount Vault reports for it is part of that path: no log line shows it, at any level.
 */
let bao: OpenBao;
let project: Project | undefined;
const HIDDEN_MOUNT = canary('hidden-mount');
const VALUE = canary('value-under-hidden-mount');

beforeAll(async () => {
  bao = await startOpenBao();
  await bao.api('POST', `sys/mounts/${HIDDEN_MOUNT}`, { type: 'kv', options: { version: '2' } });
  await bao.api('POST', `${HIDDEN_MOUNT}/data/app`, { data: { pw: VALUE } });
}, 30_000);
afterAll(async () => {
  await bao?.stop();
});
afterEach(async () => {
  await removeDir(project?.root);
  project = undefined;
});

describe('Vault: a mount named only by a secret', () => {
  it('is read, and never logged, even at debug level', async () => {
    project = await pointerProject(`backend "vault" "main" {\n  address = "${bao.address}"\n}`, `main:${HIDDEN_MOUNT}/app#pw`);
    const result = await runCli(['once', '-c', project.config, '--log-level', 'debug'], { env: { VAULT_TOKEN: bao.rootToken } });
    expect(result.code, result.stderr.slice(-1500)).toBe(0);
    expect(result.stderr).toContain('"msg":"vault mount"');
    expectNoSecrets(result.stderr + result.stdout, [HIDDEN_MOUNT, VALUE]);
  });
});
