import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  assertNoLeaks,
  canary,
  counts,
  findLeaks,
  recordAuditFile,
  recordShown,
  registerSecrets,
  registerSidecarCredentials,
  resetCanary,
} from '../support/canary.js';

describe('the suite-wide leak canary', () => {
  it('fails loudly, naming where, when a test lets a canary out (and never prints the value)', () => {
    const value = canary('self-test');
    registerSecrets(['short', 'longer-registered-secret']);
    recordShown('a deliberate log line', `{"msg":"oops","token":"${value}"}`);
    recordShown('a clean page', 'nothing to see');
    expect(counts()).toEqual({ secrets: 2, records: 2 });
    let message = '';
    try {
      assertNoLeaks('self-test');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('LEAK CANARY (self-test): 1 secret value(s) found');
    expect(message).toContain(`a ${value.length}-character secret in a deliberate log line`);
    expect(message).not.toContain(value);
    // The check starts afresh, so this file's own afterAll check passes.
    expect(counts()).toEqual({ secrets: 0, records: 0 });
  });

  it('passes when every record is clean', () => {
    canary('clean');
    recordShown('a log', 'all good');
    expect(() => assertNoLeaks('clean')).not.toThrow();
    resetCanary();
  });

  it("registers the sidecar's own credentials, the refresh_token_env variable included, and reads audit files", async () => {
    resetCanary();
    const env = { VAULT_TOKEN: 'hvs.vault-token-value', AWS_SECRET_ACCESS_KEY: 'aws-secret-key-value', SIDECAR_REFRESH: 'refresh-token-value', HOME: '/root' };
    registerSidecarCredentials(env, 'listener {\n  refresh_token_env = "SIDECAR_REFRESH"\n}\n');
    expect(counts().secrets).toBe(3);
    recordShown("the supervised child's environment", 'HOME=/root\nSIDECAR_REFRESH=refresh-token-value');
    const dir = await mkdtemp(join(tmpdir(), 'canary-'));
    await writeFile(join(dir, 'audit.jsonl'), '{"path":"db?token=aws-secret-key-value"}\n');
    recordAuditFile(`audit {\n  path = "${join(dir, 'audit.jsonl')}"\n}\n`);
    await rm(dir, { recursive: true });
    expect(findLeaks().map((l) => l.where)).toEqual(["the supervised child's environment", `the audit file ${join(dir, 'audit.jsonl')}`]);
    resetCanary();
  });
});
