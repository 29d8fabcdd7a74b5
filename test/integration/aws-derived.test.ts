import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canary } from '../support/canary.js';
import { runCli } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { expectNoSecrets } from '../support/leaks.js';
import { AWS_TEST_ENV, startMoto, type Moto } from '../support/moto.js';
import { makeProject, type Project } from '../support/project.js';

/*
 * Issue 21 class 1 through AWS: a secret id computed from a secret (a pointer in a file) is read in the same batch
 * as a literal one (the literal is asked for only once the pointer is known, so both go in one batch). Whatever the AWS path says about the batch or a call in flight (a refusal, a stall that
 * `once --timeout` cuts short) names the derived id by its `[derived from …]` label, never as text, in the
 * literal secret's messages too.
 */
let moto: Moto;
let faults: FaultProxy;
let project: Project | undefined;

beforeAll(async () => {
  moto = await startMoto();
  faults = await startFaultProxy(moto.endpoint);
});
afterAll(async () => {
  await faults?.stop();
  await moto?.stop();
});
afterEach(async () => {
  faults.clear();
  await removeDir(project?.root);
  project = undefined;
});

async function derivedProject(): Promise<{ project: Project; hidden: string }> {
  const hidden = canary('aws-derived-id');
  const made = await makeProject({
    config: `
backend "file" "local" {
  path = "@ROOT@/secrets.json"
}
backend "aws_secrets_manager" "prod" {
  endpoint = "${faults.address}"
  request_timeout = "30s"
}
retry {
  backoff     = "100ms"
  max_backoff = "200ms"
  attempts    = 2
}
template {
  contents    = "{{#if (secret \\"local:pointer\\")}}{{secret (secret \\"local:pointer\\")}}{{secret \\"prod:app/literal\\"}}{{/if}}"
  destination = "@OUT@/out"
}
`,
    secrets: { pointer: `prod:${hidden}` },
  });
  return { project: made, hidden };
}

describe('AWS: a secret id derived from a secret never shows as text', () => {
  it("a batch AWS refuses as a whole names no derived id in any secret's errors", async () => {
    const made = await derivedProject();
    project = made.project;
    faults.inject({ path: '/', method: 'POST', action: { kind: 'answer', status: 400, body: { __type: 'AccessDeniedException', message: 'denied' } } });
    const result = await runCli(['once', '-c', project.config, '--timeout', '20s'], { env: AWS_TEST_ENV });
    expect(result.code, result.stderr.slice(-1500)).not.toBe(0);
    // The literal secret's error names the batch, with the derived id by its label.
    const literalErrors = result.stderr.split('\n').filter((line) => line.includes('"ref":"prod:app/literal"'));
    expect(literalErrors.join('\n'), result.stderr.slice(-1500)).toContain('[derived from local:pointer]');
    expectNoSecrets(result.stderr + result.stdout, [made.hidden]);
  });

  it("a call in flight that once --timeout abandons is logged by the derived id's label", async () => {
    const made = await derivedProject();
    project = made.project;
    faults.stall('/');
    const result = await runCli(['once', '-c', project.config, '--timeout', '3s'], { env: AWS_TEST_ENV });
    expect(result.code, result.stderr.slice(-1500)).toBe(6);
    const abandoned = result.stderr.split('\n').filter((line) => line.includes('request in flight abandoned'));
    expect(abandoned.join('\n'), result.stderr.slice(-1500)).toContain('a batch of 2 secrets');
    expect(abandoned.join('\n')).toContain('[derived from local:pointer]');
    expectNoSecrets(result.stderr + result.stdout, [made.hidden]);
  });
});

describe('AWS: what a hostile answer names is quoted within bounds', () => {
  it('an exception name of 100 000 characters is not copied into every log line', async () => {
    project = await makeProject({
      config: `backend "aws_secrets_manager" "prod" {\n  endpoint = "${faults.address}"\n}\nretry {\n  backoff = "100ms"\n  attempts = 1\n}\ntemplate {\n  contents = "{{secret \\"prod:app/x\\"}}"\n  destination = "@OUT@/x"\n}\n`,
    });
    faults.inject({ path: '/', method: 'POST', action: { kind: 'answer', status: 500, body: { __type: `Weird${'W'.repeat(100_000)}`, message: 'm' } } });
    const result = await runCli(['once', '-c', project.config, '--timeout', '10s'], { env: AWS_TEST_ENV });
    expect(result.code, result.stderr.slice(-1500)).not.toBe(0);
    const lines = result.stderr.split('\n').filter((line) => line.includes('WeirdWWW'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.length).toBeLessThan(2_000);
  });
});
