import { CreateSecretCommand, DescribeSecretCommand, PutSecretValueCommand, RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, runCli } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { AWS_TEST_ENV, awsCall, motoClientConfig, startMoto, type Moto } from '../support/moto.js';
import { makeProject, type Project } from '../support/project.js';

let moto: Moto;
let sm: SecretsManagerClient;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  moto = await startMoto();
  sm = new SecretsManagerClient(motoClientConfig(moto));
  await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: JSON.stringify({ username: 'app', password: 'aws-db-pw-v1-1c1c' }) }));
  await sm.send(new CreateSecretCommand({ Name: 'app/token', SecretString: 'aws-plain-token-2d2d' }));
  await sm.send(new CreateSecretCommand({ Name: 'app/keystore', SecretBinary: Buffer.from([0, 1, 2, 250, 251]) }));
});
afterAll(async () => {
  sm?.destroy();
  await moto?.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

function config(templates: string, extra = ''): string {
  return `
backend "aws_secrets_manager" "prod" {
  endpoint = "${moto.endpoint}"
  ${extra}
}
${templates}
`;
}

describe('AWS Secrets Manager backend against moto', () => {
  it('renders a JSON key, a whole object, a plain string, a binary as base64, and a previous stage', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'app/staged', SecretString: 'aws-staged-v1-3e3e' }));
    await sm.send(new PutSecretValueCommand({ SecretId: 'app/staged', SecretString: 'aws-staged-v2-4f4f' }));
    project = await makeProject({
      config: config(`
template {
  contents    = "pw={{secret \\"prod:app/db#password\\"}}\\nall={{json (secret \\"prod:app/db\\")}}\\ntoken={{secret \\"prod:app/token\\"}}\\nbin={{secret \\"prod:app/keystore\\"}}\\ncurrent={{secret \\"prod:app/staged\\"}}\\nprevious={{secret \\"prod:app/staged?stage=AWSPREVIOUS\\"}}\\n"
  destination = "@OUT@/aws.env"
}
`),
    });
    const result = await runCli(['once', '-c', project.config], { env: AWS_TEST_ENV });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'aws.env'), 'utf8')).toBe(
      [
        'pw=aws-db-pw-v1-1c1c',
        'all={"username":"app","password":"aws-db-pw-v1-1c1c"}',
        'token=aws-plain-token-2d2d',
        `bin=${Buffer.from([0, 1, 2, 250, 251]).toString('base64')}`,
        'current=aws-staged-v2-4f4f',
        'previous=aws-staged-v1-3e3e',
        '',
      ].join('\n'),
    );
    expectNoSecrets(result.stderr, [
      'aws-db-pw-v1-1c1c',
      'aws-plain-token-2d2d',
      'aws-staged-v1-3e3e',
      'aws-staged-v2-4f4f',
      AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY,
    ]);
  });

  it('checks an unchanged secret with DescribeSecret alone, and re-renders once after PutSecretValue', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'app/rotating', SecretString: JSON.stringify({ password: 'aws-rot-v1-5a5a' }) }));
    project = await makeProject({ config: '' });
    // The app's reloads, counted by a notify command that appends a line per call.
    const reloads = join(project.root, 'reloads.log');
    const hook = `notify "app" {\n  command = ${JSON.stringify([process.execPath, '-e', `require('fs').appendFileSync(${JSON.stringify(reloads)}, 'reload\\n')`])}\n}\n`;
    await project.write(
      'sidecar.hcl',
      config(
        `${hook}template {\n  contents = "{{secret \\"prod:app/rotating#password\\"}}"\n  destination = "${project.out}/pw"\n}\n`,
        'refresh_interval = "300ms"',
      ),
    );
    daemon = new Daemon(['-c', project.config, '--log-level', 'debug'], { env: AWS_TEST_ENV });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    // Several refreshes of an unchanged secret: DescribeSecret each time; the value was read once, in a batch.
    const start = daemon.mark;
    await daemon.waitFor(awsCall('DescribeSecretCommand'), start);
    await daemon.waitFor(awsCall('DescribeSecretCommand'), daemon.records.findIndex((r, i) => i >= start && awsCall('DescribeSecretCommand')(r)) + 1);
    expect(daemon.count(awsCall('BatchGetSecretValueCommand'))).toBe(1);
    expect(daemon.count(awsCall('GetSecretValueCommand'))).toBe(0);

    const mark = daemon.mark;
    await sm.send(new PutSecretValueCommand({ SecretId: 'app/rotating', SecretString: JSON.stringify({ password: 'aws-rot-v2-6b6b' }) }));
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('aws-rot-v2-6b6b');
    await daemon.waitFor((r) => r.msg === 'notified', mark);
    expect((await daemon.stop()).code).toBe(0);
    // One reload for the first render, one for the rotation.
    expect(readFileSync(reloads, 'utf8')).toBe('reload\nreload\n');
    expect(daemon.count((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark)).toBe(1);
    expect(daemon.count(awsCall('GetSecretValueCommand'))).toBe(1);
    expectNoSecrets(daemon.stderr, ['aws-rot-v1-5a5a', 'aws-rot-v2-6b6b', AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY]);
  });

  it('fails once with exit 3 naming the reference when the secret does not exist', async () => {
    project = await makeProject({ config: config(`template {\n  contents = "{{secret \\"prod:app/nope#x\\"}}"\n  destination = "@OUT@/x"\n}\n`) });
    const result = await runCli(['once', '-c', project.config], { env: AWS_TEST_ENV });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('secret \\"prod:app/nope#x\\": backend \\"prod\\": app/nope: not found (ResourceNotFoundException');
    expect(
      result.stderr
        .split('\n')
        .filter(Boolean)
        .every((line) => line.startsWith('{')),
    ).toBe(true);
    expectNoSecrets(result.stderr, [AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY]);
  });

  it('fetches 45 secrets first with 3 BatchGetSecretValue calls, and no GetSecretValue', async () => {
    await Promise.all(Array.from({ length: 45 }, (_, i) => sm.send(new CreateSecretCommand({ Name: `batch/s${i}`, SecretString: `aws-batch-${i}-7c7c` }))));
    const refs = Array.from({ length: 45 }, (_, i) => `{{secret \\"prod:batch/s${i}\\"}}`).join(',');
    project = await makeProject({ config: config(`template {\n  contents = "${refs}"\n  destination = "@OUT@/all"\n}\n`) });
    const result = await runCli(['once', '-c', project.config, '--log-level', 'debug'], { env: AWS_TEST_ENV });
    expect(result.code, result.stderr.slice(-1500)).toBe(0);
    expect(readFileSync(join(project.out, 'all'), 'utf8')).toBe(Array.from({ length: 45 }, (_, i) => `aws-batch-${i}-7c7c`).join(','));
    const operations = result.stderr
      .split('\n')
      .filter((l) => l.includes('"msg":"aws call"'))
      .map((l) => (JSON.parse(l) as { operation: string }).operation);
    expect(operations.filter((o) => o === 'BatchGetSecretValueCommand')).toHaveLength(3);
    expect(operations.filter((o) => o === 'GetSecretValueCommand')).toHaveLength(0);
    expectNoSecrets(result.stderr, ['aws-batch-0-7c7c', 'aws-batch-44-7c7c', AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY]);
  });

  it('reports a missing secret in a batch against its own reference only', async () => {
    project = await makeProject({
      config: config(
        `template {\n  contents = "{{secret \\"prod:app/token\\"}}"\n  destination = "@OUT@/ok"\n}\ntemplate {\n  contents = "{{secret \\"prod:batch/none#k\\"}}"\n  destination = "@OUT@/missing"\n}\n`,
      ),
    });
    const result = await runCli(['once', '-c', project.config], { env: AWS_TEST_ENV });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('secret \\"prod:batch/none#k\\": backend \\"prod\\": batch/none: not found');
    expect(result.stderr).not.toContain('secret \\"prod:app/token\\"');
  });
});

