import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canary } from '../support/canary.js';
import { runCli } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../support/keyvault-emulator.js';
import { expectNoSecrets } from '../support/leaks.js';
import { pointerProject } from '../support/pointer-project.js';
import type { Project } from '../support/project.js';

/*
 * Issue 21 class 1 through Azure Key Vault: a secret name computed from a secret (a pointer in a file) is in the
 * URL of every request for it. Neither our debug line for each call nor the SDK's own log shows it.
 */
let kv: KeyVaultEmulator;
let project: Project | undefined;
const HIDDEN_NAME = canary('hidden-name');
const VALUE = canary('hidden-value');

beforeAll(async () => {
  kv = await startKeyVaultEmulator();
  kv.setSecret(HIDDEN_NAME, VALUE);
});
afterAll(async () => {
  await kv?.stop();
});
afterEach(async () => {
  await removeDir(project?.root);
  project = undefined;
});

describe('Azure Key Vault: a secret name known only to a secret', () => {
  it('is read, and never logged, even at debug level with the SDK logging', async () => {
    project = await pointerProject(`backend "azure_key_vault" "kv" {\n  vault_url = "${kv.vaultUrl}"\n}`, `kv:${HIDDEN_NAME}`);
    const result = await runCli(['once', '-c', project.config, '--log-level', 'debug'], {
      env: { NODE_EXTRA_CA_CERTS: kv.caCert, ...kv.identityEnv, AZURE_LOG_LEVEL: 'info' },
    });
    expect(result.code, result.stderr.slice(-1500)).toBe(0);
    expect(result.stderr).toContain('"msg":"azure call"');
    expect(result.stderr).toContain('"msg":"azure sdk"');
    expect(result.stderr).toContain('/secrets/[derived from a secret]');
    expectNoSecrets(result.stderr + result.stdout, [HIDDEN_NAME, VALUE, ...kv.tokens]);
  });
});