describe('AWS Secrets Manager rotation schedule against moto (its clock a day behind)', () => {
  let lateMoto: Moto;
  let lateSm: SecretsManagerClient;
  beforeAll(async () => {
    // moto schedules rotations whole days ahead; a clock a day and 10 s behind makes NextRotationDate 10 s ago.
    lateMoto = await startMoto({ clockOffsetSeconds: -(86_400 + 10) });
    lateSm = new SecretsManagerClient(motoClientConfig(lateMoto));
  });
  afterAll(async () => {
    lateSm?.destroy();
    await lateMoto?.stop();
  });

  it('checks again just after NextRotationDate, learned with the first batched read, long before refresh_interval', async () => {
    await lateSm.send(new CreateSecretCommand({ Name: 'app/scheduled', SecretString: 'aws-sched-v1-7c7c' }));
    await lateSm.send(new RotateSecretCommand({ SecretId: 'app/scheduled', RotationRules: { AutomaticallyAfterDays: 1 }, RotateImmediately: false }));
    const described = await lateSm.send(new DescribeSecretCommand({ SecretId: 'app/scheduled' }));
    const due = described.NextRotationDate?.getTime() ?? 0;
    expect(due).toBeLessThan(Date.now());
    expect(due).toBeGreaterThan(Date.now() - 60_000);

    project = await makeProject({
      config: `backend "aws_secrets_manager" "prod" {\n  endpoint = "${lateMoto.endpoint}"\n  refresh_interval = "1h"\n}\ntemplate {\n  contents = "{{secret \\"prod:app/scheduled\\"}}"\n  destination = "@OUT@/pw"\n}\n`,
    });
    daemon = new Daemon(['-c', project.config, '--log-level', 'debug'], { env: AWS_TEST_ENV });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(daemon.count(awsCall('ListSecretsCommand'))).toBe(1);
    // The rotation function's work, as moto runs none: a new AWSCURRENT version.
    const mark = daemon.mark;
    await lateSm.send(new PutSecretValueCommand({ SecretId: 'app/scheduled', SecretString: 'aws-sched-v2-8d8d' }));
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark);
    expect(readFileSync(join(project.out, 'pw'), 'utf8')).toBe('aws-sched-v2-8d8d');
    // With a one-hour interval, the only check so far is the one scheduled from NextRotationDate.
    expect(daemon.count(awsCall('DescribeSecretCommand'))).toBe(1);
    expect(daemon.count(awsCall('GetSecretValueCommand'))).toBe(1);
    expectNoSecrets(daemon.stderr, ['aws-sched-v1-7c7c', 'aws-sched-v2-8d8d', AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY]);
  });
});
